import { displayName, PgToolsError, type Queryable } from '@pgtools/core';
import { findIndex, loadColumns, loadIndexes, preconditionError, type IndexIdentity, type IndexShape, type TableInfo } from './catalog.js';
import type { IndexPair } from './types.js';

/** An index pair after resolution and checks. */
export interface ResolvedIndexPair {
  original: IndexShape;
  shadow: IndexShape;
}

/**
 * Catalog swap: the original's tuple descriptor will read the shadow's file, so every live column must sit at
 * the same attribute number with the same name, type, typmod and collation, and the shadow may not have
 * attributes beyond the original's last one.
 */
export async function checkColumnsByAttnum(client: Queryable, original: TableInfo, shadow: TableInfo): Promise<void> {
  // One query at a time on one client (pg queues them anyway; pg 9 will refuse it).
  const a = await loadColumns(client, original.oid);
  const b = await loadColumns(client, shadow.oid);
  const problems: string[] = [];
  const live = (cols: typeof a) => new Map(cols.filter((c) => !c.dropped).map((c) => [c.attnum, c]));
  const la = live(a);
  const lb = live(b);
  if (la.size !== lb.size) problems.push(`${la.size} live columns in the original, ${lb.size} in the shadow`);
  for (const [attnum, col] of la) {
    const other = lb.get(attnum);
    if (!other) {
      problems.push(`column ${JSON.stringify(col.name)} (attnum ${attnum}) has no live counterpart at the same attnum in the shadow`);
      continue;
    }
    if (other.name !== col.name)
      problems.push(`attnum ${attnum} is ${JSON.stringify(col.name)} in the original but ${JSON.stringify(other.name)} in the shadow`);
    if (other.typeOid !== col.typeOid || other.typmod !== col.typmod) {
      problems.push(`column ${JSON.stringify(col.name)} is ${col.type} in the original but ${other.type} in the shadow`);
    }
    if (other.collation !== col.collation) problems.push(`column ${JSON.stringify(col.name)} has a different collation in the shadow`);
  }
  for (const [attnum, col] of lb) {
    if (!la.has(attnum)) problems.push(`shadow column ${JSON.stringify(col.name)} (attnum ${attnum}) is not a live column of the original`);
  }
  const maxA = a.length === 0 ? 0 : a[a.length - 1]!.attnum;
  const maxB = b.length === 0 ? 0 : b[b.length - 1]!.attnum;
  if (maxB > maxA) problems.push(`the shadow has ${maxB} attributes, more than the original's ${maxA}`);
  if (problems.length > 0) {
    throw preconditionError(
      `cannot swap files of ${displayName(original.schema, original.name)} and ${displayName(shadow.schema, shadow.name)}: ` +
        `${problems.join('; ')}. The shadow must be created with the original's columns in attnum order, dropped columns as placeholders`,
    );
  }
}

/** An index named in an {@link IndexPair}, looked up; `missing` is the reason it was not found. */
export type IndexLookup = IndexIdentity | { missing: string };

/** Both tables' indexes and the caller's pairs, looked up: what {@link matchIndexPairs} decides from. */
export interface IndexPairFacts {
  original: IndexShape[];
  shadow: IndexShape[];
  pairs: Array<{ original: IndexLookup; shadow: IndexLookup }>;
}

/** Reads both tables' indexes and looks up every index the pairs name. */
export async function readIndexPairFacts(client: Queryable, original: TableInfo, shadow: TableInfo, pairs: readonly IndexPair[]): Promise<IndexPairFacts> {
  const origIndexes = await loadIndexes(client, original.oid);
  const shadowIndexes = await loadIndexes(client, shadow.oid);
  const looked: IndexPairFacts['pairs'] = [];
  for (const pair of pairs) {
    const o = await findIndex(client, pair.original);
    looked.push({ original: o, shadow: await findIndex(client, pair.shadow) });
  }
  return { original: origIndexes, shadow: shadowIndexes, pairs: looked };
}

/**
 * Checks that the pairs cover every index of both tables exactly once and that each copy is
 * structurally the same index (access method, columns, operator classes, collations, options,
 * expressions, predicate). With `retypedColumns` (an online schema change gave columns a new type),
 * operator classes and collations are not compared: the copy has the new type's defaults, from the
 * same definition. Pure: returns the resolved pairs or the `swap_precondition` error.
 */
export function matchIndexPairs(
  facts: IndexPairFacts,
  original: TableInfo,
  shadow: TableInfo,
  options: { retypedColumns?: boolean } = {},
): ResolvedIndexPair[] | PgToolsError {
  const shapeOf = (i: IndexShape): string => (options.retypedColumns ? withoutOperatorClasses(i.shape) : i.shape);
  const byOid = new Map<number, IndexShape>([...facts.original, ...facts.shadow].map((i) => [i.oid, i]));
  const problems: string[] = [];
  const seen = new Set<number>();
  const out: ResolvedIndexPair[] = [];
  const orig = displayName(original.schema, original.name);
  const shad = displayName(shadow.schema, shadow.name);
  for (const pair of facts.pairs) {
    const { original: o, shadow: s } = pair;
    // A missing index ends the check at once, as the lookup that failed always did.
    if ('missing' in o) return preconditionError(o.missing);
    if ('missing' in s) return preconditionError(s.missing);
    const oi = byOid.get(o.oid);
    const si = byOid.get(s.oid);
    const on = displayName(o.schema, o.name);
    const sn = displayName(s.schema, s.name);
    if (o.table !== original.oid || !oi) {
      problems.push(`index ${on} is not an index of ${orig}`);
      continue;
    }
    if (s.table !== shadow.oid || !si) {
      problems.push(`index ${sn} is not an index of ${shad}`);
      continue;
    }
    if (seen.has(o.oid) || seen.has(s.oid)) {
      problems.push(`index ${seen.has(o.oid) ? on : sn} appears in more than one pair`);
      continue;
    }
    seen.add(o.oid);
    seen.add(s.oid);
    if (!si.valid) problems.push(`shadow index ${sn} is not valid (its build failed or is unfinished)`);
    if (oi.unique !== si.unique) problems.push(`${on} is ${oi.unique ? '' : 'not '}unique but its copy ${sn} is ${si.unique ? '' : 'not '}unique`);
    else if (shapeOf(oi) !== shapeOf(si)) problems.push(`${sn} is not a copy of ${on}: ${oi.shape} versus ${si.shape}`);
    out.push({ original: oi, shadow: si });
  }
  for (const idx of facts.original) {
    if (!seen.has(idx.oid)) {
      problems.push(
        `index ${displayName(idx.schema, idx.name)} of ${orig} has no copy` + (idx.valid ? '' : ' (it is INVALID: drop it or REINDEX it before repacking)'),
      );
    }
  }
  for (const idx of facts.shadow) {
    if (!seen.has(idx.oid)) problems.push(`index ${displayName(idx.schema, idx.name)} of ${shad} is not paired with an index of ${orig}`);
  }
  if (problems.length > 0) return preconditionError(`index pairs do not match: ${problems.join('; ')}`);
  return out;
}

/**
 * Resolves the pairs and checks them ({@link readIndexPairFacts}, then {@link matchIndexPairs});
 * throws `swap_precondition` when they do not match.
 */
export async function resolveIndexPairs(client: Queryable, original: TableInfo, shadow: TableInfo, pairs: readonly IndexPair[]): Promise<ResolvedIndexPair[]> {
  const matched = matchIndexPairs(await readIndexPairFacts(client, original, shadow, pairs), original, shadow);
  if (matched instanceof PgToolsError) throw matched;
  return matched;
}

/** An index shape (see `loadIndexes`) with its operator classes and collations (fields 7 and 8, never NULL) blanked. */
function withoutOperatorClasses(shape: string): string {
  return shape
    .split(' | ')
    .map((f, i) => (i === 6 || i === 7 ? '' : f))
    .join(' | ');
}

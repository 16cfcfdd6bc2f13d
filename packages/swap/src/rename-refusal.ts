import { displayName, PgToolsError } from '@pgtools/core';
import { preconditionError } from './catalog.js';
import { matchIndexPairs, type ResolvedIndexPair } from './preconditions.js';
import { partitionBlockers, partitionBoundCheckName } from './rename-partition.js';
import type { CheckFacts, ColumnChanges, NotNullFacts, RenameFacts, RenameStepOptions, RenameTableFacts, StatObject } from './rename-facts.js';
import { recreatesViews, viewTreeBlockers } from './rename-views.js';

/**
 * Why the rename swap cannot move everything attached to the table (empty: it can). Pure. What keeps
 * a partition from being detached and attached again ({@link partitionBlockers}), a typed table,
 * inheritance in either direction (but a partition's own parent), extension membership, a subscription
 * replicating into it, and any dependent catalog row not recognised here as something the swap rebuilds make it refuse,
 * so nothing is silently left on the old OID. Rows of `ignoreRelations` (the caller's helper tables,
 * dropped before the swap) are left out. With retyped `columnChanges`, what keeps the views over the
 * table from being dropped and created again ({@link viewTreeBlockers}). A materialized view reading the table
 * is accepted with `keepMaterializedViews` (the caller rebuilds it after the commit).
 *
 * @example
 * ```ts
 * renameBlockers(facts.attached, { ignoreRelations: [logOid] }); // [] or ['the table is a partition', ...]
 * ```
 */
export function renameBlockers(
  t: RenameTableFacts,
  options: Pick<RenameStepOptions, 'ignoreRelations' | 'columnChanges' | 'partitionTree' | 'keepMaterializedViews'> = {},
): string[] {
  const blockers: string[] = [];
  // Views dropped and created again must be ours and nothing else may depend on them.
  if (recreatesViews(options.columnChanges)) blockers.push(...viewTreeBlockers(t.viewTree));
  const ignore = new Set(options.ignoreRelations ?? []);
  // A partition is swapped by detaching the old leaf and attaching the new one (rename-partition.ts).
  blockers.push(...partitionBlockers(t, options.partitionTree === true));
  if (t.table.ofType !== 0) blockers.push('the table is a typed table (CREATE TABLE ... OF type)');
  for (const i of t.inheritance) {
    if (i.role === 'child' && t.partition !== null) continue;
    blockers.push(i.role === 'child' ? `the table inherits from ${i.other}` : `table ${i.other} inherits from the table`);
  }
  for (const e of t.extensions) blockers.push(`the table belongs to ${e}`);
  for (const s of t.subscriptions) blockers.push(`the table is replicated into by subscription ${s}`);
  const self = t.table.oid;
  for (const d of t.dependents) {
    const objid = d.objid;
    // The caller's own helper tables (the repack's change log keeps rows of the table's type) go away before the swap.
    if (d.classid === 'pg_class' && ignore.has(objid)) continue;
    if (d.refIsType) {
      // The row type's own array type and the table itself are internal; anything else uses the row type.
      if (d.classid === 'pg_type' || (d.classid === 'pg_class' && objid === self)) continue;
      blockers.push(`${d.what} uses the table's row type`);
      continue;
    }
    switch (d.classid) {
      case 'pg_type':
        if (objid === t.table.rowTypeOid) continue;
        break;
      case 'pg_class':
        if (d.relkind === 'i' || d.relkind === 't' || d.relkind === 'S') continue;
        break;
      case 'pg_attrdef':
        if (d.adRel === self) continue;
        break;
      case 'pg_constraint':
        if (d.conRel === self && d.contype !== 'x') continue;
        if (d.contype === 'x') {
          blockers.push(`${d.what} is an exclusion constraint (not supported by the rename swap)`);
          continue;
        }
        if (d.contype === 'f' && d.conFrel === self) {
          if (d.conOwned !== true) blockers.push(`${d.what} references the table and the current role does not own its table`);
          continue;
        }
        break;
      case 'pg_trigger':
        if (d.tgRel === self) continue;
        break;
      case 'pg_rewrite':
        if (d.rwRelkind === 'v' && d.rwClass !== self) {
          if (d.rwOwned !== true) blockers.push(`view ${d.rwName ?? '?'} reads the table and the current role does not own it`);
          continue;
        }
        if (d.rwRelkind === 'm') {
          // The caller rebuilds it on the new table after the commit (the old one is kept until then).
          if (options.keepMaterializedViews === true) continue;
          blockers.push(`materialized view ${d.rwName ?? '?'} reads the table (not supported by the rename swap)`);
          continue;
        }
        if (d.rwClass === self) {
          blockers.push(`${d.what} is a rule on the table (not supported by the rename swap)`);
          continue;
        }
        break;
      case 'pg_policy':
        if (d.polRel === self) continue;
        break;
      case 'pg_statistic_ext':
        if (d.stxRel === self) continue;
        break;
      case 'pg_publication_rel':
        if (d.prRel === self) {
          if (d.pubOwned !== true) blockers.push(`publication ${JSON.stringify(d.pubName)} lists the table and the current role does not own it`);
          continue;
        }
        break;
      default:
        break;
    }
    blockers.push(`${d.what} depends on the table (${d.classid}, not moved by the rename swap)`);
  }
  return blockers;
}

/** The `rename_swap_unsupported` error for a non-empty {@link renameBlockers} list. */
export function unsupportedError(t: RenameTableFacts, blockers: readonly string[]): PgToolsError {
  return new PgToolsError(
    'rename_swap_unsupported',
    `the rename swap cannot move everything attached to ${displayName(t.table.schema, t.table.name)}: ${blockers.join('; ')}. Use --swap=catalog as a superuser`,
  );
}

/** What the refusal checks resolved, for the statement builder. */
export interface RenameSwapAccepted {
  pairs: ResolvedIndexPair[];
  /** Each of the shadow's statistics objects (first) with the original's of the same shape. */
  statPairs: Array<[StatObject, StatObject]>;
}

/**
 * Decides whether the rename swap can run from the facts alone, in the order the checks always ran:
 * the same table twice (`swap_precondition`), the role not owning both tables (`rename_swap_not_owner`),
 * something attached that cannot be moved ({@link renameBlockers}: `rename_swap_unsupported`, a
 * partition among them when it cannot be detached and attached again cheaply), a shadow that is not a full copy of the definition, index pairs that do
 * not match (`swap_precondition`), an exclusion constraint (`rename_swap_unsupported`), statistics
 * objects without a copy (`swap_precondition`). Pure; returns the error, or what the checks resolved.
 *
 * @example
 * ```ts
 * const decision = renameSwapRefusal(facts, options);
 * if (decision instanceof PgToolsError) throw decision;
 * ```
 */
export function renameSwapRefusal(facts: RenameFacts, options: RenameStepOptions = {}): PgToolsError | RenameSwapAccepted {
  const { original, shadow, role } = facts;
  const orig = displayName(original.schema, original.name);
  if (original.oid === shadow.oid) return preconditionError(`original and shadow are the same table ${orig}`);
  if (!role.ownsOriginal || !role.ownsShadow) {
    return new PgToolsError(
      'rename_swap_not_owner',
      `role ${JSON.stringify(role.name)} must own ${role.ownsOriginal ? displayName(shadow.schema, shadow.name) : orig} ` +
        `(be a member of its owner role ${JSON.stringify(role.ownsOriginal ? shadow.owner : original.owner)}) to swap it by renaming`,
    );
  }
  const blockers = renameBlockers(facts.attached, options);
  if (blockers.length > 0) return unsupportedError(facts.attached, blockers);
  const definition = shadowDefinitionProblems(facts, options.columnChanges);
  if (definition.length > 0) {
    return preconditionError(
      `${displayName(shadow.schema, shadow.name)} is not a full copy of the definition of ${orig}: ` +
        `${definition.join('; ')}. Create it with createRenameShadow`,
    );
  }
  // The unique indexes of added constraints have no original to pair with: the swap attaches them.
  const addedIndexes = new Set(options.columnChanges?.constraints?.uniques.map((u) => u.index) ?? []);
  const indexes = { ...facts.indexes, shadow: facts.indexes.shadow.filter((i) => !addedIndexes.has(i.name)) };
  const pairs = matchIndexPairs(indexes, original, shadow, { retypedColumns: (options.columnChanges?.retyped.length ?? 0) > 0 });
  if (pairs instanceof PgToolsError) return pairs;
  for (const p of pairs) {
    if (p.original.constraintType === 'x') {
      return new PgToolsError('rename_swap_unsupported', `index ${displayName(p.original.schema, p.original.name)} backs an exclusion constraint`);
    }
  }
  const statPairs = pairStatistics(facts.attached.statistics, facts.shadowStatistics);
  if (statPairs instanceof PgToolsError) return statPairs;
  return { pairs, statPairs };
}

/**
 * The shadow must be the original's definition: same live columns in the same order, same NOT NULL
 * (with its constraints on PostgreSQL 18+), identity, generation and validated CHECKs; planned
 * column changes aside: dropped columns left out, added ones last (or where `order` puts every
 * column) and only compared by name, retyped ones not compared by type or collation, nor NOT NULL
 * where it was changed.
 */
function shadowDefinitionProblems(facts: RenameFacts, changes: ColumnChanges | undefined): string[] {
  const dropped = new Set(changes?.dropped ?? []);
  const added = new Set(changes?.added ?? []);
  const retyped = new Set(changes?.retyped ?? []);
  const nullability = new Set(changes?.nullability ?? []);
  const unordered = [
    ...facts.columns.original.filter((c) => !c.dropped && !dropped.has(c.name)),
    ...(changes?.added ?? []).map((name) => ({ name, typeOid: 0, typmod: 0, collation: 0, notNull: false, identity: '', generated: '' })),
  ];
  // Reordered columns are compared in the caller's order; a name it lacks keeps its place at the end and shows as a difference.
  const rank = (name: string): number => (changes?.order?.includes(name) ? changes.order.indexOf(name) : Number.MAX_SAFE_INTEGER);
  const la = changes?.order ? [...unordered].sort((x, y) => rank(x.name) - rank(y.name)) : unordered;
  const lb = facts.columns.shadow.filter((c) => !c.dropped);
  const problems: string[] = [];
  // The swap adds NOT VALID NOT NULL constraints (PostgreSQL 18+): the shadow has none on those columns.
  // A partition's identity comes with the ATTACH (rename-shadow.ts).
  const partition = facts.attached.partition !== null;
  const notValidNotNull = new Set(facts.attached.notNulls.filter((n) => !n.validated).map((n) => n.column));
  if (la.length !== lb.length) problems.push(`${la.length} columns in the original, ${lb.length} in the shadow`);
  la.forEach((c, i) => {
    const d = lb[i];
    if (!d) return;
    if (c.name !== d.name) problems.push(`column ${i + 1} is ${JSON.stringify(c.name)} in the original but ${JSON.stringify(d.name)} in the shadow`);
    else if (added.has(c.name)) return;
    else if (!retyped.has(c.name) && (c.typeOid !== d.typeOid || c.typmod !== d.typmod || c.collation !== d.collation))
      problems.push(`column ${JSON.stringify(c.name)} differs in type or collation`);
    else if (!nullability.has(c.name) && (c.notNull && !notValidNotNull.has(c.name)) !== d.notNull)
      problems.push(`column ${JSON.stringify(c.name)} differs in NOT NULL`);
    else if ((partition ? '' : c.identity) !== d.identity || c.generated !== d.generated)
      problems.push(`column ${JSON.stringify(c.name)} differs in identity or generation`);
  });
  // NOT VALID CHECKs are not on the shadow either (the copied rows may violate them); the swap adds them.
  const want = shadowChecks(facts.attached)
    .map((c) => `${c.name}: ${c.def}`)
    .sort();
  // A partition's shadow also carries its partition constraint, checked by the ATTACH; added CHECKs are the caller's.
  const bound = partitionBoundCheckName(facts.original.oid);
  const addedChecks = new Set(changes?.constraints?.checks ?? []);
  const have = facts.shadowConstraints.checks
    .filter((c) => c.name !== bound && !addedChecks.has(c.name))
    .map((c) => `${c.name}: ${c.def}`)
    .sort();
  if (facts.attached.partition?.constraint != null && !facts.shadowConstraints.checks.some((c) => c.name === bound)) {
    problems.push(`the shadow has no CHECK ${JSON.stringify(bound)} of the partition constraint`);
  }
  if (want.join('\n') !== have.join('\n')) problems.push(`CHECK constraints differ: original [${want.join('; ')}], shadow [${have.join('; ')}]`);
  problems.push(...notNullProblems(facts, added, nullability));
  const other = facts.shadowConstraints.other;
  if (other.length > 0) problems.push(`the shadow already has constraints other than CHECK: ${other.join(', ')}`);
  return problems;
}

/**
 * NOT NULL constraints (PostgreSQL 18+) are compared by column and definition (NO INHERIT), not by
 * name: the swap gives the shadow's the original's names ({@link pairNotNulls}). NOT VALID ones are
 * not on the shadow (they would refuse the NULLs of the copied rows); the swap adds them.
 */
function notNullProblems(facts: RenameFacts, added: ReadonlySet<string>, nullability: ReadonlySet<string>): string[] {
  const show = (list: ReadonlyArray<{ def: string }>) =>
    list
      .map((n) => n.def)
      .sort()
      .join('; ');
  const unpaired = pairNotNulls(facts);
  // NOT NULL set (shadow only) or dropped (original only) on purpose, and an added NOT NULL column's (shadow only),
  // keep the names they have: the caller named them as on the table.
  const original = unpaired.original.filter((n) => !nullability.has(n.column));
  const shadow = unpaired.shadow.filter((n) => !added.has(n.column) && !nullability.has(n.column));
  if (original.length === 0 && shadow.length === 0) return [];
  return [`NOT NULL constraints differ: original [${show(original)}], shadow [${show(shadow)}]`];
}

/**
 * Pairs the original's validated NOT NULL constraints with the shadow's on the same column with the
 * same definition; returns the pairs (shadow first) and what is left unpaired on either side. Pure.
 */
export function pairNotNulls(facts: RenameFacts): { pairs: Array<[NotNullFacts, NotNullFacts]>; original: NotNullFacts[]; shadow: NotNullFacts[] } {
  const left = [...facts.shadowConstraints.notNulls];
  const pairs: Array<[NotNullFacts, NotNullFacts]> = [];
  const unpaired: NotNullFacts[] = [];
  for (const o of facts.attached.notNulls.filter((n) => n.validated)) {
    const i = left.findIndex((s) => s.column === o.column && s.def === o.def);
    const copy = left[i];
    if (copy === undefined) {
      unpaired.push(o);
      continue;
    }
    pairs.push([copy, o]);
    left.splice(i, 1);
  }
  return { pairs, original: unpaired, shadow: left };
}

/**
 * The CHECK constraints the shadow gets before the copy: the validated ones. A NOT VALID one, even added NOT VALID,
 * would check every copied row, and old rows may violate it: the swap adds it (rename-steps.ts), which needs no scan.
 */
export function shadowChecks(attached: RenameTableFacts): CheckFacts[] {
  return attached.checks.filter((c) => c.validated);
}

/** Pairs each statistics object of the shadow (LIKE gave it a generated name) with the original's of the same shape. */
function pairStatistics(original: readonly StatObject[], shadow: readonly StatObject[]): Array<[StatObject, StatObject]> | PgToolsError {
  const left = [...shadow];
  const out: Array<[StatObject, StatObject]> = [];
  for (const o of original) {
    const i = left.findIndex((s) => s.shape === o.shape);
    const copy = left[i];
    if (copy === undefined) return preconditionError(`the shadow has no copy of statistics object ${displayName(o.schema, o.name)}`);
    out.push([copy, o]);
    left.splice(i, 1);
  }
  if (left.length > 0) return preconditionError(`the shadow has statistics objects the original lacks: ${left.map((s) => s.name).join(', ')}`);
  return out;
}

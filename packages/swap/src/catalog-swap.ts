import { displayName, PgToolsError, quoteIdent, quoteQualified, silentLogger, wrapPgError, type Queryable } from '@pgtools/core';
import { accessExclusiveCheck, currentRoleIsSuperuser, loadTable, lockNotHeldError, oidLiteral, type TableInfo } from './catalog.js';
import { checkColumnsByAttnum, resolveIndexPairs } from './preconditions.js';
import type { IndexPair, RelationName, SwapCommonOptions } from './types.js';

export interface CatalogSwapOptions extends SwapCommonOptions {
  /** The user's table; it keeps its OID and name and afterwards reads the shadow's files. */
  original: RelationName;
  /** The rebuilt table (same attribute numbers); afterwards it owns the original's old files. */
  shadow: RelationName;
  /** Every index of the original with its copy on the shadow. */
  indexPairs: readonly IndexPair[];
}

export interface CatalogSwapResult {
  tableOid: number;
  shadowOid: number;
  indexes: number;
  /** Which side had a TOAST table before the swap. */
  toast: 'both' | 'original' | 'shadow' | 'none';
}

/**
 * What {@link executeCatalogSwap} needs, checked by {@link prepareCatalogSwap}: both tables, their
 * TOAST tables and the index pairs, by OID.
 */
export interface CatalogSwapPlan {
  original: TableInfo;
  shadow: TableInfo;
  pairs: Array<{ original: number; shadow: number }>;
  options: CatalogSwapOptions;
}

/**
 * Everything of the catalog swap that needs no ACCESS EXCLUSIVE: the superuser check, matching
 * columns by attribute number and resolving the index pairs. Run it while the tables' structure is protected (a SHARE UPDATE EXCLUSIVE lock held by this
 * transaction keeps DDL out), so the moment under ACCESS EXCLUSIVE only runs {@link executeCatalogSwap}.
 * Throws `catalog_swap_requires_superuser`, `swap_precondition`.
 *
 * @example
 * ```ts
 * import { prepareCatalogSwap, executeCatalogSwap } from '@pgtools/swap';
 * const plan = await prepareCatalogSwap(client, { original, shadow, indexPairs });
 * await client.query('LOCK TABLE public.orders, pgtools.table_16385 IN ACCESS EXCLUSIVE MODE');
 * await executeCatalogSwap(client, plan);
 * ```
 */
export async function prepareCatalogSwap(client: Queryable, options: CatalogSwapOptions): Promise<CatalogSwapPlan> {
  const who = await currentRoleIsSuperuser(client);
  if (!who.superuser) {
    throw new PgToolsError(
      'catalog_swap_requires_superuser',
      `the catalog swap updates pg_class and pg_depend directly, which needs a superuser; role ${JSON.stringify(who.role)} is not one. ` +
        'Use --swap=rename (the rename swap) as the table owner instead',
    );
  }
  const original = await loadTable(client, options.original, 'original');
  const shadow = await loadTable(client, options.shadow, 'shadow');
  const orig = displayName(original.schema, original.name);
  if (original.oid === shadow.oid) throw new PgToolsError('swap_precondition', `original and shadow are the same table ${orig}`);
  if (original.oid < 16384) throw new PgToolsError('swap_precondition', `${orig} is a system table`);
  await checkColumnsByAttnum(client, original, shadow);
  const resolved = await resolveIndexPairs(client, original, shadow, options.indexPairs);
  options.onEvent?.({ type: 'swap_validated', mode: 'catalog', table: options.original, shadow: options.shadow, indexes: resolved.length });
  return { original, shadow, pairs: resolved.map((p) => ({ original: p.original.oid, shadow: p.shadow.oid })), options };
}

/**
 * Swaps the storage of a table and its rebuilt copy in the system catalogs (superuser only), like pg_repack:
 * the original keeps its OID, so views, foreign keys, grants, policies, triggers, publications and comments stay
 * attached. Run it inside the transaction that holds ACCESS EXCLUSIVE on both tables, then commit and call
 * {@link dropShadow} (the shadow then owns the original's old files). It is {@link prepareCatalogSwap} followed by
 * {@link executeCatalogSwap}.
 *
 * @example
 * ```ts
 * import { catalogSwap, dropShadow } from '@pgtools/swap';
 * await client.query('BEGIN');
 * await client.query('LOCK TABLE public.orders, pgtools.table_16385 IN ACCESS EXCLUSIVE MODE');
 * await catalogSwap(client, {
 *   original: { schema: 'public', name: 'orders' },
 *   shadow: { schema: 'pgtools', name: 'table_16385' },
 *   indexPairs: [{ original: { schema: 'public', name: 'orders_pkey' }, shadow: { schema: 'pgtools', name: 'index_16390' } }],
 * });
 * await client.query('COMMIT');
 * await dropShadow(client, { schema: 'pgtools', name: 'table_16385' });
 * ```
 */
export async function catalogSwap(client: Queryable, options: CatalogSwapOptions): Promise<CatalogSwapResult> {
  return executeCatalogSwap(client, await prepareCatalogSwap(client, options));
}

/**
 * The part of the catalog swap that needs ACCESS EXCLUSIVE on both tables, in one round trip: the
 * lock check and every catalog update in one multi-statement query (OIDs only, no user text).
 * Throws `swap_precondition` (locks not held) and `catalog_swap_failed` (the transaction must be rolled back).
 *
 * @example
 * ```ts
 * import { executeCatalogSwap } from '@pgtools/swap';
 * await executeCatalogSwap(client, plan); // plan from prepareCatalogSwap, inside the locking transaction
 * ```
 */
export async function executeCatalogSwap(client: Queryable, plan: CatalogSwapPlan): Promise<CatalogSwapResult> {
  const statements = catalogSwapStatements(plan);
  let counts: Array<number | null>;
  try {
    const results = await client.query(statements.map((st) => st.sql).join(';\n'));
    counts = (Array.isArray(results) ? results : [results]).map((r: { rowCount: number | null }) => r.rowCount);
  } catch (err) {
    throw catalogSwapError(plan, err);
  }
  return finishCatalogSwap(plan, statements, counts);
}

/**
 * The error to throw when the statements of {@link catalogSwapStatements} failed on the server:
 * `swap_precondition` when the lock check refused, `catalog_swap_failed` otherwise (either way the
 * transaction must be rolled back).
 *
 * @example
 * ```ts
 * import { catalogSwapError } from '@pgtools/swap';
 * try { await client.query(sql); } catch (err) { throw catalogSwapError(plan, err); }
 * ```
 */
export function catalogSwapError(plan: CatalogSwapPlan, err: unknown): PgToolsError {
  const notLocked = lockNotHeldError(err, plan.original, plan.shadow);
  if (notLocked) return notLocked;
  const orig = displayName(plan.original.schema, plan.original.name);
  return wrapPgError(err, 'catalog_swap_failed', `catalog swap of ${orig} failed (the transaction must be rolled back)`);
}

/** One statement of the catalog swap and the row count it must report (null: a statement without one). */
export interface CatalogSwapStatement {
  sql: string;
  expectedRows: number | null;
}

/**
 * The catalog updates of {@link executeCatalogSwap} (OIDs only, no user text, no parameters), for a
 * caller that sends them in one multi-statement round trip together with its own statements while it
 * holds ACCESS EXCLUSIVE on both tables (the first statement raises an error if it does not; map a
 * failure with {@link catalogSwapError}). Pass the row counts the server reported to
 * {@link finishCatalogSwap} before committing.
 *
 * @example
 * ```ts
 * import { catalogSwapStatements, finishCatalogSwap } from '@pgtools/swap';
 * const statements = catalogSwapStatements(plan);
 * const results = await client.query(statements.map((s) => s.sql).join(';\n'));
 * finishCatalogSwap(plan, statements, results.map((r) => r.rowCount));
 * await client.query('COMMIT');
 * ```
 */
export function catalogSwapStatements(plan: CatalogSwapPlan): CatalogSwapStatement[] {
  const { original, shadow, pairs } = plan;
  // Each TOAST table now belongs to the other heap; its internal dependency must follow, or dropping the
  // shadow would drop the TOAST table the original now uses.
  const toastPairs: Array<[number, number, number]> = [];
  if (original.toastOid) toastPairs.push([original.toastOid, original.oid, shadow.oid]);
  if (shadow.toastOid) toastPairs.push([shadow.toastOid, shadow.oid, original.oid]);
  // Statement and the row count it must report.
  const steps: Array<[string, number | null]> = [
    // First the lock check: it raises an error unless this transaction holds ACCESS EXCLUSIVE on both
    // tables, so no update after it runs (the server skips the rest of a failed multi-statement query).
    [
      `DO $pgtools$ BEGIN
         ${accessExclusiveCheck(original, shadow)}
       END $pgtools$`,
      null,
    ],
  ];
  if (shadow.ownerOid !== original.ownerOid) {
    // The TOAST table changes owner with the heap it now belongs to, so the shadow takes the original's
    // owner first. Here, under the lock: before it, ALTER OWNER would take ACCESS EXCLUSIVE on the shadow
    // in the caller's transaction, which may keep writing to it from another session.
    steps.push([`ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} OWNER TO ${quoteIdent(original.owner)}`, null]);
  }
  steps.push(
    // One UPDATE reads both old rows from the same snapshot, so each row receives the other's previous values.
    [
      `UPDATE pg_catalog.pg_class c
          SET relfilenode = o.relfilenode, reltablespace = o.reltablespace, reltoastrelid = o.reltoastrelid,
              relfrozenxid = o.relfrozenxid, relminmxid = o.relminmxid, relpages = o.relpages,
              reltuples = o.reltuples, relallvisible = o.relallvisible
         FROM (VALUES (${oidLiteral(original.oid)}, ${oidLiteral(shadow.oid)}), (${oidLiteral(shadow.oid)}, ${oidLiteral(original.oid)})) AS p(dst, src)
         JOIN pg_catalog.pg_class o ON o.oid = p.src
        WHERE c.oid = p.dst`,
      2,
    ],
  );
  if (pairs.length > 0) {
    // Both directions as plain (dst, src) rows: equalities on oid use pg_class's index, where an OR of
    // two join orders made the planner compare every pg_class row with every other (~30 ms under the lock).
    const values = pairs
      .flatMap((p) => [`(${oidLiteral(p.original)}, ${oidLiteral(p.shadow)})`, `(${oidLiteral(p.shadow)}, ${oidLiteral(p.original)})`])
      .join(', ');
    steps.push([
      `UPDATE pg_catalog.pg_class c
          SET relfilenode = o.relfilenode, reltablespace = o.reltablespace, relpages = o.relpages, reltuples = o.reltuples
         FROM (VALUES ${values}) AS p(dst, src)
         JOIN pg_catalog.pg_class o ON o.oid = p.src
        WHERE c.oid = p.dst`,
      2 * pairs.length,
    ]);
  }
  for (const [toastOid, from, to] of toastPairs) {
    steps.push([
      `UPDATE pg_catalog.pg_depend SET refobjid = ${oidLiteral(to)}
        WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND objid = ${oidLiteral(toastOid)} AND objsubid = 0
          AND refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND refobjid = ${oidLiteral(from)} AND refobjsubid = 0
          AND deptype = 'i'`,
      1,
    ]);
  }
  // TOAST names must be pg_toast_<owner oid>: CLUSTER, VACUUM FULL and later swaps create that name again.
  // Names are unique per schema, so move through a temporary name.
  for (const suffix of ['_pgtools_swap', '']) {
    for (const [toastOid, , to] of toastPairs) {
      steps.push([`UPDATE pg_catalog.pg_class SET relname = 'pg_toast_${to}${suffix}' WHERE oid = ${oidLiteral(toastOid)}`, 1]);
      steps.push([
        `UPDATE pg_catalog.pg_class SET relname = 'pg_toast_${to}_index${suffix}'
          WHERE oid = (SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = ${oidLiteral(toastOid)})`,
        1,
      ]);
    }
  }
  return steps.map(([sql, expectedRows]) => ({ sql, expectedRows }));
}

/**
 * Checks the row counts the server reported for {@link catalogSwapStatements} (in order) and reports
 * the swap; throws `catalog_swap_failed` when one differs (the transaction must then be rolled back).
 *
 * @example
 * ```ts
 * import { finishCatalogSwap } from '@pgtools/swap';
 * const result = finishCatalogSwap(plan, statements, results.map((r) => r.rowCount));
 * ```
 */
export function finishCatalogSwap(plan: CatalogSwapPlan, statements: readonly CatalogSwapStatement[], counts: ReadonlyArray<number | null>): CatalogSwapResult {
  const { original, shadow, pairs, options } = plan;
  const logger = options.logger ?? silentLogger;
  const orig = displayName(original.schema, original.name);
  if (statements.length !== counts.length) {
    throw new PgToolsError('catalog_swap_failed', `catalog swap of ${orig}: ${statements.length} statements but ${counts.length} results`);
  }
  statements.forEach(({ sql, expectedRows }, i) => {
    if (counts[i] !== expectedRows) {
      throw new PgToolsError(
        'catalog_swap_failed',
        `catalog swap of ${orig} failed (the transaction must be rolled back): expected ${expectedRows} row(s) from: ${sql.replace(/\s+/g, ' ').slice(0, 80)}..., got ${counts[i]}`,
      );
    }
  });
  const toast: CatalogSwapResult['toast'] =
    original.toastOid && shadow.toastOid ? 'both' : original.toastOid ? 'original' : shadow.toastOid ? 'shadow' : 'none';
  logger.info('catalog swap done', { table: orig, indexes: pairs.length, toast });
  options.onEvent?.({ type: 'catalog_swapped', table: options.original, shadow: options.shadow, indexes: pairs.length, toast });
  return { tableOid: original.oid, shadowOid: shadow.oid, indexes: pairs.length, toast };
}

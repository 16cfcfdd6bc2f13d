import { displayName, PgToolsError, quoteIdent, quoteQualified, silentLogger, wrapPgError, type Queryable } from '@pgtools/core';
import { currentRoleIsSuperuser, loadTable, requireAccessExclusive } from './catalog.js';
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
 * Swaps the storage of a table and its rebuilt copy in the system catalogs (superuser only), like pg_repack:
 * the original keeps its OID, so views, foreign keys, grants, policies, triggers, publications and comments stay
 * attached. Run it inside the transaction that holds ACCESS EXCLUSIVE on both tables, then commit and call
 * {@link dropShadow} (the shadow then owns the original's old files).
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
  const logger = options.logger ?? silentLogger;
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
  await requireAccessExclusive(client, [original, shadow]);
  await checkColumnsByAttnum(client, original, shadow);
  const pairs = await resolveIndexPairs(client, original, shadow, options.indexPairs);
  options.onEvent?.({ type: 'swap_validated', mode: 'catalog', table: options.original, shadow: options.shadow, indexes: pairs.length });

  const toast: CatalogSwapResult['toast'] =
    original.toastOid && shadow.toastOid ? 'both' : original.toastOid ? 'original' : shadow.toastOid ? 'shadow' : 'none';
  try {
    // The TOAST table changes owner with the heap it now belongs to, so give the shadow the original's owner first.
    if (shadow.ownerOid !== original.ownerOid) {
      await client.query(`ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} OWNER TO ${quoteIdent(original.owner)}`);
    }
    // One UPDATE reads both old rows from the same snapshot, so each row receives the other's previous values.
    const heap = await client.query(
      `UPDATE pg_catalog.pg_class c
          SET relfilenode = o.relfilenode, reltablespace = o.reltablespace, reltoastrelid = o.reltoastrelid,
              relfrozenxid = o.relfrozenxid, relminmxid = o.relminmxid, relpages = o.relpages,
              reltuples = o.reltuples, relallvisible = o.relallvisible
         FROM pg_catalog.pg_class o
        WHERE (c.oid = $1::int8::oid AND o.oid = $2::int8::oid) OR (c.oid = $2::int8::oid AND o.oid = $1::int8::oid)`,
      [original.oid, shadow.oid],
    );
    if (heap.rowCount !== 2) throw new Error(`expected to update 2 pg_class rows for the heaps, updated ${heap.rowCount}`);
    if (pairs.length > 0) {
      const a = pairs.map((p) => p.original.oid);
      const b = pairs.map((p) => p.shadow.oid);
      const idx = await client.query(
        `UPDATE pg_catalog.pg_class c
            SET relfilenode = o.relfilenode, reltablespace = o.reltablespace, relpages = o.relpages, reltuples = o.reltuples
           FROM pg_catalog.pg_class o, ROWS FROM (pg_catalog.unnest($1::int8[]), pg_catalog.unnest($2::int8[])) AS p(a, b)
          WHERE (c.oid = p.a::oid AND o.oid = p.b::oid) OR (c.oid = p.b::oid AND o.oid = p.a::oid)`,
        [a, b],
      );
      if (idx.rowCount !== 2 * pairs.length) {
        throw new Error(`expected to update ${2 * pairs.length} pg_class rows for the indexes, updated ${idx.rowCount}`);
      }
    }
    // Each TOAST table now belongs to the other heap; its internal dependency must follow, or dropping the
    // shadow would drop the TOAST table the original now uses.
    const toastPairs: Array<[number, number, number]> = [];
    if (original.toastOid) toastPairs.push([original.toastOid, original.oid, shadow.oid]);
    if (shadow.toastOid) toastPairs.push([shadow.toastOid, shadow.oid, original.oid]);
    for (const [toastOid, from, to] of toastPairs) {
      const dep = await client.query(
        `UPDATE pg_catalog.pg_depend SET refobjid = $3::int8::oid
          WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND objid = $1::int8::oid AND objsubid = 0
            AND refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND refobjid = $2::int8::oid AND refobjsubid = 0
            AND deptype = 'i'`,
        [toastOid, from, to],
      );
      if (dep.rowCount !== 1) throw new Error(`expected one pg_depend row for TOAST table ${toastOid}, found ${dep.rowCount}`);
    }
    // TOAST names must be pg_toast_<owner oid>: CLUSTER, VACUUM FULL and later swaps create that name again.
    // Names are unique per schema, so move through a temporary name.
    if (toastPairs.length > 0) {
      for (const [toastOid, , to] of toastPairs) await renameToast(client, toastOid, `pg_toast_${to}`, '_pgtools_swap');
      for (const [toastOid, , to] of toastPairs) await renameToast(client, toastOid, `pg_toast_${to}`, '');
    }
  } catch (err) {
    throw wrapPgError(err, 'catalog_swap_failed', `catalog swap of ${orig} failed (the transaction must be rolled back)`);
  }
  logger.info('catalog swap done', { table: orig, indexes: pairs.length, toast });
  options.onEvent?.({ type: 'catalog_swapped', table: options.original, shadow: options.shadow, indexes: pairs.length, toast });
  return { tableOid: original.oid, shadowOid: shadow.oid, indexes: pairs.length, toast };
}

async function renameToast(client: Queryable, toastOid: number, base: string, suffix: string): Promise<void> {
  const heap = await client.query('UPDATE pg_catalog.pg_class SET relname = $2 WHERE oid = $1::int8::oid', [toastOid, `${base}${suffix}`]);
  if (heap.rowCount !== 1) throw new Error(`TOAST table ${toastOid} not found`);
  const index = await client.query(
    `UPDATE pg_catalog.pg_class SET relname = $2
      WHERE oid = (SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = $1::int8::oid)`,
    [toastOid, `${base}_index${suffix}`],
  );
  if (index.rowCount !== 1) throw new Error(`index of TOAST table ${toastOid} not found`);
}

import { debugFailure, PgToolsError, silentLogger, wrapPgError, type Queryable } from '@pgtools/core';
import { buildApplyDeleteSql, buildApplyInsertSql, buildApplyPurgeSql, buildBatchIdsSql, INDEX_PROBES_LOCAL } from './apply-sql.js';
import { resolveKey } from './resolve-key.js';
import type { ApplyLogOptions, ApplyLogUntilOptions, ApplyStats, ApplyUntilStats, CdcNames, CdcObjects } from './types.js';

const DEFAULT_BATCH_SIZE = 1000;

interface Plan {
  batchSql: string;
  deleteSql: string;
  insertSql: string;
  purgeSql: string;
  batchSize: number;
}

function emptyStats(): ApplyStats {
  return { entries: 0, inserts: 0, updates: 0, deletes: 0, batches: 0 };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PgToolsError('aborted', 'log apply aborted', { cause: signal.reason });
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

async function plan(client: Queryable, options: ApplyLogOptions): Promise<Plan> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new PgToolsError('invalid_argument', `batchSize must be a positive integer, got ${String(batchSize)}`);
  }
  const known = options.objects as Partial<CdcObjects> & CdcNames;
  // The index's own equality decides which log entries are "the same key" (collations, operator classes).
  const keyOperators =
    known.keyOperators !== undefined && sameList(known.keyColumns, options.keyColumns)
      ? known.keyOperators
      : (await resolveKey(client, options.objects.tableOid, options.keyColumns)).operators;
  const parts = {
    names: options.objects,
    target: options.target,
    keyColumns: options.keyColumns,
    columns: options.columns,
    keyOperators,
    overridingSystemValue: options.overridingSystemValue === true,
    ...(options.columnSources !== undefined ? { columnSources: options.columnSources } : {}),
    ...(options.keyCasts !== undefined ? { keyCasts: options.keyCasts } : {}),
  };
  return {
    batchSql: buildBatchIdsSql(options.objects),
    deleteSql: buildApplyDeleteSql(parts),
    insertSql: buildApplyInsertSql(parts),
    purgeSql: buildApplyPurgeSql(options.objects),
    batchSize,
  };
}

async function applyBatch(client: Queryable, p: Plan, options: ApplyLogOptions): Promise<ApplyStats> {
  const own = (options.transaction ?? 'own') === 'own';
  const batch = await client.query<{ n: number; ids: string }>(p.batchSql, [p.batchSize]);
  const n = batch.rows[0]?.n ?? 0;
  if (n === 0) return emptyStats();
  const ids = batch.rows[0]!.ids;
  // One round trip opens the transaction and sets the planner up for the delete step.
  if (own) await client.query(['BEGIN', ...INDEX_PROBES_LOCAL].join('; '));
  try {
    // Separate statements, in this order: the insert must see the deletes.
    await withIndexProbes(client, own, () => client.query(p.deleteSql, [ids]));
    await client.query(p.insertSql, [ids]);
    const purged = await client.query<{ entries: number; inserts: number; updates: number; deletes: number }>(p.purgeSql, [ids]);
    const row = purged.rows[0];
    if (!row || row.entries !== n) {
      throw new PgToolsError(
        'log_changed_during_apply',
        `expected to remove ${n} applied log entries from ${options.objects.toolSchema}.${options.objects.logTable}, removed ${row?.entries ?? 0}: is another apply running on this log?`,
      );
    }
    if (own) await client.query('COMMIT');
    return { entries: row.entries, inserts: row.inserts, updates: row.updates, deletes: row.deletes, batches: 1 };
  } catch (err) {
    if (own) await client.query('ROLLBACK').catch(debugFailure(options.logger ?? silentLogger, 'ROLLBACK after a failed log apply'));
    throw err;
  }
}

/**
 * Runs the delete step under INDEX_PROBES_LOCAL: without it the planner hashes the whole shadow for
 * every batch (seconds on a large table under load); a nested loop probes the key index once per
 * touched key instead. In our own transaction SET LOCAL ends with it; in the caller's transaction
 * the previous values are put back.
 */
async function withIndexProbes<R>(client: Queryable, own: boolean, fn: () => Promise<R>): Promise<R> {
  // Our own transaction already ran INDEX_PROBES_LOCAL with its BEGIN.
  if (own) return fn();
  const { rows } = await client.query<{ h: string; m: string }>(
    `SELECT pg_catalog.current_setting('enable_hashjoin') AS h, pg_catalog.current_setting('enable_mergejoin') AS m,
            pg_catalog.set_config('enable_hashjoin', 'off', true), pg_catalog.set_config('enable_mergejoin', 'off', true)`,
  );
  try {
    return await fn();
  } finally {
    await client
      .query(`SELECT pg_catalog.set_config('enable_hashjoin', $1, true), pg_catalog.set_config('enable_mergejoin', $2, true)`, [rows[0]!.h, rows[0]!.m])
      // A failed restore leaves the planner settings of this transaction only (set_config(..., true)).
      .catch(() => undefined);
  }
}

function wrap(err: unknown, options: ApplyLogOptions): PgToolsError {
  return wrapPgError(
    err,
    'apply_failed',
    `applying ${options.objects.toolSchema}.${options.objects.logTable} to ${JSON.stringify(options.target.schema)}.${JSON.stringify(options.target.name)}`,
  );
}

/**
 * Applies one batch of the log onto the shadow table, set-based and exact, in one transaction:
 * (a) delete from the target every key the batch touches, (b) per key insert the image of the
 * latest entry touching it when that image carries the key, (c) delete the applied entries by
 * explicit id. Rows never leave the server; only the batch's ids make a round trip. Returns the
 * counts of that batch (`entries: 0` when the log had nothing committed). Throws `apply_failed`,
 * `log_changed_during_apply`, `aborted`.
 *
 * @example
 * ```ts
 * import { applyLog } from '@pgtools/cdc';
 * let stats;
 * do {
 *   stats = await applyLog(client, { objects, target: { schema: 'pgtools', name: 'table_16384' },
 *     keyColumns: ['id'], columns: ['id', 'payload'], batchSize: 1000 });
 * } while (stats.entries >= 20);
 * ```
 */
export async function applyLog(client: Queryable, options: ApplyLogOptions): Promise<ApplyStats> {
  checkAborted(options.signal);
  try {
    const p = await plan(client, options);
    const stats = await applyBatch(client, p, options);
    (options.logger ?? silentLogger).debug('log batch applied', { ...stats });
    return stats;
  } catch (err) {
    throw wrap(err, options);
  }
}

/**
 * Applies batches until one applies fewer than `stopBelow` entries (default 1: until the log shows
 * nothing committed), or `maxBatches` batches ran. Checks `signal` between batches.
 *
 * @example
 * ```ts
 * import { applyLogUntil } from '@pgtools/cdc';
 * const totals = await applyLogUntil(client, { objects, target, keyColumns: ['id'], columns, stopBelow: 20 });
 * console.log(`${totals.entries} changes replayed in ${totals.batches} batches`);
 * ```
 */
export async function applyLogUntil(client: Queryable, options: ApplyLogUntilOptions): Promise<ApplyUntilStats> {
  const logger = options.logger ?? silentLogger;
  const stopBelow = options.stopBelow ?? 1;
  const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
  const totals = emptyStats();
  checkAborted(options.signal);
  let p: Plan;
  try {
    p = await plan(client, options);
  } catch (err) {
    throw wrap(err, options);
  }
  for (let run = 0; ; run++) {
    if (run >= maxBatches) return { ...totals, stoppedBy: 'max-batches' };
    checkAborted(options.signal);
    let stats: ApplyStats;
    try {
      stats = await applyBatch(client, p, options);
    } catch (err) {
      throw wrap(err, options);
    }
    totals.entries += stats.entries;
    totals.inserts += stats.inserts;
    totals.updates += stats.updates;
    totals.deletes += stats.deletes;
    totals.batches += stats.batches;
    if (stats.entries > 0) {
      logger.debug('log batch applied', { ...stats });
      options.onBatch?.(stats);
    }
    if (stats.entries < stopBelow) return { ...totals, stoppedBy: 'below-threshold' };
  }
}

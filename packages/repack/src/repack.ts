import { isPool, PgToolsError, silentLogger, type Logger, type PoolOrConfig } from '@pgtools/core';
import { runShared, trackBackends } from './run-shared.js';
import { ProgressBoard } from './progress-board.js';
import { connectionSource } from './connections.js';
import { resolveOptions, type RepackOptions } from './options.js';
import { repackOneTable } from './repack-table.js';
import { emptyTableResult, exitCodeOf, type RepackResult, type TableResult } from './result.js';
import { partitionedTableTarget, resolveTargets } from './targets.js';
import { alterPartitionedTable } from './alter-tree.js';
import { checkSource } from './server-version.js';

/**
 * Rebuilds a table and all its indexes online: a change-capture trigger, a copy in one snapshot,
 * index builds, log replay, then a swap under a short ACCESS EXCLUSIVE lock. Readers and writers
 * keep working; no server extension is needed. A partitioned table is repacked leaf by leaf.
 *
 * Table-level problems (no usable key, lock not obtained, old snapshots) do not throw: they are
 * reported per table in the result, with `exitCode` 3 (skipped) or 1 (failed, table intact).
 * Invalid options, unreachable servers and servers outside PostgreSQL 15-18
 * (`unsupported_server_version`, before anything is created) throw a `PgToolsError`.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { repack } from '@pgtools/repack';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
 * const result = await repack(pool, {
 *   table: 'public.orders',
 *   onEvent: (e) => { if (e.type === 'phase-end') console.log(e.phase, e.ms, 'ms'); },
 * });
 * console.log(result.tables[0]?.status, result.tables[0]?.sizeAfter);
 * await pool.end();
 * ```
 */
export async function repack(db: PoolOrConfig, options: RepackOptions): Promise<RepackResult> {
  const opts = resolveOptions(options);
  const source = connectionSource(db, opts.onQuery);
  const board = new ProgressBoard({ toolSchema: opts.toolSchema, applicationName: opts.applicationName, logger: opts.logger ?? silentLogger });
  try {
    await checkSource(source);
    // A partitioned table changes whole: its leaves side by side, then one swap.
    const tree = opts.alter ? await partitionedTableTarget(source, options) : undefined;
    if (tree) {
      const shared = runShared(board, Date.now());
      const poolMax = isPool(db) ? ((db as { options?: { max?: number } }).options?.max ?? 10) : undefined;
      const tables = await alterPartitionedTable(trackBackends(source, shared.pids), tree, opts, shared, poolMax);
      return { tables, exitCode: exitCodeOf(tables) };
    }
    const targets = await resolveTargets(source, options, opts.toolSchema);
    if (opts.alter && targets.length !== 1) {
      throw new PgToolsError('invalid_option', `alter works on one table at a time; the selection names ${targets.length}`);
    }
    const shared = runShared(board, Date.now());
    const tracked = trackBackends(source, shared.pids);
    const lanes = tableLanes(db, opts.tableConcurrency ?? 1, targets.length, opts.logger ?? silentLogger);
    // Results in the order of the targets, whatever order the tables end in.
    const tables: TableResult[] = targets.map((t) => emptyTableResult(t.display));
    let next = 0;
    let broken: { error: unknown } | undefined;
    const lane = async (): Promise<void> => {
      for (let i = next++; !broken; i = next++) {
        const target = targets[i];
        if (!target) return;
        if (opts.signal?.aborted) {
          const skipped = emptyTableResult(target.display);
          tables[i] = skipped;
          skipped.status = 'skipped';
          skipped.code = 'aborted';
          skipped.message = 'not started: the run was aborted';
          continue;
        }
        try {
          tables[i] = await repackOneTable(tracked, target, opts, shared);
        } catch (error) {
          // Not a table-level problem (the server went away): no new table starts; the running ones end first.
          broken ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    if (broken) throw broken.error;
    return { tables, exitCode: exitCodeOf(tables) };
  } finally {
    await board.close();
    await source.end();
  }
}

/**
 * How many tables run at once: `tableConcurrency`, no more than there are tables, and with the
 * caller's pool at most half its `max` (each table holds a work and a guard connection; with fewer,
 * every table could hold its first connection and wait for its second forever).
 */
function tableLanes(db: PoolOrConfig, wanted: number, targets: number, logger: Logger): number {
  let lanes = Math.max(1, Math.min(wanted, targets));
  if (isPool(db)) {
    const max = (db as { options?: { max?: number } }).options?.max ?? 10;
    const fit = Math.max(1, Math.floor(max / 2));
    if (lanes > fit) {
      logger.warn(`tableConcurrency ${wanted} needs ${wanted * 2} connections; the pool has ${max}: ${fit} table(s) at a time`);
      lanes = fit;
    }
  }
  return lanes;
}

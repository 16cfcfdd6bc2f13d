import { PgToolsError, silentLogger, type PoolOrConfig } from '@pgtools/core';
import { ProgressBoard } from './progress-board.js';
import { connectionSource } from './connections.js';
import { resolveOptions, type RepackOptions } from './options.js';
import { repackOneTable } from './repack-table.js';
import { emptyTableResult, exitCodeOf, type RepackResult, type TableResult } from './result.js';
import { resolveTargets } from './targets.js';
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
    const targets = await resolveTargets(source, options, opts.toolSchema);
    if (opts.alter && targets.length !== 1) {
      throw new PgToolsError('invalid_option', `alter works on one table at a time; the selection names ${targets.length}`);
    }
    const tables: TableResult[] = [];
    for (const target of targets) {
      if (opts.signal?.aborted) {
        const skipped = emptyTableResult(target.display);
        skipped.status = 'skipped';
        skipped.code = 'aborted';
        skipped.message = 'not started: the run was aborted';
        tables.push(skipped);
        continue;
      }
      tables.push(await repackOneTable(source, target, opts, board));
    }
    return { tables, exitCode: exitCodeOf(tables) };
  } finally {
    await board.close();
    await source.end();
  }
}

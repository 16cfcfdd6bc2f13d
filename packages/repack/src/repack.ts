import type pg from 'pg';
import { displayName, PgToolsError, type PoolOrConfig } from '@pgtools/core';
import { connectionSource } from './connections.js';
import { resolveOptions, type RepackOptions } from './options.js';
import { repackOneTable } from './repack-table.js';
import { emptyTableResult, exitCodeOf, type RepackResult, type TableResult } from './result.js';
import { resolveTable } from './table-info.js';

/**
 * Rebuilds a table and all its indexes online: a change-capture trigger, a copy in one snapshot,
 * index builds, log replay, then a swap under a short ACCESS EXCLUSIVE lock. Readers and writers
 * keep working; no server extension is needed. A partitioned table is repacked leaf by leaf.
 *
 * Table-level problems (no usable key, lock not obtained, old snapshots) do not throw: they are
 * reported per table in the result, with `exitCode` 3 (skipped) or 1 (failed, table intact).
 * Invalid options and unreachable servers throw a `PgToolsError`.
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
  try {
    const targets = await resolveTargets(source, options.table);
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
      tables.push(await repackOneTable(source, target.oid, target.display, opts));
    }
    return { tables, exitCode: exitCodeOf(tables) };
  } finally {
    await source.end();
  }
}

/** A table to work on, after partitioned parents were expanded to their leaves. */
export interface RepackTarget {
  oid: number;
  schema: string;
  name: string;
  display: string;
}

/** Resolves a table reference; a partitioned table becomes its leaf partitions, one by one. */
export async function resolveTargets(
  source: { connect(): Promise<pg.PoolClient | pg.Client>; release(c: pg.PoolClient | pg.Client): Promise<void> },
  ref: RepackOptions['table'],
): Promise<RepackTarget[]> {
  const client = await source.connect();
  try {
    const table = await resolveTable(client, ref);
    const { rows } = await client.query<{ oid: string; schema: string; name: string; relkind: string }>(
      `SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind
         FROM pg_partition_tree($1::oid::regclass) p
         JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE p.isleaf ORDER BY p.level, n.nspname, c.relname`,
      [table.oid],
    );
    const leaves = rows.length > 0 ? rows : [{ oid: String(table.oid), schema: table.schema, name: table.name, relkind: 'r' }];
    const targets = leaves
      .filter((r) => r.relkind !== 'f')
      .map((r) => ({ oid: Number(r.oid), schema: r.schema, name: r.name, display: displayName(r.schema, r.name) }));
    if (targets.length === 0) throw new PgToolsError('nothing_to_repack', `${displayName(table.schema, table.name)} has no partitions to repack`);
    return targets;
  } finally {
    await source.release(client);
  }
}

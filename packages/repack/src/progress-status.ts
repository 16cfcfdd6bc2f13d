import type pg from 'pg';
import { debugFailure, type Logger, type PoolOrConfig } from '@pgtools/core';
import { connectionSource } from './connections.js';
import { buildDeleteInterruptedSql, buildDropProgressIfEmptySql, buildProgressStatusSql, progressRegclass, type ProgressRow } from './progress-table.js';

interface StatusRecord {
  schema_name: string;
  table_name: string;
  phase: string;
  rows_copied: number;
  rows_total_estimate: number | null;
  log_backlog: number | null;
  eta_seconds: number | null;
  pid: number;
  started_at: string;
  updated_at: string;
  interrupted: boolean;
}

async function hasProgressTable(client: pg.ClientBase, toolSchema: string): Promise<boolean> {
  const { rows } = await client.query<{ present: boolean }>('SELECT pg_catalog.to_regclass($1) IS NOT NULL AS present', [progressRegclass(toolSchema)]);
  return rows[0]?.present === true;
}

/**
 * The repacks running in a database, one row per table being repacked, as any session can see them
 * (`pgtools-repack --status`). A row whose run is gone (killed, connection lost) is marked
 * `interrupted`; `cleanupLeftovers` removes it. Empty when nothing runs.
 *
 * @example
 * ```ts
 * import { readProgress } from '@pgtools/repack';
 * for (const r of await readProgress({ connectionString: process.env.DATABASE_URL }))
 *   console.log(`${r.schema}.${r.table} ${r.phase} ${r.rowsCopied}/${r.rowsTotalEstimate ?? '?'}`);
 * ```
 */
export async function readProgress(db: PoolOrConfig, options: { toolSchema?: string } = {}): Promise<ProgressRow[]> {
  const toolSchema = options.toolSchema ?? 'pgtools';
  const source = connectionSource(db);
  const client = await source.connect();
  try {
    if (!(await hasProgressTable(client, toolSchema))) return [];
    const { rows } = await client.query<StatusRecord>(buildProgressStatusSql(toolSchema));
    return rows.map((r) => ({
      schema: r.schema_name,
      table: r.table_name,
      phase: r.phase,
      rowsCopied: r.rows_copied,
      rowsTotalEstimate: r.rows_total_estimate,
      logBacklog: r.log_backlog,
      etaSeconds: r.eta_seconds,
      pid: r.pid,
      startedAt: r.started_at,
      updatedAt: r.updated_at,
      interrupted: r.interrupted,
    }));
  } finally {
    await source.release(client);
    await source.end();
  }
}

/** Removes the progress rows of runs that are gone (all, or only those of `tableOid`); returns what it removed. */
export async function removeInterruptedProgress(client: pg.ClientBase, toolSchema: string, tableOid?: number): Promise<string[]> {
  if (!(await hasProgressTable(client, toolSchema))) return [];
  const { rows } = await client.query<{ schema_name: string; table_name: string; pid: number }>(buildDeleteInterruptedSql(toolSchema), [tableOid ?? null]);
  return rows.map((r) => `progress row of ${r.schema_name}.${r.table_name} (interrupted run, PID ${r.pid})`);
}

/**
 * Drops the progress table when no row is left in it, so that nothing of a finished run stays
 * behind. Waits at most 100 ms for the table's lock: a table still in use stays, and so does one
 * owned by another role. Outside any transaction of the caller's.
 */
export async function dropProgressIfEmpty(client: pg.ClientBase, toolSchema: string, logger: Logger): Promise<void> {
  if (!(await hasProgressTable(client, toolSchema))) return;
  const sql = buildDropProgressIfEmptySql(toolSchema);
  try {
    await client.query('BEGIN');
    await client.query(sql.timeout);
    await client.query(sql.lock);
    const { rows } = await client.query<{ empty: boolean }>(sql.empty);
    if (rows[0]?.empty) await client.query(sql.drop);
    await client.query('COMMIT');
  } catch (err) {
    debugFailure(logger, 'dropping the empty progress table')(err);
    await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK after keeping the progress table'));
  }
}

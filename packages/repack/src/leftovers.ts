import type pg from 'pg';
import { debugFailure, quoteQualified, type Logger } from '@pgtools/core';
import { acquireTableLock } from '@pgtools/lock';
import { buildDropCaptureSql, cdcObjectNames, dropCapture } from '@pgtools/cdc';
import type { ConnectionSource } from './connection-source.js';
import { shadowTableName } from './names.js';

/**
 * Everything a table's repack leaves behind when it stops half-way, in one place: the capture
 * trigger on the table, the log table and function, and the shadow table (all named after the
 * table's OID, so a later run finds them), how to drop them, and the hint that names them.
 */

/** What an earlier run left for this table. */
async function findLeftovers(client: pg.ClientBase, tableOid: number, toolSchema: string): Promise<string[]> {
  const names = cdcObjectNames(tableOid, toolSchema);
  const { rows } = await client.query<{ what: string }>(
    `SELECT 'trigger ' || t.tgname AS what FROM pg_trigger t WHERE t.tgrelid = $1 AND t.tgname = $2
     UNION ALL
     SELECT 'table ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $3 AND c.relname IN ($4, $5)
     UNION ALL
     SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $3 AND p.proname = $6`,
    [tableOid, names.triggerName, toolSchema, names.logTable, shadowTableName(tableOid), names.functionName],
  );
  return rows.map((r) => r.what);
}

export async function hasLeftovers(client: pg.ClientBase, tableOid: number, toolSchema: string): Promise<boolean> {
  return (await findLeftovers(client, tableOid, toolSchema)).length > 0;
}

/** Drops what an earlier, dead run left for this table (we hold the advisory lock, so it is dead). */
export async function removeLeftovers(client: pg.ClientBase, tableOid: number, toolSchema: string): Promise<string[]> {
  const found = await findLeftovers(client, tableOid, toolSchema);
  if (found.length === 0) return [];
  // The log keeps rows of a table's type (after a rename swap, of the old table now in the shadow's place): it goes first.
  await dropCapture(client, cdcObjectNames(tableOid, toolSchema));
  await client.query(`DROP TABLE IF EXISTS ${quoteQualified(toolSchema, shadowTableName(tableOid))}`);
  return found;
}

/** What the user reads when this run's leftovers could not be dropped: exactly what remains, and how to clean it. */
export function leftoverHint(table: { schema: string; name: string }, tableOid: number, toolSchema: string, triggerMayExist: boolean): string {
  const trigger = triggerMayExist ? 'trigger on the table, ' : '';
  return `the table is intact; leftovers of this run remain (${trigger}${toolSchema}.log_${tableOid}, ${toolSchema}.${shadowTableName(tableOid)}): run pgtools-repack --cleanup -t ${quoteQualified(table.schema, table.name)} or simply run the repack again`;
}

export interface CleanupAfterFailure {
  work: pg.ClientBase;
  /** The work connection broke: a fresh one does the cleanup. */
  workBroken: boolean;
  source: ConnectionSource;
  table: { schema: string; name: string };
  tableOid: number;
  /** The capture trigger may be on the user's table (sent, and not known to be rolled back). */
  triggerMayExist: boolean;
  toolSchema: string;
  waitTimeoutMs: number;
  logger: Logger;
}

/**
 * After a failure: drop the capture trigger, the log and the shadow table. Dropping the trigger
 * needs a short ACCESS EXCLUSIVE; if it cannot be had, the objects stay (the trigger keeps logging
 * into the unlogged log table, harmless but growing) and the caller tells the user how to clean.
 * When the trigger was never attached, only our own objects are dropped, with no lock on the table.
 * Returns the hint when something remains.
 */
export async function cleanupAfterFailure(args: CleanupAfterFailure): Promise<string | undefined> {
  const { source, table, tableOid, triggerMayExist, toolSchema, waitTimeoutMs, logger } = args;
  let client: pg.ClientBase = args.work;
  let own: (pg.PoolClient | pg.Client) | undefined;
  const shadowSql = `DROP TABLE IF EXISTS ${quoteQualified(toolSchema, shadowTableName(tableOid))}`;
  try {
    if (args.workBroken) {
      own = await source.connect();
      client = own;
    }
    await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK before the cleanup after a failed repack'));
    if (!triggerMayExist) {
      // Bounded anyway: the drops lock only our objects, never wait long for anyone.
      await client.query('BEGIN');
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [String(Math.min(waitTimeoutMs, 10_000))]);
      for (const sql of [...buildDropCaptureSql(cdcObjectNames(tableOid, toolSchema)), shadowSql]) await client.query(sql);
      await client.query('COMMIT');
      return undefined;
    }
    await acquireTableLock({
      client,
      relations: [table],
      mode: 'ACCESS EXCLUSIVE',
      waitTimeoutMs: Math.min(waitTimeoutMs, 10_000),
      onBlockers: 'give-up',
      logger,
    });
    await removeLeftovers(client, tableOid, toolSchema);
    await client.query('COMMIT');
    return undefined;
  } catch (err) {
    await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK after the failed cleanup'));
    logger.warn(`could not clean up after the failed repack: ${(err as Error).message}`);
    return leftoverHint(table, tableOid, toolSchema, triggerMayExist);
  } finally {
    if (own) await source.release(own, false);
  }
}

import { debugFailure, PgToolsError, quoteQualified, silentLogger, type Logger, type PoolOrConfig } from '@pgtools/core';
import { findCaptures, dropCapture } from '@pgtools/cdc';
import { acquireTableLock, releaseAdvisoryTableLock, tryAdvisoryTableLock } from '@pgtools/lock';
import { connectionSource } from './connections.js';
import { shadowTableName } from './names.js';
import { finishMatviewLeftovers } from './matview-leftovers.js';
import { dropProgressIfEmpty, removeInterruptedProgress } from './progress-status.js';

export interface CleanupReport {
  removed: string[];
  /** Leftovers that belong to a run still in progress, or whose table could not be locked. */
  kept: Array<{ object: string; reason: string }>;
}

/**
 * Removes what interrupted repacks left behind (capture triggers, log tables, shadow tables,
 * progress rows),
 * skipping anything that belongs to a run still holding its advisory lock.
 *
 * @example
 * ```ts
 * import { cleanupLeftovers } from '@pgtools/repack';
 * const report = await cleanupLeftovers({ connectionString: process.env.DATABASE_URL });
 * console.log('removed', report.removed);
 * ```
 */
export async function cleanupLeftovers(
  db: PoolOrConfig,
  options: { toolSchema?: string; waitTimeoutMs?: number; logger?: Logger; tableOid?: number } = {},
): Promise<CleanupReport> {
  const toolSchema = options.toolSchema ?? 'pgtools';
  const logger = options.logger ?? silentLogger;
  const source = connectionSource(db);
  const client = await source.connect();
  const report: CleanupReport = { removed: [], kept: [] };
  try {
    // Materialized views a run left on its old table first: the old table goes only once none reads it.
    const matviews = await finishMatviewLeftovers(client, {
      toolSchema,
      ...(options.tableOid !== undefined ? { tableOid: options.tableOid } : {}),
      waitTimeoutMs: options.waitTimeoutMs ?? 10_000,
      onBlockers: 'give-up',
      logger,
    });
    report.removed.push(...matviews.removed);
    report.kept.push(...matviews.kept);
    const captures = await findCaptures(client, toolSchema);
    const { rows: shadows } = await client.query<{ name: string; oid: string }>(
      `SELECT c.relname AS name, substring(c.relname from '^table_([0-9]+)$') AS oid
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname ~ '^table_[0-9]+$'`,
      [toolSchema],
    );
    const oids = new Set<number>([...captures.map((c) => c.names.tableOid), ...shadows.map((s) => Number(s.oid))]);
    for (const oid of oids) {
      if (options.tableOid !== undefined && oid !== options.tableOid) continue;
      if (matviews.keptTables.has(oid)) continue;
      const advisory = await tryAdvisoryTableLock(client, oid);
      if (!advisory.acquired) {
        report.kept.push({ object: `leftovers of table OID ${oid}`, reason: `a repack is running on it (PID ${advisory.holderPid ?? '?'})` });
        continue;
      }
      try {
        const capture = captures.find((c) => c.names.tableOid === oid);
        const { rows: table } = await client.query<{ schema: string; name: string }>(
          'SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1',
          [oid],
        );
        const owner = table[0];
        if (owner) {
          // Dropping the trigger needs a moment of ACCESS EXCLUSIVE on the user's table.
          await acquireTableLock({
            client,
            relations: [owner],
            mode: 'ACCESS EXCLUSIVE',
            waitTimeoutMs: options.waitTimeoutMs ?? 10_000,
            onBlockers: 'give-up',
            logger,
          });
        } else {
          await client.query('BEGIN');
        }
        if (capture) {
          await dropCapture(client, capture.names);
          report.removed.push(`capture of ${owner ? quoteQualified(owner.schema, owner.name) : `OID ${oid}`} (${toolSchema}.${capture.names.logTable})`);
        }
        const shadow = shadows.find((s) => Number(s.oid) === oid);
        if (shadow) {
          await client.query(`DROP TABLE IF EXISTS ${quoteQualified(toolSchema, shadowTableName(oid))}`);
          report.removed.push(`${toolSchema}.${shadow.name}`);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK after a failed cleanup'));
        if (!(err instanceof PgToolsError)) throw err;
        report.kept.push({ object: `leftovers of table OID ${oid}`, reason: err.message });
      } finally {
        await releaseAdvisoryTableLock(client, oid);
      }
    }
    // Progress rows of runs that are gone (killed in the middle); the table goes once it is empty.
    report.removed.push(...(await removeInterruptedProgress(client, toolSchema, options.tableOid)));
    await dropProgressIfEmpty(client, toolSchema, logger);
    return report;
  } finally {
    await source.release(client);
    await source.end();
  }
}

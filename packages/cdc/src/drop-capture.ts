import { silentLogger, wrapPgError, type Logger, type Queryable } from '@pgtools/core';
import { buildDropCaptureSql } from './capture-sql.js';
import type { CdcNames, RelationName } from './types.js';

const TABLE_BY_OID_SQL = `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`;

/**
 * Drops the capture trigger, function and log table; idempotent, and works from the names alone
 * (a leftover of a crashed run). The table is found by OID, so a rename since does not matter.
 * Dropping the trigger takes ACCESS EXCLUSIVE on the table: pass a lock_timeout on the session
 * or hold the lock already. Throws `capture_drop_failed`.
 *
 * @example
 * ```ts
 * import { cdcObjectNames, dropCapture } from '@pgtools/cdc';
 * await dropCapture(client, cdcObjectNames(16384));
 * ```
 */
export async function dropCapture(
  client: Queryable,
  names: CdcNames,
  options: { logger?: Logger; /** The trigger is gone already (detachCapture): do not lock the table again. */ triggerDropped?: boolean } = {},
): Promise<void> {
  const logger = options.logger ?? silentLogger;
  try {
    const found = options.triggerDropped ? undefined : (await client.query<RelationName>(TABLE_BY_OID_SQL, [names.tableOid])).rows[0];
    for (const sql of buildDropCaptureSql(names, found)) await client.query(sql);
  } catch (err) {
    throw wrapPgError(err, 'capture_drop_failed', `dropping the change capture of table OID ${names.tableOid}`);
  }
  logger.debug('change capture dropped', { tableOid: names.tableOid, log: `${names.toolSchema}.${names.logTable}` });
}

/**
 * Drops only the capture trigger (ACCESS EXCLUSIVE on the table, briefly), leaving the function and
 * the log for {@link dropCapture} later, outside the lock. Idempotent.
 *
 * @example
 * ```ts
 * import { detachCapture, dropCapture } from '@pgtools/cdc';
 * await detachCapture(client, capture); // under the swap lock
 * // ... COMMIT, then:
 * await dropCapture(client, capture);
 * ```
 */
export async function detachCapture(client: Queryable, names: CdcNames): Promise<void> {
  try {
    const found = await client.query<RelationName>(TABLE_BY_OID_SQL, [names.tableOid]);
    const table = found.rows[0];
    if (table) await client.query(buildDropCaptureSql(names, table)[0]!);
  } catch (err) {
    throw wrapPgError(err, 'capture_drop_failed', `dropping the capture trigger of table OID ${names.tableOid}`);
  }
}

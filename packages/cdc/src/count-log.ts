import { wrapPgError, type Queryable } from '@pgtools/core';
import { buildCountLogSql } from './apply-sql.js';
import type { CdcNames } from './types.js';

/**
 * Number of entries waiting in the log (committed ones, as this statement's snapshot sees them).
 *
 * @example
 * ```ts
 * import { countLog } from '@pgtools/cdc';
 * console.log(`${await countLog(client, objects)} changes to replay`);
 * ```
 */
export async function countLog(client: Queryable, names: CdcNames): Promise<number> {
  try {
    const { rows } = await client.query<{ n: string }>(buildCountLogSql(names));
    return Number(rows[0]?.n ?? 0);
  } catch (err) {
    throw wrapPgError(err, 'log_read_failed', `counting ${names.toolSchema}.${names.logTable}`);
  }
}

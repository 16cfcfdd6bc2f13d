import { displayName, PgToolsError, quoteQualified, silentLogger, wrapPgError, type Queryable } from '@pgtools/core';
import { loadTable } from './catalog.js';
import type { RelationName, SwapCommonOptions } from './types.js';

export interface DropShadowOptions extends SwapCommonOptions {
  /** Refuse unless the table still has this OID (guards against dropping a table that took the name since). */
  expectedOid?: number;
}

/**
 * Drops the shadow table after a swap (it then holds the original's old files and old definition).
 * No CASCADE: if something still depends on it, the DROP fails and nothing is lost.
 *
 * @example
 * ```ts
 * import { dropShadow } from '@pgtools/swap';
 * await dropShadow(client, { schema: 'pgtools', name: 'table_16385' });
 * ```
 */
export async function dropShadow(client: Queryable, shadow: RelationName, options: DropShadowOptions = {}): Promise<void> {
  const table = await loadTable(client, shadow, 'shadow');
  const name = displayName(shadow.schema, shadow.name);
  if (options.expectedOid !== undefined && table.oid !== options.expectedOid) {
    throw new PgToolsError('swap_precondition', `refusing to drop ${name}: it has OID ${table.oid}, expected ${options.expectedOid}`);
  }
  try {
    await client.query(`DROP TABLE ${quoteQualified(shadow.schema, shadow.name)}`);
  } catch (err) {
    throw wrapPgError(err, 'drop_shadow_failed', `dropping ${name} failed`);
  }
  (options.logger ?? silentLogger).info('shadow table dropped', { table: name });
  options.onEvent?.({ type: 'shadow_dropped', shadow });
}

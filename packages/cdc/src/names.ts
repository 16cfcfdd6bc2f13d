import { PgToolsError, quoteIdent } from '@pgtools/core';
import type { CdcNames } from './types.js';

/**
 * The tool schema used when none is given.
 *
 * @example
 * ```ts
 * import { DEFAULT_TOOL_SCHEMA, findCaptures } from '@pgtools/cdc';
 * await findCaptures(client, DEFAULT_TOOL_SCHEMA);
 * ```
 */
export const DEFAULT_TOOL_SCHEMA = 'pgtools';

/**
 * Prefix of the capture trigger. AFTER ROW triggers fire in byte order of their names, and ours
 * must fire first: if a user trigger (or a self-referencing `ON UPDATE CASCADE`, whose
 * `RI_ConstraintTrigger_*` names sort before lower case) changes the same row from inside its
 * AFTER trigger, that nested change is logged by the nested event. Firing after it would log the
 * outer, older image with a higher id and the apply would replay a stale row. `!` (0x21) sorts
 * before digits, letters and `_`.
 *
 * @example
 * ```ts
 * import { TRIGGER_PREFIX } from '@pgtools/cdc';
 * const ours = (tgname: string) => tgname.startsWith(TRIGGER_PREFIX);
 * ```
 */
export const TRIGGER_PREFIX = '!pgtools_capture_';
export const LOG_PREFIX = 'log_';
export const FUNCTION_PREFIX = 'capture_';

function checkOid(tableOid: number): void {
  if (!Number.isInteger(tableOid) || tableOid <= 0 || tableOid > 0xffffffff) {
    throw new PgToolsError('invalid_argument', `table OID must be a positive 32-bit integer, got ${String(tableOid)}`);
  }
}

/**
 * Names of the capture objects for a table, from its OID alone (deterministic, so leftovers of a
 * crashed run can be found and dropped by the next one).
 *
 * @example
 * ```ts
 * import { cdcObjectNames } from '@pgtools/cdc';
 * cdcObjectNames(16384);
 * // => { tableOid: 16384, toolSchema: 'pgtools', logTable: 'log_16384',
 * //      triggerName: '!pgtools_capture_16384', functionName: 'capture_16384' }
 * ```
 */
export function cdcObjectNames(tableOid: number, toolSchema: string = DEFAULT_TOOL_SCHEMA): CdcNames {
  checkOid(tableOid);
  quoteIdent(toolSchema); // refuses names PostgreSQL would truncate, early
  return {
    tableOid,
    toolSchema,
    logTable: `${LOG_PREFIX}${tableOid}`,
    triggerName: `${TRIGGER_PREFIX}${tableOid}`,
    functionName: `${FUNCTION_PREFIX}${tableOid}`,
  };
}

/**
 * The table OID encoded in one of our object names (`log_16384`, `capture_16384`,
 * `!pgtools_capture_16384`), or undefined when the name is not ours.
 *
 * @example
 * ```ts
 * import { tableOidFromName } from '@pgtools/cdc';
 * tableOidFromName('log_16384'); // => 16384
 * tableOidFromName('orders');    // => undefined
 * ```
 */
export function tableOidFromName(name: string): number | undefined {
  for (const prefix of [TRIGGER_PREFIX, LOG_PREFIX, FUNCTION_PREFIX]) {
    if (!name.startsWith(prefix)) continue;
    const digits = name.slice(prefix.length);
    if (!/^[1-9][0-9]{0,9}$/.test(digits)) return undefined;
    const oid = Number(digits);
    return oid <= 0xffffffff ? oid : undefined;
  }
  return undefined;
}

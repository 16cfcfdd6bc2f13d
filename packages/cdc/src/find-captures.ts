import { wrapPgError, type Queryable } from '@pgtools/core';
import { cdcObjectNames, DEFAULT_TOOL_SCHEMA, tableOidFromName } from './names.js';
import type { FoundCapture, RelationName } from './types.js';

const OBJECTS_SQL = `SELECT c.relname::text AS name, 'log' AS kind FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname ~ '^log_[1-9][0-9]*$'
UNION ALL
SELECT p.proname::text, 'function' FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = $1 AND p.proname ~ '^capture_[1-9][0-9]*$' AND p.pronargs = 0
UNION ALL
SELECT t.tgname::text, 'trigger' FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = $1
    AND CASE WHEN t.tgname ~ '^!pgtools_capture_[1-9][0-9]{0,9}$' THEN substr(t.tgname, 18)::bigint END = t.tgrelid::bigint`;

const TABLES_SQL = `SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY ($1::oid[])`;

/**
 * Lists capture objects found in the catalog for the tool schema (log tables, trigger functions,
 * and triggers calling those functions), grouped by the table OID in their names, with the table
 * as named now or `null` when it no longer exists. Use it to clean up after a crashed run.
 *
 * @example
 * ```ts
 * import { dropCapture, findCaptures } from '@pgtools/cdc';
 * for (const leftover of await findCaptures(client)) await dropCapture(client, leftover.names);
 * ```
 */
export async function findCaptures(client: Queryable, toolSchema: string = DEFAULT_TOOL_SCHEMA): Promise<FoundCapture[]> {
  try {
    const objects = await client.query<{ name: string; kind: 'log' | 'function' | 'trigger' }>(OBJECTS_SQL, [toolSchema]);
    const byOid = new Map<number, FoundCapture>();
    for (const row of objects.rows) {
      const oid = tableOidFromName(row.name);
      if (oid === undefined) continue;
      let entry = byOid.get(oid);
      if (!entry) {
        entry = { names: cdcObjectNames(oid, toolSchema), table: null, hasLogTable: false, hasFunction: false, hasTrigger: false };
        byOid.set(oid, entry);
      }
      if (row.kind === 'log') entry.hasLogTable = true;
      else if (row.kind === 'function') entry.hasFunction = true;
      else entry.hasTrigger = true;
    }
    if (byOid.size === 0) return [];
    const tables = await client.query<RelationName & { oid: string }>(TABLES_SQL, [[...byOid.keys()]]);
    for (const t of tables.rows) {
      const entry = byOid.get(Number(t.oid));
      if (entry) entry.table = { schema: t.schema, name: t.name };
    }
    return [...byOid.values()].sort((a, b) => a.names.tableOid - b.names.tableOid);
  } catch (err) {
    throw wrapPgError(err, 'catalog_query_failed', `looking for change captures in schema ${JSON.stringify(toolSchema)}`);
  }
}

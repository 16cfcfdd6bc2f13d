import { PgToolsError, quoteIdent, quoteLiteral, quoteQualified } from '@pgtools/core';
import type { CdcNames, RelationName } from './types.js';

/** A key column of the captured table as the log table must store it. */
export interface KeyColumnDef {
  name: string;
  /** The type as `format_type(atttypid, atttypmod)` prints it (server-side quoting, schema-qualified when needed). */
  type: string;
  /** The column's collation, when it has one. */
  collation?: RelationName | undefined;
}

/** Name of the log column holding the old value of the i-th key column (0-based `i`). */
export function oldKeyColumn(i: number): string {
  return `old_key_${i + 1}`;
}

/**
 * `CREATE SCHEMA IF NOT EXISTS` for the tool schema.
 *
 * @example
 * ```ts
 * import { buildCreateSchemaSql } from '@pgtools/cdc';
 * buildCreateSchemaSql('pgtools'); // => CREATE SCHEMA IF NOT EXISTS "pgtools"
 * ```
 */
export function buildCreateSchemaSql(toolSchema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(toolSchema)}`;
}

/**
 * The log table: UNLOGGED (worthless after a crash, the run must restart anyway), autovacuum off
 * (the apply deletes its rows in id order; vacuum would only compete), an identity id (no sequence
 * privilege needed by the writers, unlike `bigserial`), an explicit operation column (never infer
 * the operation from `row IS NULL`, false as soon as one column is NULL), the old key in typed
 * columns with the table's collations, and the new row image typed as the table's row type
 * (which also makes DDL on the table fail while a capture exists).
 *
 * @example
 * ```ts
 * import { buildCreateLogTableSql, cdcObjectNames } from '@pgtools/cdc';
 * const sql = buildCreateLogTableSql(cdcObjectNames(16384), { schema: 'public', name: 'orders' },
 *   [{ name: 'id', type: 'bigint' }]);
 * ```
 */
export function buildCreateLogTableSql(names: CdcNames, table: RelationName, keys: KeyColumnDef[]): string {
  if (keys.length === 0) throw new PgToolsError('invalid_argument', 'at least one key column is needed');
  const keyCols = keys.map((k, i) => {
    const collate = k.collation ? ` COLLATE ${quoteQualified(k.collation.schema, k.collation.name)}` : '';
    return `  ${quoteIdent(oldKeyColumn(i))} ${k.type}${collate}`;
  });
  return [
    `CREATE UNLOGGED TABLE ${quoteQualified(names.toolSchema, names.logTable)} (`,
    '  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,',
    `  op "char" NOT NULL CHECK (op IN ('I', 'U', 'D')),`,
    ...keyCols.map((c) => `${c},`),
    `  new_row ${quoteQualified(table.schema, table.name)}`,
    ') WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)',
  ].join('\n');
}

/**
 * The PL/pgSQL trigger function: one log row per row event. INSERT logs the new image, DELETE the
 * old key, UPDATE both (the apply reads an UPDATE as "delete the old key, insert the new image").
 * SECURITY INVOKER with a pinned search_path; every name in the body is quoted and qualified.
 *
 * @example
 * ```ts
 * import { buildCaptureFunctionSql, cdcObjectNames } from '@pgtools/cdc';
 * const sql = buildCaptureFunctionSql(cdcObjectNames(16384), ['id']);
 * ```
 */
export function buildCaptureFunctionSql(names: CdcNames, keyColumns: string[]): string {
  if (keyColumns.length === 0) throw new PgToolsError('invalid_argument', 'at least one key column is needed');
  const log = quoteQualified(names.toolSchema, names.logTable);
  const oldCols = keyColumns.map((_, i) => quoteIdent(oldKeyColumn(i))).join(', ');
  const oldVals = keyColumns.map((k) => `OLD.${quoteIdent(k)}`).join(', ');
  const body = [
    'BEGIN',
    `  IF TG_OP = 'INSERT' THEN`,
    `    INSERT INTO ${log} (op, new_row) VALUES ('I', NEW);`,
    `  ELSIF TG_OP = 'UPDATE' THEN`,
    `    INSERT INTO ${log} (op, ${oldCols}, new_row) VALUES ('U', ${oldVals}, NEW);`,
    '  ELSE',
    `    INSERT INTO ${log} (op, ${oldCols}) VALUES ('D', ${oldVals});`,
    '  END IF;',
    '  RETURN NULL;',
    'END',
  ].join('\n');
  return [
    `CREATE FUNCTION ${quoteQualified(names.toolSchema, names.functionName)}() RETURNS trigger`,
    'LANGUAGE plpgsql SECURITY INVOKER',
    'SET search_path = pg_catalog, pg_temp',
    `AS ${quoteLiteral(body)}`,
  ].join('\n');
}

/**
 * The row-level AFTER trigger and its `ENABLE ALWAYS` (so changes applied with
 * `session_replication_role = replica`, as logical replication does, are captured too).
 *
 * @example
 * ```ts
 * import { buildCreateTriggerSql, cdcObjectNames } from '@pgtools/cdc';
 * const [create, enable] = buildCreateTriggerSql(cdcObjectNames(16384), { schema: 'public', name: 'orders' });
 * ```
 */
export function buildCreateTriggerSql(names: CdcNames, table: RelationName): [string, string] {
  const t = quoteQualified(table.schema, table.name);
  const trg = quoteIdent(names.triggerName);
  return [
    `CREATE TRIGGER ${trg} AFTER INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${quoteQualified(names.toolSchema, names.functionName)}()`,
    `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${trg}`,
  ];
}

/**
 * `COMMENT ON TABLE` for the log, recording what it captures, so `findCaptures` can say which
 * table a leftover belonged to even after that table is gone.
 *
 * @example
 * ```ts
 * import { buildLogCommentSql, cdcObjectNames } from '@pgtools/cdc';
 * buildLogCommentSql(cdcObjectNames(16384), { schema: 'public', name: 'orders' }, ['id']);
 * ```
 */
export function buildLogCommentSql(names: CdcNames, table: RelationName, keyColumns: string[]): string {
  const doc = JSON.stringify({ pgtools: 'cdc-log', tableOid: names.tableOid, schema: table.schema, name: table.name, keyColumns });
  return `COMMENT ON TABLE ${quoteQualified(names.toolSchema, names.logTable)} IS ${quoteLiteral(doc)}`;
}

/**
 * Grants the writers of the table what the SECURITY INVOKER trigger needs: USAGE on the tool
 * schema and INSERT on the log (only INSERT: reading or rewriting the log would let them change
 * what gets replayed). `grantees` are role names, or `'PUBLIC'` for the PUBLIC pseudo-role.
 *
 * @example
 * ```ts
 * import { buildGrantSql, cdcObjectNames } from '@pgtools/cdc';
 * buildGrantSql(cdcObjectNames(16384), ['app_writer', 'PUBLIC']);
 * ```
 */
export function buildGrantSql(names: CdcNames, grantees: Array<string | 'PUBLIC'>): string[] {
  if (grantees.length === 0) return [];
  const list = grantees.map((g) => (g === 'PUBLIC' ? 'PUBLIC' : quoteIdent(g))).join(', ');
  return [`GRANT USAGE ON SCHEMA ${quoteIdent(names.toolSchema)} TO ${list}`, `GRANT INSERT ON ${quoteQualified(names.toolSchema, names.logTable)} TO ${list}`];
}

/**
 * Statements dropping the capture, each idempotent. `table` is the captured table under its
 * current name (looked up by OID); omit it when the table no longer exists (its triggers went with it).
 *
 * @example
 * ```ts
 * import { buildDropCaptureSql, cdcObjectNames } from '@pgtools/cdc';
 * for (const sql of buildDropCaptureSql(cdcObjectNames(16384), { schema: 'public', name: 'orders' })) {
 *   await client.query(sql);
 * }
 * ```
 */
export function buildDropCaptureSql(names: CdcNames, table?: RelationName): string[] {
  const out: string[] = [];
  if (table) out.push(`DROP TRIGGER IF EXISTS ${quoteIdent(names.triggerName)} ON ${quoteQualified(table.schema, table.name)}`);
  out.push(`DROP FUNCTION IF EXISTS ${quoteQualified(names.toolSchema, names.functionName)}()`);
  out.push(`DROP TABLE IF EXISTS ${quoteQualified(names.toolSchema, names.logTable)}`);
  return out;
}

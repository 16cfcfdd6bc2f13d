import { PgToolsError, silentLogger, sqlStateOf, wrapPgError, type Logger, type Queryable } from '@pgtools/core';
import {
  buildCaptureFunctionSql,
  buildCreateLogTableSql,
  buildCreateSchemaSql,
  buildCreateTriggerSql,
  buildGrantSql,
  buildLogCommentSql,
} from './capture-sql.js';
import { cdcObjectNames, DEFAULT_TOOL_SCHEMA } from './names.js';
import { resolveKey } from './resolve-key.js';
import type { CdcNames, CdcObjects, TableRef } from './types.js';

/**
 * Options of {@link createCapture}.
 *
 * @example
 * ```ts
 * import { createCapture, type CreateCaptureOptions } from '@pgtools/cdc';
 * const options: CreateCaptureOptions = { table: { schema: 'public', name: 'orders', oid: 16384 }, keyColumns: ['id'] };
 * await createCapture(client, options);
 * ```
 */
export interface CreateCaptureOptions {
  table: TableRef;
  /** Column names of the table's unique NOT NULL key, in index order. */
  keyColumns: string[];
  toolSchema?: string;
  logger?: Logger;
}

const EXISTING_SQL = `SELECT
  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = $1::oid AND tgname = $2) AS trigger,
  EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $3 AND c.relname = $4) AS log,
  EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = $3 AND p.proname = $5) AS function`;

// Triggers that fire before ours (byte order of names); they are only a problem when they change
// the same rows of the table again, which the caller may want to know about.
const EARLIER_TRIGGERS_SQL = `SELECT tgname FROM pg_catalog.pg_trigger
WHERE tgrelid = $1::oid AND tgname COLLATE "C" < $2 COLLATE "C" AND (tgtype & 1) = 1 AND (tgtype & 2) = 0 ORDER BY 1`;

// Roles that may write the table (table or column privileges, and the owner): they run the
// SECURITY INVOKER trigger and so need to insert into the log.
const WRITERS_SQL = `SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END AS grantee
FROM (
  SELECT (pg_catalog.aclexplode(c.relacl)).* FROM pg_catalog.pg_class c WHERE c.oid = $1::oid AND c.relacl IS NOT NULL
  UNION ALL
  SELECT (pg_catalog.aclexplode(at.attacl)).* FROM pg_catalog.pg_attribute at
  WHERE at.attrelid = $1::oid AND at.attacl IS NOT NULL AND NOT at.attisdropped
  UNION ALL
  SELECT c.relowner, c.relowner, 'INSERT', false FROM pg_catalog.pg_class c WHERE c.oid = $1::oid
) AS a
WHERE a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE') AND (a.grantee = 0 OR a.grantee <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))
ORDER BY 1`;

const CHECKS_SQL = `SELECT e.*, ARRAY(SELECT t.tgname::text FROM (${EARLIER_TRIGGERS_SQL}) AS t) AS earlier,
  ARRAY(SELECT w.grantee FROM (${WRITERS_SQL}) AS w) AS writers FROM (${EXISTING_SQL}) AS e`;

/**
 * Creates everything the capture needs except the trigger: the log table, its comment, the capture
 * function and the grants. None of it locks the table against readers or writers, so a caller that
 * wants its ACCESS EXCLUSIVE moment short runs this first, then {@link attachCapture} under the lock.
 * The log table keeps rows of the table's type, so from here on DDL that changes the table's columns
 * fails until the capture is dropped. Throws `capture_exists`, `capture_create_failed` (and the key
 * errors of `resolveKey`).
 *
 * @example
 * ```ts
 * import { prepareCapture, attachCapture } from '@pgtools/cdc';
 * const capture = await prepareCapture(client, { table: { schema: 'public', name: 'orders', oid }, keyColumns: ['id'] });
 * await client.query('BEGIN');
 * await client.query('LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE');
 * await attachCapture(client, capture);
 * await client.query('COMMIT');
 * ```
 */
export async function prepareCapture(client: Queryable, options: CreateCaptureOptions): Promise<CdcObjects> {
  const logger = options.logger ?? silentLogger;
  const { table, keyColumns } = options;
  const names: CdcNames = cdcObjectNames(table.oid, options.toolSchema ?? DEFAULT_TOOL_SCHEMA);
  const key = await resolveKey(client, table.oid, keyColumns);
  if (key.table.schema !== table.schema || key.table.name !== table.name) {
    throw new PgToolsError(
      'table_mismatch',
      `table OID ${table.oid} is ${JSON.stringify(key.table.schema)}.${JSON.stringify(key.table.name)}, not ${JSON.stringify(table.schema)}.${JSON.stringify(table.name)}`,
    );
  }
  try {
    // One round trip for the three reads, one for the DDL: a whole-database run pays each per table.
    const { rows } = await client.query<{ trigger: boolean; log: boolean; function: boolean; earlier: string[]; writers: string[] }>(CHECKS_SQL, [
      table.oid,
      names.triggerName,
      names.toolSchema,
      names.logTable,
      names.functionName,
    ]);
    const found = rows[0];
    if (found && (found.trigger || found.log || found.function)) {
      const what = [
        found.trigger && `trigger ${names.triggerName}`,
        found.log && `log table ${names.logTable}`,
        found.function && `function ${names.functionName}`,
      ]
        .filter(Boolean)
        .join(', ');
      throw new PgToolsError(
        'capture_exists',
        `a change capture for table OID ${table.oid} already exists (${what}): another run is active or a previous one left it behind`,
        {
          hint: 'if no other run is active, drop the leftovers (dropCapture, or pgtools-repack --cleanup)',
        },
      );
    }
    const earlier = found?.earlier ?? [];
    if (earlier.length > 0) {
      logger.warn('AFTER row triggers fire before the capture trigger; if they change the same rows again, replay may be stale', {
        table: `${table.schema}.${table.name}`,
        triggers: earlier,
      });
    }
    // A multi-statement query runs as one implicit transaction: all of it is made, or none.
    const ddl = [
      buildCreateSchemaSql(names.toolSchema),
      buildCreateLogTableSql(names, table, key.columns),
      buildLogCommentSql(names, table, keyColumns),
      buildCaptureFunctionSql(names, keyColumns),
      ...buildGrantSql(names, found?.writers ?? []),
    ].join(';\n');
    await client.query(ddl).catch(async (err: unknown) => {
      // Two runs of one database (tables in parallel) creating the tool schema at once: one of the
      // IF NOT EXISTS loses on the catalog's unique index and its batch rolled back; the schema is there now.
      if (sqlStateOf(err) !== '23505' && sqlStateOf(err) !== '42P06') throw err;
      await client.query(ddl);
    });
  } catch (err) {
    throw wrapPgError(err, 'capture_create_failed', `creating the change capture on ${JSON.stringify(table.schema)}.${JSON.stringify(table.name)}`);
  }
  logger.debug('change capture prepared', { table: `${table.schema}.${table.name}`, log: `${names.toolSchema}.${names.logTable}` });
  return { ...names, table: { ...table }, keyColumns: [...keyColumns], keyOperators: key.operators };
}

/**
 * Attaches the capture trigger (AFTER INSERT OR UPDATE OR DELETE, FOR EACH ROW, ENABLE ALWAYS) to a
 * capture made by {@link prepareCapture}. Takes SHARE ROW EXCLUSIVE on the table; run it while holding
 * ACCESS EXCLUSIVE so no change slips between the copy's snapshot and the trigger. Throws `capture_create_failed`.
 *
 * @example
 * ```ts
 * import { attachCapture } from '@pgtools/cdc';
 * await attachCapture(client, capture); // inside the transaction that holds the lock
 * ```
 */
export async function attachCapture(client: Queryable, capture: CdcObjects): Promise<void> {
  try {
    for (const sql of buildCreateTriggerSql(capture, capture.table)) await client.query(sql);
  } catch (err) {
    throw wrapPgError(
      err,
      'capture_create_failed',
      `attaching the capture trigger to ${JSON.stringify(capture.table.schema)}.${JSON.stringify(capture.table.name)}`,
    );
  }
}

/**
 * Creates the change capture in one go: {@link prepareCapture} then {@link attachCapture}. The
 * caller runs it inside a transaction that holds ACCESS EXCLUSIVE on the table.
 *
 * @example
 * ```ts
 * import { createCapture } from '@pgtools/cdc';
 * const capture = await createCapture(client, { table: { schema: 'public', name: 'orders', oid }, keyColumns: ['id'] });
 * ```
 */
export async function createCapture(client: Queryable, options: CreateCaptureOptions): Promise<CdcObjects> {
  const capture = await prepareCapture(client, options);
  await attachCapture(client, capture);
  return capture;
}

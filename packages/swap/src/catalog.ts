import { displayName, PgToolsError, sqlStateOf, type Queryable } from '@pgtools/core';
import type { IndexRef, RelationName } from './types.js';

/** What the swap functions need to know about a table. */
export interface TableInfo {
  oid: number;
  schema: string;
  name: string;
  relkind: string;
  persistence: string;
  ownerOid: number;
  owner: string;
  toastOid: number;
  rowTypeOid: number;
  /** null: the database's default tablespace. */
  tablespace: string | null;
  accessMethod: string | null;
  reloptions: string[];
  toastReloptions: string[];
  isPartition: boolean;
  ofType: number;
}

export function preconditionError(message: string): PgToolsError {
  return new PgToolsError('swap_precondition', message);
}

/** Reads a table by schema and name; throws swap_precondition when it is missing. */
export async function loadTable(client: Queryable, ref: RelationName, role: string): Promise<TableInfo> {
  const { rows } = await client.query<{
    oid: number;
    schema: string;
    name: string;
    relkind: string;
    persistence: string;
    owner_oid: number;
    owner: string;
    toast_oid: number;
    reltype: number;
    tablespace: string | null;
    am: string | null;
    reloptions: string[] | null;
    toast_reloptions: string[] | null;
    relispartition: boolean;
    reloftype: number;
  }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
            c.relpersistence::text AS persistence, c.relowner::int8 AS owner_oid, pg_catalog.pg_get_userbyid(c.relowner) AS owner,
            c.reltoastrelid::int8 AS toast_oid, c.reltype::int8 AS reltype, ts.spcname AS tablespace, am.amname AS am,
            c.reloptions, tc.reloptions AS toast_reloptions, c.relispartition, c.reloftype::int8 AS reloftype
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace
       LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
       LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
      WHERE n.nspname = $1 AND c.relname = $2`,
    [ref.schema, ref.name],
  );
  const row = rows[0];
  if (!row) throw preconditionError(`${role} table ${displayName(ref.schema, ref.name)} does not exist`);
  if (row.relkind !== 'r') {
    throw preconditionError(`${role} table ${displayName(ref.schema, ref.name)} is not an ordinary table (relkind '${row.relkind}')`);
  }
  if (row.persistence !== 'p') {
    throw preconditionError(`${role} table ${displayName(ref.schema, ref.name)} is not a permanent table (unlogged or temporary)`);
  }
  return {
    oid: Number(row.oid),
    schema: row.schema,
    name: row.name,
    relkind: row.relkind,
    persistence: row.persistence,
    ownerOid: Number(row.owner_oid),
    owner: row.owner,
    toastOid: Number(row.toast_oid),
    rowTypeOid: Number(row.reltype),
    tablespace: row.tablespace,
    accessMethod: row.am,
    reloptions: row.reloptions ?? [],
    toastReloptions: row.toast_reloptions ?? [],
    isPartition: row.relispartition,
    ofType: Number(row.reloftype),
  };
}

/** An index reference resolved to its OID and the table it belongs to. */
export interface IndexIdentity {
  oid: number;
  table: number;
  schema: string;
  name: string;
}

/** Resolves an index reference; a `missing` text when there is no such index. */
export async function findIndex(client: Queryable, ref: IndexRef): Promise<IndexIdentity | { missing: string }> {
  const byOid = typeof ref === 'number';
  const { rows } = await client.query<{ oid: number; table: number; schema: string; name: string }>(
    `SELECT c.oid::int8 AS oid, i.indrelid::int8 AS table, n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${byOid ? 'c.oid = $1::int8::oid' : 'n.nspname = $1 AND c.relname = $2'}`,
    byOid ? [ref] : [ref.schema, ref.name],
  );
  const row = rows[0];
  if (!row) return { missing: `index ${byOid ? `with OID ${ref}` : displayName(ref.schema, ref.name)} does not exist` };
  return { oid: Number(row.oid), table: Number(row.table), schema: row.schema, name: row.name };
}

/** True when the role the statements run as (current_user) is a superuser. */
export async function currentRoleIsSuperuser(client: Queryable): Promise<{ superuser: boolean; role: string }> {
  const { rows } = await client.query<{ rolsuper: boolean; role: string }>(
    'SELECT r.rolsuper, r.rolname AS role FROM pg_catalog.pg_roles r WHERE r.rolname = current_user',
  );
  return { superuser: rows[0]?.rolsuper === true, role: rows[0]?.role ?? '' };
}

/**
 * An OID as a SQL literal, for statements sent without parameters (multi-statement queries, DO blocks).
 *
 * @example
 * ```ts
 * oidLiteral(16384); // '16384::pg_catalog.oid'
 * ```
 */
export function oidLiteral(n: number): string {
  if (!Number.isSafeInteger(n) || n <= 0) throw new PgToolsError('swap_precondition', `not an OID: ${n}`);
  return `${n}::pg_catalog.oid`;
}

/** SQLSTATE of the swaps' own checks under the lock (object_not_in_prerequisite_state). */
export const SWAP_CHECK_STATE = '55000';
const LOCK_NOT_HELD_MESSAGE = 'pgtools swap: ACCESS EXCLUSIVE is not held on both tables';

/**
 * PL/pgSQL that raises an error unless this transaction holds ACCESS EXCLUSIVE on both tables:
 * the swap must run inside the transaction that locked them, or another session could read or
 * vacuum a file mid-swap. Put inside a DO block sent first, so nothing after it runs.
 *
 * @example
 * ```ts
 * const sql = `DO $pgtools$ BEGIN ${accessExclusiveCheck(original, shadow)} END $pgtools$`;
 * ```
 */
export function accessExclusiveCheck(a: TableInfo, b: TableInfo): string {
  return `IF (SELECT count(*) FROM pg_catalog.pg_locks l
           WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
             AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
             AND l.relation IN (${oidLiteral(a.oid)}, ${oidLiteral(b.oid)})) <> 2 THEN
        RAISE EXCEPTION USING ERRCODE = '${SWAP_CHECK_STATE}', MESSAGE = '${LOCK_NOT_HELD_MESSAGE}';
      END IF;`;
}

/**
 * The `swap_precondition` error when `err` is the refusal of {@link accessExclusiveCheck}, else undefined.
 *
 * @example
 * ```ts
 * throw lockNotHeldError(err, original, shadow) ?? err;
 * ```
 */
export function lockNotHeldError(err: unknown, a: TableInfo, b: TableInfo): PgToolsError | undefined {
  if (sqlStateOf(err) !== SWAP_CHECK_STATE || (err as Error | undefined)?.message !== LOCK_NOT_HELD_MESSAGE) return undefined;
  return preconditionError(
    `this transaction does not hold ACCESS EXCLUSIVE on ${displayName(a.schema, a.name)} and ${displayName(b.schema, b.name)}; ` +
      'run the swap inside the transaction that ran LOCK TABLE ... IN ACCESS EXCLUSIVE MODE on both tables',
  );
}

export interface ColumnInfo {
  attnum: number;
  name: string;
  dropped: boolean;
  type: string;
  typeOid: number;
  typmod: number;
  collation: number;
  notNull: boolean;
  identity: string;
  generated: string;
}

export async function loadColumns(client: Queryable, oid: number): Promise<ColumnInfo[]> {
  const { rows } = await client.query<{
    attnum: number;
    attname: string;
    attisdropped: boolean;
    type: string;
    atttypid: number;
    atttypmod: number;
    attcollation: number;
    attnotnull: boolean;
    attidentity: string;
    attgenerated: string;
  }>(
    `SELECT a.attnum, a.attname, a.attisdropped, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
            a.atttypid::int8 AS atttypid, a.atttypmod, a.attcollation::int8 AS attcollation, a.attnotnull,
            a.attidentity::text AS attidentity, a.attgenerated::text AS attgenerated
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 ORDER BY a.attnum`,
    [oid],
  );
  return rows.map((r) => ({
    attnum: r.attnum,
    name: r.attname,
    dropped: r.attisdropped,
    type: r.type,
    typeOid: Number(r.atttypid),
    typmod: r.atttypmod,
    collation: Number(r.attcollation),
    notNull: r.attnotnull,
    identity: r.attidentity,
    generated: r.attgenerated,
  }));
}

/** Properties of an index that a faithful copy must share with the original (names excluded). */
export interface IndexShape {
  oid: number;
  table: number;
  name: string;
  schema: string;
  valid: boolean;
  unique: boolean;
  primary: boolean;
  /** Everything structural, as one comparable string. */
  shape: string;
  constraintName: string | null;
  constraintType: string | null;
  deferrable: boolean;
  deferred: boolean;
}

export async function loadIndexes(client: Queryable, tableOid: number): Promise<IndexShape[]> {
  const { rows } = await client.query<{
    oid: number;
    table: number;
    name: string;
    schema: string;
    indisvalid: boolean;
    indisunique: boolean;
    indisprimary: boolean;
    shape: string;
    conname: string | null;
    contype: string | null;
    condeferrable: boolean | null;
    condeferred: boolean | null;
  }>(
    `SELECT c.oid::int8 AS oid, i.indrelid::int8 AS table, c.relname AS name, n.nspname AS schema,
            i.indisvalid AND i.indisready AND i.indislive AS indisvalid, i.indisunique, i.indisprimary,
            pg_catalog.concat_ws(' | ', c.relam::text, i.indnatts::text, i.indnkeyatts::text, i.indisunique::text,
              i.indnullsnotdistinct::text, (SELECT pg_catalog.string_agg(COALESCE(pg_catalog.quote_ident(a.attname), '*'), ',' ORDER BY k.ord)
                 FROM pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0), i.indclass::text, i.indcollation::text, i.indoption::text,
              pg_catalog.pg_get_expr(i.indexprs, i.indrelid), pg_catalog.pg_get_expr(i.indpred, i.indrelid)) AS shape,
            con.conname, con.contype::text AS contype, con.condeferrable, con.condeferred
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
      WHERE i.indrelid = $1::int8::oid
      ORDER BY c.oid`,
    [tableOid],
  );
  return rows.map((r) => ({
    oid: Number(r.oid),
    table: Number(r.table),
    name: r.name,
    schema: r.schema,
    valid: r.indisvalid,
    unique: r.indisunique,
    primary: r.indisprimary,
    shape: r.shape,
    constraintName: r.conname,
    constraintType: r.contype,
    deferrable: r.condeferrable === true,
    deferred: r.condeferred === true,
  }));
}

/** Runs fn with search_path pinned to pg_catalog so that the server's deparsers qualify every user object. */
export function withCatalogSearchPath<T>(client: Queryable, fn: () => Promise<T>): Promise<T> {
  return withSearchPath(client, 'pg_catalog, pg_temp', { local: false }, fn);
}

/**
 * Runs fn with `search_path` set to `path` (`local`: for the transaction only, as SET LOCAL), then
 * sets the previous one back, also when fn throws.
 */
export async function withSearchPath<T>(client: Queryable, path: string, { local }: { local: boolean }, fn: () => Promise<T>): Promise<T> {
  const { rows } = await client.query<{ path: string }>("SELECT pg_catalog.current_setting('search_path') AS path");
  const previous = rows[0]?.path ?? '';
  if (previous === path) return fn();
  await client.query('SELECT pg_catalog.set_config($1, $2, $3)', ['search_path', path, local]);
  try {
    return await fn();
  } finally {
    // After an error inside a transaction the server rolls the setting back itself; a failed restore is harmless.
    await client.query('SELECT pg_catalog.set_config($1, $2, $3)', ['search_path', previous, local]).catch(() => undefined);
  }
}

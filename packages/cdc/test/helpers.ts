import type pg from 'pg';
import { quoteIdent, quoteQualified, withTransaction } from '@pgtools/core';
import { createCapture, type CdcObjects } from '../src/index.js';

export interface Captured {
  objects: CdcObjects;
  /** The shadow table S. */
  shadow: { schema: string; name: string };
  columns: string[];
  keyColumns: string[];
}

export async function tableOid(db: pg.Pool | pg.PoolClient, schema: string, name: string): Promise<number> {
  const { rows } = await db.query<{ oid: number }>(
    `SELECT c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, name],
  );
  if (!rows[0]) throw new Error(`no table ${schema}.${name}`);
  return rows[0].oid;
}

export async function visibleColumns(db: pg.Pool | pg.PoolClient, oid: number): Promise<string[]> {
  const { rows } = await db.query<{ attname: string }>(
    'SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
    [oid],
  );
  return rows.map((r) => r.attname);
}

/**
 * Does what the repack does: capture under ACCESS EXCLUSIVE, then copy T into S and empty the log
 * in one REPEATABLE READ snapshot, then a unique index on S's key (which also proves the apply
 * never leaves duplicate keys behind).
 */
export async function captureAndCopy(
  pool: pg.Pool,
  table: { schema: string; name: string },
  keyColumns: string[],
  opts: { toolSchema?: string; shadowName?: string } = {},
): Promise<Captured> {
  const oid = await tableOid(pool, table.schema, table.name);
  const client = await pool.connect();
  try {
    const objects = await withTransaction(client, async () => {
      await client.query(`LOCK TABLE ${quoteQualified(table.schema, table.name)} IN ACCESS EXCLUSIVE MODE`);
      return createCapture(client, { table: { ...table, oid }, keyColumns, ...(opts.toolSchema ? { toolSchema: opts.toolSchema } : {}) });
    });
    const shadow = { schema: objects.toolSchema, name: opts.shadowName ?? `table_${oid}` };
    await withTransaction(
      client,
      async () => {
        await client.query(`DELETE FROM ${quoteQualified(objects.toolSchema, objects.logTable)}`);
        await client.query(`CREATE TABLE ${quoteQualified(shadow.schema, shadow.name)} AS SELECT * FROM ONLY ${quoteQualified(table.schema, table.name)}`);
      },
      'ISOLATION LEVEL REPEATABLE READ',
    );
    await client.query(`CREATE UNIQUE INDEX ON ${quoteQualified(shadow.schema, shadow.name)} (${keyColumns.map((k) => quoteIdent(k)).join(', ')})`);
    return { objects, shadow, columns: await visibleColumns(client, oid), keyColumns };
  } finally {
    client.release();
  }
}

/** Rows of T missing from S and rows of S missing from T (multiset difference), and both counts. */
export async function diff(
  db: pg.Pool,
  table: { schema: string; name: string },
  shadow: { schema: string; name: string },
): Promise<{ missing: number; extra: number; countT: number; countS: number }> {
  const t = quoteQualified(table.schema, table.name);
  const s = quoteQualified(shadow.schema, shadow.name);
  const { rows } = await db.query<{ missing: number; extra: number; count_t: number; count_s: number }>(
    `SELECT (SELECT count(*)::int FROM (SELECT * FROM ${t} EXCEPT ALL SELECT * FROM ${s}) x) AS missing,
            (SELECT count(*)::int FROM (SELECT * FROM ${s} EXCEPT ALL SELECT * FROM ${t}) x) AS extra,
            (SELECT count(*)::int FROM ${t}) AS count_t, (SELECT count(*)::int FROM ${s}) AS count_s`,
  );
  const r = rows[0]!;
  return { missing: r.missing, extra: r.extra, countT: r.count_t, countS: r.count_s };
}

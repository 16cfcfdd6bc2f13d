import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { parseQualifiedName, PgToolsError, prepareSession, quoteIdent, quoteLiteral, quoteQualified, SQLSTATE, wrapPgError } from '../src/index.js';

let cluster: PgCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'core' });
  pool = (await cluster.createDatabase()).pool();
});
afterAll(async () => {
  await cluster?.destroy();
});

const hostile = ['Mixed Case', 'a.b', 'say "hi"', 'select', 'zürich 日本', "o'brien", 'x; DROP TABLE y; --', 'b'.repeat(63)];

describe('quoting against a real server', () => {
  it.each(hostile)('creates and finds schema and table %j', async (name) => {
    const schema = `s ${name}`.slice(0, 63);
    await pool.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    await pool.query(`CREATE TABLE ${quoteQualified(schema, name)} (v text)`);
    await pool.query(`INSERT INTO ${quoteQualified(schema, name)} VALUES (${quoteLiteral(`it's \\ ${name}`)})`);
    const { rows } = await pool.query(
      'SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
      [schema, name],
    );
    expect(rows).toEqual([{ nspname: schema, relname: name }]);
    const read = await pool.query(`SELECT v FROM ${quoteQualified(schema, name)}`);
    expect(read.rows[0].v).toBe(`it's \\ ${name}`);
    // What the user types on the command line resolves to the same relation.
    const typed = `${quoteIdent(schema)}.${quoteIdent(name)}`;
    const parsed = parseQualifiedName(typed);
    const { rows: regclass } = await pool.query('SELECT to_regclass($1)::oid AS oid', [typed]);
    expect(parsed).toEqual({ schema, name });
    expect(regclass[0].oid).not.toBeNull();
  });

  it('keeps SQLSTATE, detail and constraint from a real error', async () => {
    await pool.query('CREATE TABLE uniq (id int PRIMARY KEY)');
    await pool.query('INSERT INTO uniq VALUES (1)');
    const err = await pool.query('INSERT INTO uniq VALUES (1)').catch((e: unknown) => wrapPgError(e, 'insert_failed', 'insert'));
    expect(err).toBeInstanceOf(PgToolsError);
    const e = err as PgToolsError;
    expect(e.sqlState).toBe(SQLSTATE.uniqueViolation);
    expect(e.detail).toBe('Key (id)=(1) already exists.');
    expect(e.constraint).toBe('uniq_pkey');
    expect(e.table).toBe('uniq');
  });

  it('prepareSession overrides role defaults that would cancel long work', async () => {
    await pool.query(`CREATE ROLE slowpoke LOGIN`);
    await pool.query(`ALTER ROLE slowpoke SET statement_timeout = '50ms'`);
    const client = await pool.connect();
    try {
      await client.query('SET ROLE slowpoke');
      await client.query(`SET statement_timeout = '50ms'`);
      await expect(client.query('SELECT pg_sleep(0.2)')).rejects.toMatchObject({ code: SQLSTATE.queryCanceled });
      await prepareSession(client, { applicationName: 'pgtools-test' });
      await client.query('SELECT pg_sleep(0.2)');
      const { rows } = await client.query("SELECT current_setting('application_name') AS app, current_setting('search_path') AS sp");
      expect(rows[0]).toEqual({ app: 'pgtools-test', sp: 'pg_catalog, pg_temp' });
    } finally {
      await client.query('RESET ROLE').catch(() => {});
      client.release();
    }
  });
});

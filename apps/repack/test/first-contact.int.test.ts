import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';

// The errors a newcomer meets first, against a real server and real roles: a mistyped table,
// a role that owns nothing, --swap=catalog without superuser, and a server that refuses the catalog swap.
const bin = new URL('../bin/pgtools-repack.js', import.meta.url).pathname;
let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'first-contact' });
  db = await cluster.createDatabase({ name: 'shop' });
  pool = db.pool();
  await pool.query(`CREATE SCHEMA sales;
    CREATE TABLE sales.orders (id int PRIMARY KEY, note text);
    CREATE TABLE public.customers (id int PRIMARY KEY, name text);
    CREATE TABLE public.order_items (id int PRIMARY KEY);
    INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 1000) g;
    CREATE ROLE alice LOGIN PASSWORD 'alice-pw';
    CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
    ALTER TABLE public.customers OWNER TO alice;
    GRANT USAGE, CREATE ON SCHEMA public TO alice, bob;
    GRANT CREATE ON DATABASE shop TO alice, bob`);
}, 60_000);
afterAll(async () => {
  await pool?.end();
  await cluster?.destroy();
});

function run(args: string[], user = 'postgres', password = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PGHOST: '127.0.0.1',
        PGPORT: String(cluster.port),
        PGUSER: user,
        PGPASSWORD: password,
        PGDATABASE: 'shop',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function leftovers(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'pgtools') + (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal) AS n`,
  );
  return Number(rows[0]!.n);
}

describe('pgtools-repack first-contact errors', () => {
  it('table not found: did you mean the same name in another schema, or a close name (exit 2)', async () => {
    const otherSchema = await run(['-t', 'orders']);
    expect(otherSchema.code).toBe(2);
    expect(otherSchema.stderr).toContain('table orders does not exist; did you mean sales.orders?');
    const typo = await run(['-t', 'custmers']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean public.customers?');
    const schemaTypo = await run(['-t', 'saless.orders']);
    expect(schemaTypo.stderr).toContain('did you mean sales.orders?');
    const nothingClose = await run(['-t', 'zzzzzzzz']);
    expect(nothingClose.code).toBe(2);
    expect(nothingClose.stderr).toMatch(/table zzzzzzzz does not exist\nHINT: list the tables with \\dt/);
    // The message and its hint are said once.
    expect(otherSchema.stderr.match(/did you mean/g)).toHaveLength(1);
  });

  it('not a superuser and not the owner: says who owns it and what is needed, before creating anything (exit 1)', async () => {
    const before = await leftovers();
    const r = await run(['-t', 'customers'], 'bob', 'bob-pw');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('role "bob" is not a superuser and does not own public.customers (owner alice)');
    expect(r.stderr).toContain('needs a superuser, or the owner of each table');
    expect(r.stderr).toContain('HINT: connect as "alice" (-U alice) or as a superuser, or have a superuser run GRANT "alice" TO "bob"');
    expect(await leftovers()).toBe(before);
    // The whole database: every table bob cannot repack is named.
    const all = await run([], 'bob', 'bob-pw');
    expect(all.code).toBe(1);
    expect(all.stderr).toContain('public.customers (owner alice), public.order_items (owner postgres), sales.orders (owner postgres)');
    expect(await leftovers()).toBe(before);
  });

  it('--swap=catalog as a non-superuser owner: needs a superuser, use --swap=rename (exit 2); the owner then succeeds', async () => {
    const r = await run(['-t', 'customers', '--swap=catalog'], 'alice', 'alice-pw');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--swap=catalog needs a superuser');
    expect(r.stderr).toContain('role "alice" is not a superuser');
    expect(r.stderr).toContain('HINT: use --swap=rename');
    const ok = await run(['-t', 'customers'], 'alice', 'alice-pw');
    expect(ok.stderr).toMatch(/"public\.customers" repacked in .* \(swap: rename/);
    expect(ok.code).toBe(0);
  });

  it('-N as the owner shows the server version and that --swap=auto means the rename swap for a non-superuser', async () => {
    const r = await run(['-N', '-t', 'customers'], 'alice', 'alice-pw');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^server: PostgreSQL \S.* \(server_version_num 1[5-8]\d{4}\); swap: rename \(--swap=auto: not a superuser\)$/);
    expect(r.stdout).toMatch(/"public.customers": can be repacked \(swap: rename\)/);
    const superuser = await run(['-N', '-t', 'customers']);
    expect(superuser.stdout.split('\n')[0]).toMatch(/; swap: catalog \(--swap=auto: superuser\)$/);
  });

  it('the server refuses the catalog swap (permission denied): the table is intact and the hint says --swap=rename (exit 1)', async () => {
    // A hardened server that forbids catalog writes even to a superuser, made real with a trigger on pg_class.
    await pool.query(`SET allow_system_table_mods = on;
      CREATE FUNCTION public.deny_catalog_writes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'permission denied for table pg_class' USING ERRCODE = '42501'; END $$;
      CREATE TRIGGER deny_catalog_writes BEFORE UPDATE ON pg_catalog.pg_class FOR EACH STATEMENT EXECUTE FUNCTION public.deny_catalog_writes()`);
    try {
      const r = await run(['-t', 'public.customers']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('permission denied for table pg_class');
      expect(r.stderr).toContain('HINT: the server refused the catalog swap (permission denied); "public.customers" is intact: run again with --swap=rename');
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM public.customers');
      expect(Number(rows[0]!.n)).toBe(1000);
      const rename = await run(['-t', 'public.customers', '--swap=rename']);
      expect(rename.code, rename.stderr).toBe(0);
    } finally {
      await pool.query(`SET allow_system_table_mods = on; DROP TRIGGER deny_catalog_writes ON pg_catalog.pg_class; DROP FUNCTION public.deny_catalog_writes()`);
    }
  });
});

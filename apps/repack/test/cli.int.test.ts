import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { makeTempDir, serverUser, startPostgres, type PgCluster, type TempDir, type TestDatabase } from '@pgtools/testkit';

const bin = new URL('../bin/pgtools-repack.js', import.meta.url).pathname;
let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;
const tempDirs: TempDir[] = [];

beforeAll(async () => {
  cluster = await startPostgres({ name: 'cli' });
  db = await cluster.createDatabase({ name: 'cli db' });
  pool = db.pool();
  await pool.query(`CREATE TABLE public.orders (id bigint PRIMARY KEY, customer int, note text)`);
  await pool.query(`INSERT INTO public.orders SELECT g, g % 100, repeat('x', 100) FROM generate_series(1, 20000) g`);
  await pool.query(`DELETE FROM public.orders WHERE id % 2 = 0`);
  await pool.query(`CREATE TABLE public.nokey (v int)`);
});
afterAll(async () => {
  await cluster?.destroy();
  for (const d of tempDirs) d.remove();
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PGHOST: '127.0.0.1', PGPORT: String(cluster.port), PGUSER: 'postgres', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pgtools-repack', () => {
  it('repacks a table with PG* variables and a database name with a space, printing what it did', async () => {
    const before = await pool.query(`SELECT pg_total_relation_size('public.orders')::int8 AS size`);
    const r = await run(['--table', 'public.orders', 'cli db']);
    expect(r.stderr).toContain('INFO: repacking table "public.orders"');
    expect(r.stderr).toMatch(/"public\.orders" repacked in/);
    expect(r.stderr).toMatch(/rows copied 10000/);
    expect(r.stderr).toMatch(/phases: precheck .* copy .* swap/);
    expect(r.code).toBe(0);
    const after = await pool.query(`SELECT pg_total_relation_size('public.orders')::int8 AS size`);
    expect(Number(after.rows[0].size)).toBeLessThan(Number(before.rows[0].size));
  });

  it('--json prints one document with phases, timings and log counts; a URI works as DBNAME', async () => {
    const r = await run(['-t', 'orders', '--json', '--swap=rename', db.connectionString]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.exitCode).toBe(0);
    expect(doc.tables[0]).toMatchObject({ table: 'public.orders', status: 'repacked', swap: 'rename' });
    expect(doc.tables[0].phases.map((p: { phase: string }) => p.phase)).toEqual([
      'precheck',
      'setup',
      'copy',
      'indexes',
      'apply',
      'snapshot-wait',
      'swap',
      'cleanup',
      'analyze',
    ]);
    expect(doc.tables[0].log).toEqual({ entries: 0, inserts: 0, updates: 0, deletes: 0 });
  });

  it('exit codes: 3 for a table without a usable key, 2 for a missing table and bad flags', async () => {
    const nokey = await run(['-t', 'nokey', '-d', 'cli db']);
    expect(nokey.code).toBe(3);
    expect(nokey.stderr).toMatch(/Skipping "public.nokey": table public.nokey has no primary key/);
    const missing = await run(['-t', 'ordrs', '-d', 'cli db']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
    const bad = await run(['-t', 'orders', '--swap=maybe']);
    expect(bad.code).toBe(2);
  });

  it('-N prints the plan and changes nothing', async () => {
    const { rows: before } = await pool.query(`SELECT relfilenode FROM pg_class WHERE relname = 'orders'`);
    const r = await run(['-N', '-t', 'orders', '-d', 'cli db']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/key: orders_pkey \(id\)/);
    expect(r.stdout).toMatch(/lock: ACCESS EXCLUSIVE/);
    const { rows: after } = await pool.query(`SELECT relfilenode FROM pg_class WHERE relname = 'orders'`);
    expect(after).toEqual(before);
  });

  it('--alter with -N prints the old → new column mapping and changes nothing; without -N it changes the table online', async () => {
    await pool.query(`CREATE TABLE public.altered (id int PRIMARY KEY, qty text, old text)`);
    await pool.query(`INSERT INTO public.altered SELECT g, g::text, 'x' FROM generate_series(1, 1000) g`);
    const types = async (): Promise<string[]> =>
      (
        await pool.query(
          `SELECT attname || ' ' || format_type(atttypid, atttypmod) AS c FROM pg_attribute WHERE attrelid = 'public.altered'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        )
      ).rows.map((r) => r.c as string);
    const args = [
      '-t',
      'public.altered',
      '--alter',
      'ALTER COLUMN id TYPE bigint',
      '--alter',
      'ALTER COLUMN qty TYPE int USING qty::int',
      '--alter',
      'DROP COLUMN old',
      '--alter',
      'ADD CHECK (qty > 0)',
      '--column-order',
      'qty, ID',
      'cli db',
    ];
    const plan = await run(['-N', ...args]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('"public.altered": can be repacked (swap: rename)');
    expect(plan.stdout).toContain('  column: "id" integer → "id" bigint');
    expect(plan.stdout).toContain('  column: "qty" text → "qty" integer USING (qty::int)');
    expect(plan.stdout).toContain('  column: "old" text → (dropped)');
    expect(plan.stdout).toContain('  constraint: CONSTRAINT "altered_qty_check" CHECK (qty > 0)');
    expect(plan.stdout.indexOf('column: "qty"')).toBeLessThan(plan.stdout.indexOf('column: "id"'));
    expect(await types()).toEqual(['id integer', 'qty text', 'old text']);
    const done = await run(args);
    expect(done.stderr).toMatch(/"public\.altered" repacked in/);
    expect(done.code).toBe(0);
    expect(await types()).toEqual(['qty integer', 'id bigint']);
    await expect(pool.query(`INSERT INTO public.altered VALUES (0, 5000)`)).rejects.toThrow(/altered_qty_check/);
    const bad = await run(['-t', 'public.altered', '--alter', 'RENAME COLUMN qty TO n', 'cli db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('RENAME is not supported yet');
  });

  it('terminates a session that blocks the swap after the wait timeout and names it; -D skips instead (exit 3)', async () => {
    const blocker = await pool.connect();
    // It is going to be terminated; that is the point.
    blocker.on('error', () => {});
    try {
      await blocker.query(`SET application_name = 'long-reader'`);
      await blocker.query('BEGIN');
      await blocker.query('SELECT count(*) FROM public.orders');
      const skipped = await run(['-t', 'orders', '-d', 'cli db', '-D', '-T', '1']);
      expect(skipped.code).toBe(3);
      expect(skipped.stderr).toMatch(/Skipping "public.orders"/);
      await blocker.query('SELECT 1');
      const killed = await run(['-t', 'orders', '-d', 'cli db', '-T', '1']);
      expect(killed.stderr).toMatch(/terminating conflicted backend PID \d+ \(user postgres, application long-reader\)/);
      expect(killed.code).toBe(0);
      await expect(blocker.query('SELECT 1')).rejects.toThrow();
    } finally {
      blocker.release(true);
    }
  });

  it('a lock not obtained with -D is a skip (exit 3) in both modes, and the table mode leaves nothing behind', async () => {
    const blocker = await pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE public.orders IN SHARE UPDATE EXCLUSIVE MODE');
      const table = await run(['-t', 'orders', '-d', 'cli db', '-D', '-T', '1', '--json']);
      const indexes = await run(['-x', '-t', 'orders', '-d', 'cli db', '-D', '-T', '1', '--json']);
      for (const r of [table, indexes]) {
        expect(r.code, r.stderr).toBe(3);
        const doc = JSON.parse(r.stdout);
        expect(doc.exitCode).toBe(3);
        expect(doc.tables[0]).toMatchObject({ status: 'skipped', code: 'lock_timeout' });
      }
      const { rows } = await pool.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgtools'`);
      expect(
        rows.map((r) => r.relname as string),
        'nothing was attached to the table, so nothing is left',
      ).toEqual([]);
      expect(JSON.parse(table.stdout).tables[0].cleanupHint).toBeUndefined();
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
    }
  });

  it('-e echoes the statements it runs', async () => {
    const r = await run(['-e', '-t', 'orders', '-d', 'cli db']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/LOG: \(query\) LOCK TABLE "public"\."orders" IN SHARE UPDATE EXCLUSIVE MODE/);
    expect(r.stderr).toMatch(/LOG: \(query\) BEGIN ISOLATION LEVEL REPEATABLE READ/);
  });

  it('--cleanup reports when there is nothing to clean', async () => {
    const r = await run(['--cleanup', '-d', 'cli db']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('no leftovers found');
  });
});

describe('pgtools-repack breadth', () => {
  it('-c runs over a schema: a summary table names every table, skipped ones with the reason, exit 3; --json lists all', async () => {
    await pool.query('CREATE SCHEMA sales');
    await pool.query('CREATE TABLE sales.a (id int PRIMARY KEY, v text)');
    await pool.query('CREATE TABLE sales.b (id int PRIMARY KEY, v text)');
    await pool.query('CREATE TABLE sales.keyless (v text)');
    const r = await run(['-c', 'sales', 'cli db']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/sales\.a\s+repacked/);
    expect(r.stderr).toMatch(/sales\.b\s+repacked/);
    expect(r.stderr).toMatch(/sales\.keyless\s+skipped\s+no_usable_key: table sales\.keyless has no primary key/);
    expect(r.stderr).toMatch(/3 table\(s\): 2 repacked, 0 skipped by filter, 1 skipped, 0 failed/);
    const j = await run(['-c', 'sales', '--json', 'cli db']);
    expect(j.code).toBe(3);
    const doc = JSON.parse(j.stdout);
    expect(doc.tables.map((t: { table: string; status: string }) => [t.table, t.status])).toEqual([
      ['sales.a', 'repacked'],
      ['sales.b', 'repacked'],
      ['sales.keyless', 'skipped'],
    ]);
  });

  it('-x rebuilds the indexes only, -i one index; the heap keeps its file', async () => {
    const heap = async (): Promise<string> => (await pool.query(`SELECT relfilenode::text AS f FROM pg_class WHERE relname = 'orders'`)).rows[0].f;
    const before = await heap();
    const x = await run(['-x', '-t', 'orders', 'cli db']);
    expect(x.code).toBe(0);
    expect(x.stderr).toMatch(/"public.orders": indexes rebuilt in .*: orders_pkey/);
    const i = await run(['-i', 'orders_pkey', '--json', 'cli db']);
    expect(i.code).toBe(0);
    expect(JSON.parse(i.stdout).tables[0]).toMatchObject({ table: 'public.orders', mode: 'indexes', indexesBuilt: ['orders_pkey'] });
    expect(await heap()).toBe(before);
  });

  it('-o orders by validated columns; SQL in -o is a usage error (exit 2)', async () => {
    const ok = await run(['-t', 'orders', '-o', 'customer DESC, id', 'cli db']);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/ordered by "customer" DESC, "id"/);
    const bad = await run(['-t', 'orders', '-o', 'id; DROP TABLE orders', 'cli db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot read --order-by/);
    const unknown = await run(['-t', 'orders', '-o', 'nope', 'cli db']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/has no column "nope"/);
  });

  it('--if-bloated leaves lean tables as is (exit 0); -N shows the estimate and which method made it', async () => {
    const r = await run(['-t', 'orders', '--if-bloated', '90', 'cli db']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/public\.orders\s+skipped by filter\s+below_bloat_threshold/);
    const n = await run(['-N', '-t', 'orders', '--if-bloated', '90', 'cli db']);
    expect(n.code).toBe(0);
    expect(n.stdout).toMatch(/left as is by --if-bloated/);
    expect(n.stdout).toMatch(/bloat: about [\d.]+% reclaimable .*estimated from statistics/);
    expect(n.stdout).toMatch(/disk: \d+ bytes free at/);
  });

  it('-a visits every database that allows connections; throttling flags are taken', async () => {
    await cluster.query('CREATE TABLE in_postgres_db (id int PRIMARY KEY)');
    const r = await run(['-a', '--json', '--max-rate', '1000000', '--max-replica-lag', '1GB', '-C', 'plpgsql']);
    const doc = JSON.parse(r.stdout);
    const dbs = new Set(doc.tables.map((t: { database: string }) => t.database));
    expect(dbs).toEqual(new Set(['cli db', 'postgres']));
    expect(doc.tables.some((t: { table: string; database: string }) => t.database === 'cli db' && t.table === 'public.orders')).toBe(true);
    expect(doc.tables.find((t: { table: string; database: string }) => t.database === 'postgres')).toMatchObject({
      table: 'public.in_postgres_db',
      status: 'repacked',
    });
    expect(r.code).toBe(3); // public.nokey and sales.keyless have no key
  });

  it.each([
    [['-a', '-t', 'orders'], /cannot repack specific table\(s\) in all databases/],
    [['-x'], /specify the table\(s\)/],
    [['-S', '-t', 'orders'], /--moveidx \(-S\) without --tablespace/],
    [['-t', 'orders', '--max-replica-lag', 'lots'], /max replica lag/],
  ])('refuses %j (exit 2)', async (args, message) => {
    const r = await run([...args, 'cli db'].filter((a, i, all) => !(a === 'cli db' && all.includes('-a'))));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('pgtools-repack: pg_repack 1.5 flags and the server check', () => {
  it('-N shows the server version and the swap auto picks (catalog for a superuser), in text and JSON', async () => {
    const { rows } = await pool.query<{ num: string }>(`SELECT current_setting('server_version_num') AS num`);
    const r = await run(['-N', '-t', 'orders', 'cli db']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(
      new RegExp(`^server: PostgreSQL \\S.* \\(server_version_num ${rows[0]!.num}\\); swap: catalog \\(--swap=auto: superuser\\)$`),
    );
    const forced = await run(['-N', '-t', 'orders', '--swap=rename', 'cli db']);
    expect(forced.stdout.split('\n')[0]).toMatch(/; swap: rename$/);
    const j = await run(['-N', '--json', '-t', 'orders', 'cli db']);
    expect(JSON.parse(j.stdout).server).toMatchObject({ versionNum: Number(rows[0]!.num), superuser: true, swap: 'catalog' });
  });

  it('--apply-count and --switch-threshold are taken (exit 0); a threshold not below the count is refused like pg_repack (exit 2)', async () => {
    const r = await run(['-t', 'orders', '--apply-count', '100', '--switch-threshold', '10', '--json', 'cli db']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).tables[0]).toMatchObject({ table: 'public.orders', status: 'repacked' });
    const bad = await run(['-t', 'orders', '--apply-count', '100', '--switch-threshold', '100', 'cli db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/switch_threshold must be less than apply_count/);
  });

  it('an invalid index fails the table by default and with --error-on-invalid-index; --no-error-on-invalid-index rebuilds it first and repacks', async () => {
    await pool.query('CREATE TABLE public.inv (id int PRIMARY KEY, v int)');
    await pool.query('INSERT INTO public.inv SELECT g, g % 7 FROM generate_series(1, 2000) g');
    // A CREATE INDEX CONCURRENTLY that fails half-way leaves an invalid index behind.
    await expect(pool.query('CREATE INDEX CONCURRENTLY inv_ratio ON public.inv ((100 / v))')).rejects.toThrow(/division by zero/);
    await pool.query('DELETE FROM public.inv WHERE v = 0');
    const valid = async (): Promise<boolean> =>
      (await pool.query(`SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = 'public.inv_ratio'::regclass`)).rows[0].ok;
    expect(await valid()).toBe(false);
    for (const flags of [[], ['--error-on-invalid-index']]) {
      const r = await run(['-t', 'inv', '--json', ...flags, 'cli db']);
      expect(r.code, r.stderr).toBe(1);
      expect(JSON.parse(r.stdout).tables[0]).toMatchObject({ status: 'failed', code: 'invalid_index' });
    }
    const plan = await run(['-N', '-t', 'inv', '--no-error-on-invalid-index', 'cli db']);
    expect(plan.code, plan.stdout).toBe(0);
    expect(plan.stdout).toMatch(/"public.inv": can be repacked/);
    expect(plan.stdout).toMatch(/WARNING: index inv_ratio on public.inv is invalid .*rebuilt first with REINDEX INDEX CONCURRENTLY/);
    const { rows: before } = await pool.query(`SELECT relfilenode FROM pg_class WHERE relname = 'inv'`);
    const r = await run(['-t', 'inv', '--no-error-on-invalid-index', 'cli db']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: invalid index "public"."inv_ratio" on "public.inv": rebuilding it first/);
    expect(r.stderr).toMatch(/"public.inv" repacked in/);
    expect(await valid()).toBe(true);
    const { rows: after } = await pool.query(`SELECT relfilenode FROM pg_class WHERE relname = 'inv'`);
    expect(after[0].relfilenode).not.toBe(before[0].relfilenode);
    await pool.query('CREATE EXTENSION IF NOT EXISTS amcheck');
    await pool.query(`SELECT bt_index_check('public.inv_ratio'::regclass, true)`);
  });

  it('--no-error-on-invalid-index: an invalid index that cannot be rebuilt fails its table with the reason (exit 1)', async () => {
    await pool.query('CREATE TABLE public.inv_dup (id int PRIMARY KEY, v int)');
    await pool.query('INSERT INTO public.inv_dup VALUES (1, 1), (2, 1)');
    await expect(pool.query('CREATE UNIQUE INDEX CONCURRENTLY inv_dup_v ON public.inv_dup (v)')).rejects.toThrow(/could not create unique index/);
    const r = await run(['-t', 'inv_dup', '--no-error-on-invalid-index', '--json', 'cli db']);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.tables).toHaveLength(1);
    expect(doc.tables[0]).toMatchObject({ table: 'public.inv_dup', status: 'failed', mode: 'indexes' });
    expect(doc.tables[0].message).toMatch(/index rebuild of public.inv_dup failed|could not create unique index/);
  });

  it('-E sets the message level: WARNING drops INFO lines, DEBUG adds phase timings, ERROR hides a skip; a bad level is exit 2', async () => {
    const quiet = await run(['-E', 'WARNING', '-t', 'orders', 'cli db']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(/INFO:/);
    expect(quiet.stderr).not.toMatch(/repacked in/);
    const chatty = await run(['-E', 'debug', '-t', 'orders', 'cli db']);
    expect(chatty.code).toBe(0);
    expect(chatty.stderr).toContain('INFO: repacking table "public.orders"');
    expect(chatty.stderr).toMatch(/^ {2}copy +\d+(\.\d)? m?s$/m);
    expect(chatty.stderr).toMatch(/^DEBUG: locked public\.orders in ACCESS EXCLUSIVE mode/m);
    const errorsOnly = await run(['-E', 'ERROR', '-t', 'nokey', 'cli db']);
    expect(errorsOnly.code).toBe(3);
    expect(errorsOnly.stderr).toBe('');
    const warnings = await run(['-E', 'WARNING', '-t', 'nokey', 'cli db']);
    expect(warnings.stderr).toMatch(/Skipping "public.nokey"/);
    const bad = await run(['-E', 'loud', '-t', 'orders', 'cli db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid elevel: loud/);
  });

  it('-x and -i with -s move only the indexes to the tablespace; the heap stays where it is', async () => {
    const dir = await makeTempDir('cli-spc', serverUser());
    tempDirs.push(dir);
    await pool.query(`CREATE TABLESPACE cli_spc LOCATION '${dir.path.replace(/'/g, "''")}'`);
    await pool.query('CREATE INDEX orders_customer ON public.orders (customer)');
    const where = async (): Promise<Record<string, string>> => {
      const { rows } = await pool.query<{ relname: string; spc: string }>(
        `SELECT c.relname, coalesce(ts.spcname, 'default') AS spc FROM pg_class c LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
          WHERE c.relname IN ('orders', 'orders_pkey', 'orders_customer') AND c.relnamespace = 'public'::regnamespace`,
      );
      return Object.fromEntries(rows.map((r) => [r.relname, r.spc]));
    };
    const x = await run(['-x', '-t', 'orders', '-s', 'cli_spc', 'cli db']);
    expect(x.code, x.stderr).toBe(0);
    expect(await where()).toEqual({ orders: 'default', orders_pkey: 'cli_spc', orders_customer: 'cli_spc' });
    const i = await run(['-i', 'orders_customer', '--tablespace=pg_default', 'cli db']);
    expect(i.code, i.stderr).toBe(0);
    expect(await where()).toEqual({ orders: 'default', orders_pkey: 'cli_spc', orders_customer: 'default' });
    const missing = await run(['-x', '-t', 'orders', '-s', 'no_such_spc', 'cli db']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/tablespace "?no_such_spc"? does not exist; no index was rebuilt/);
    await run(['-x', '-t', 'orders', '-s', 'pg_default', 'cli db']);
    await pool.query('DROP INDEX public.orders_customer');
    await pool.query('DROP TABLESPACE cli_spc');
  });

  it('-a with -d DBNAME connects to DBNAME first, then visits every database', async () => {
    const r = await run(['-a', '-d', 'postgres', '-N', '--json']);
    const doc = JSON.parse(r.stdout);
    expect(new Set(doc.tables.map((t: { database: string }) => t.database))).toEqual(new Set(['cli db', 'postgres']));
    expect(doc.server.superuser).toBe(true);
  });
});

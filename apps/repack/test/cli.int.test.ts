import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';

const bin = new URL('../bin/pgtools-repack.js', import.meta.url).pathname;
let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

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
    expect(doc.tables[0].phases.map((p: { phase: string }) => p.phase)).toEqual(['precheck', 'setup', 'copy', 'indexes', 'apply', 'snapshot-wait', 'swap', 'cleanup', 'analyze']);
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

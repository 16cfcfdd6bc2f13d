import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { repack, type RepackEvent } from '../src/index.js';

let cluster: PgCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-locks' });
  pool = (await cluster.createDatabase()).pool({ max: 10 });
});
afterAll(async () => {
  await cluster?.destroy();
});

async function table(name: string): Promise<void> {
  await pool.query(`CREATE TABLE ${name} (id bigint PRIMARY KEY, v text)`);
  await pool.query(`INSERT INTO ${name} SELECT g, 'v' || g FROM generate_series(1, 2000) g`);
}

async function blockerAt(point: string, sql: string[]): Promise<{ client: pg.PoolClient; pid: number; pausePoint: (p: string) => Promise<void> }> {
  const client = await pool.connect();
  client.on('error', () => {});
  const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
  return {
    client,
    pid: rows[0].pid,
    pausePoint: async (p: string) => {
      if (p !== point) return;
      // The statements that take the lock are awaited (the blocker surely holds it before the
      // swap tries); a trailing pg_sleep keeps the backend busy and is not.
      for (const s of sql) {
        if (/^SELECT pg_sleep/.test(s)) void client.query(s).catch(() => {});
        else await client.query(s);
      }
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}

describe('a long reader blocks the swap', () => {
  it("'give-up' (the library default) skips the table and leaves the reader alone", async () => {
    await table('lk_giveup');
    const { client, pausePoint } = await blockerAt('before-swap', ['BEGIN', 'SELECT count(*) FROM lk_giveup']);
    const result = await repack(pool, { table: 'lk_giveup', waitTimeoutMs: 500, pausePoint });
    expect(result.tables[0]).toMatchObject({ status: 'skipped', code: 'lock_timeout' });
    expect(result.exitCode).toBe(3);
    expect(result.tables[0]!.message).toMatch(/PID \d+|pid \d+/i);
    await client.query('SELECT 1');
    await client.query('COMMIT');
    client.release();
  });

  it("'cancel' cancels a running blocker's query, names it, and repacks", async () => {
    await table('lk_cancel');
    const { client, pid, pausePoint } = await blockerAt('before-swap', ['BEGIN', 'SELECT count(*) FROM lk_cancel', 'SELECT pg_sleep(30)']);
    const events: RepackEvent[] = [];
    const result = await repack(pool, { table: 'lk_cancel', waitTimeoutMs: 300, onBlockers: 'cancel', pausePoint, onEvent: (e) => events.push(e) });
    expect(result.tables[0]!.status).toBe('repacked');
    expect(result.tables[0]!.cancelled.map((s) => s.pid)).toEqual([pid]);
    expect(events.some((e) => e.type === 'backend-cancelled' && e.session.query?.includes('pg_sleep'))).toBe(true);
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  });

  it("'terminate' terminates an idle-in-transaction blocker after twice the wait", async () => {
    await table('lk_term');
    const { client, pid, pausePoint } = await blockerAt('before-swap', ['BEGIN', 'SELECT count(*) FROM lk_term']);
    const result = await repack(pool, { table: 'lk_term', waitTimeoutMs: 300, onBlockers: 'terminate', pausePoint });
    expect(result.tables[0]!.status).toBe('repacked');
    expect(result.tables[0]!.terminated.map((s) => s.pid)).toEqual([pid]);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    client.release(true);
  });

  it('a DDL statement queued behind the repack is cancelled and reported; with onDdl give-up the repack yields', async () => {
    await table('lk_ddl');
    const ddl = await pool.connect();
    ddl.on('error', () => {});
    const ddlPid: number = (await ddl.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const events: RepackEvent[] = [];
    let ddlError: unknown;
    const result = await repack(pool, {
      table: 'lk_ddl',
      onEvent: (e) => events.push(e),
      pausePoint: async (p) => {
        if (p !== 'after-copy') return;
        ddlError = await ddl.query('ALTER TABLE lk_ddl ADD COLUMN extra int').catch((e: unknown) => e);
      },
    });
    expect(result.tables[0]!.status).toBe('repacked');
    expect((ddlError as { code?: string }).code).toBe('57014');
    expect(events.some((e) => e.type === 'ddl-cancelled' && e.session.pid === ddlPid)).toBe(true);

    let ddlDone: Promise<unknown> | undefined;
    const yielded = await repack(pool, {
      table: 'lk_ddl',
      onDdl: 'give-up',
      pausePoint: async (p) => {
        if (p !== 'after-copy') return;
        ddlDone = ddl.query('ALTER TABLE lk_ddl ADD COLUMN extra2 int');
        await new Promise((r) => setTimeout(r, 1000));
      },
    });
    expect(yielded.tables[0]).toMatchObject({ status: 'skipped', code: 'ddl_waiting' });
    await ddlDone;
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'lk_ddl' AND column_name = 'extra2'`);
    expect(rows[0].n).toBe(1);
    ddl.release();
  });

  it('changes that piled up while waiting for the swap lock are caught up outside the lock, not drained under it', async () => {
    await table('lk_pileup');
    const { client, pausePoint } = await blockerAt('before-swap', ['BEGIN', 'SELECT count(*) FROM lk_pileup']);
    let next = 100_000;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await pool.query(`INSERT INTO lk_pileup SELECT g, 'bulk' FROM generate_series($1::int, $1::int + 499) g`, [next]);
        next += 500;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    setTimeout(() => void client.query('COMMIT'), 1500);
    const result = await repack(pool, { table: 'lk_pileup', waitTimeoutMs: 10_000, pausePoint });
    writing = false;
    await writer;
    client.release();
    const t = result.tables[0]!;
    expect(t.status).toBe('repacked');
    const swaps = t.accessExclusive.filter((a) => a.purpose === 'swap');
    expect(swaps.length).toBeGreaterThanOrEqual(2);
    const { rows } = await pool.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE v = 'bulk')::int AS bulk FROM lk_pileup`);
    expect(rows[0].bulk).toBe(next - 100_000);
    expect(rows[0].n).toBe(2000 + next - 100_000);
  });
});

describe('a partition in rename mode', () => {
  it('a reader of the partitioned table alone makes the swap give up after the wait timeout, the leaf intact; then it repacks', async () => {
    await pool.query(`CREATE TABLE lk_parted (id bigint PRIMARY KEY, v text) PARTITION BY RANGE (id)`);
    await pool.query(`CREATE TABLE lk_parted_1 PARTITION OF lk_parted FOR VALUES FROM (MINVALUE) TO (MAXVALUE)`);
    await pool.query(`INSERT INTO lk_parted SELECT g, 'v' || g FROM generate_series(1, 2000) g`);
    const oid = async () => (await pool.query(`SELECT inhrelid::int8::text AS oid FROM pg_inherits WHERE inhparent = 'lk_parted'::regclass`)).rows;
    const before = await oid();
    // ONLY: it holds the partitioned table and none of its partitions, so the leaf's own lock is granted.
    const { client, pausePoint } = await blockerAt('before-swap', ['BEGIN', 'SELECT count(*) FROM ONLY lk_parted']);
    const result = await repack(pool, { table: 'lk_parted_1', swap: 'rename', waitTimeoutMs: 500, pausePoint });
    expect(result.tables[0]).toMatchObject({ status: 'skipped', code: 'lock_timeout' });
    expect(result.tables[0]!.message).toContain('could not lock the partitioned table public.lk_parted');
    await client.query('COMMIT');
    client.release();
    expect(await oid()).toEqual(before);
    expect((await pool.query(`SELECT count(*)::int AS n FROM lk_parted`)).rows[0].n).toBe(2000);
    const again = await repack(pool, { table: 'lk_parted_1', swap: 'rename' });
    expect(again.tables[0]!.status).toBe('repacked');
    expect(await oid()).not.toEqual(before);
    expect((await pool.query(`SELECT count(*)::int AS n FROM lk_parted`)).rows[0].n).toBe(2000);
  });
});

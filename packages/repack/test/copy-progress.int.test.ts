import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { expectedCopyWal, sampleWalProgress } from '../src/copy-progress.js';
import { repack, type RepackEvent } from '../src/index.js';

// The one-statement copy reports progress estimated from the WAL it writes: the estimate must be
// close to what a copy really writes, and the sampler must report, stop and give its connection back.
let cluster: PgCluster;
let pool: pg.Pool;
const ROWS = 400_000;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'copy-progress', settings: { max_wal_size: '2GB' } });
  pool = (await cluster.createDatabase()).pool({ max: 4 });
  await pool.query(`CREATE TABLE src (id bigint PRIMARY KEY, n int, payload text)`);
  await pool.query(`INSERT INTO src SELECT g, g % 97, repeat(md5(g::text), 3) FROM generate_series(1, ${ROWS}) g`);
  await pool.query(`DELETE FROM src WHERE id % 2 = 0`);
  await pool.query(`VACUUM ANALYZE src`);
});

afterAll(async () => {
  await pool?.end();
  await cluster?.destroy();
});

const oidOf = async (name: string): Promise<number> =>
  Number((await pool.query<{ oid: string }>('SELECT $1::regclass::oid::text AS oid', [name])).rows[0]!.oid);
const lsn = async (): Promise<string> => (await pool.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
const walSince = async (from: string): Promise<number> =>
  (await pool.query<{ b: number }>('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::float8 AS b', [from])).rows[0]!.b;

describe('copy progress from the WAL', () => {
  it('estimates the WAL of a copy of the live rows from the statistics, within a factor of 1.5', async () => {
    const expected = await expectedCopyWal(pool as unknown as pg.ClientBase, await oidOf('src'), ROWS / 2);
    expect(expected).toBeDefined();
    const from = await lsn();
    await pool.query('CREATE TABLE copy_once AS SELECT * FROM ONLY src');
    const written = await walSince(from);
    console.log(`[measure] copy of ${ROWS / 2} rows: ${(written / 1e6).toFixed(1)} MB of WAL, estimated ${(expected! / 1e6).toFixed(1)} MB`);
    expect(expected! / written).toBeGreaterThan(1 / 1.5);
    expect(expected! / written).toBeLessThan(1.5);
  });

  it('has no estimate for a table never analyzed', async () => {
    await pool.query('CREATE TABLE never_analyzed AS SELECT * FROM src LIMIT 10');
    expect(await expectedCopyWal(pool as unknown as pg.ClientBase, await oidOf('never_analyzed'), 10)).toBeUndefined();
  });

  it('reports rising fractions below 1 while a copy runs, then stops and releases its connection', async () => {
    const expected = (await expectedCopyWal(pool as unknown as pg.ClientBase, await oidOf('src'), ROWS / 2))!;
    const samples: number[] = [];
    let released = 0;
    const sampler = sampleWalProgress({
      connect: () => pool.connect(),
      release: (c, broken) => {
        released += 1;
        c.release(broken);
      },
      startLsn: await lsn(),
      expectedBytes: expected,
      intervalMs: 20,
      onSample: (f) => samples.push(f),
    });
    // Two copies in a row: long enough for several samples on any machine.
    await pool.query('CREATE TABLE copy_sampled AS SELECT * FROM ONLY src');
    await pool.query('CREATE TABLE copy_sampled_2 AS SELECT * FROM ONLY src');
    await sampler.stop();
    const after = samples.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(samples.length).toBe(after);
    expect(samples.length).toBeGreaterThan(1);
    expect(samples.every((f, i) => f > 0 && f <= 0.99 && (i === 0 || f > samples[i - 1]!))).toBe(true);
    expect(released).toBe(1);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('never opens a connection for a copy shorter than one interval, and a failing connection only ends the sampling', async () => {
    let connects = 0;
    const quiet = sampleWalProgress({
      connect: async () => {
        connects += 1;
        return pool.connect();
      },
      release: (c) => c.release(),
      startLsn: await lsn(),
      expectedBytes: 1e9,
      intervalMs: 60_000,
      onSample: () => undefined,
    });
    await quiet.stop();
    expect(connects).toBe(0);

    const failing = sampleWalProgress({
      connect: () => Promise.reject(new Error('too many connections')),
      release: () => undefined,
      startLsn: await lsn(),
      expectedBytes: 1e9,
      intervalMs: 10,
      onSample: () => undefined,
    });
    await new Promise((r) => setTimeout(r, 50));
    await expect(failing.stop()).resolves.toBeUndefined();
  });

  it('a repack in one statement keeps every row and reports the copy done', async () => {
    await pool.query(`CREATE TABLE whole AS SELECT * FROM src`);
    await pool.query(`ALTER TABLE whole ADD PRIMARY KEY (id)`);
    await pool.query(`ANALYZE whole`);
    const before = (await pool.query<{ sum: string; n: number }>('SELECT sum(hashtext(whole::text))::text AS sum, count(*)::int AS n FROM whole')).rows[0]!;
    const events: RepackEvent[] = [];
    const result = await repack(pool, { table: 'whole', swap: 'catalog', onEvent: (e) => events.push(e) });
    expect(result.tables[0]!.status).toBe('repacked');
    const after = (await pool.query<{ sum: string; n: number }>('SELECT sum(hashtext(whole::text))::text AS sum, count(*)::int AS n FROM whole')).rows[0]!;
    expect(after).toEqual(before);
    const progress = events.filter((e) => e.type === 'copy-progress');
    expect(progress.at(-1)).toMatchObject({ rowsDone: ROWS / 2, rowsTotal: ROWS / 2 });
  });
});

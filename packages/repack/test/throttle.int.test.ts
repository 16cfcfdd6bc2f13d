import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, waitFor, type PgCluster } from '@pgtools/testkit';
import { repack, type RepackEvent } from '../src/index.js';
import { diffTable, startWriter } from './workload.js';

let primary: PgCluster;
let replica: PgCluster;
let pool: pg.Pool;
let dbName: string;

beforeAll(async () => {
  primary = await startPostgres({ name: 'repack-throttle-primary', settings: { wal_level: 'replica', max_wal_senders: 5 } });
  const db = await primary.createDatabase();
  dbName = db.name;
  pool = db.pool({ max: 8 });
  replica = await startPostgres({ name: 'repack-throttle-replica', replicaOf: primary });
});
afterAll(async () => {
  await replica?.destroy();
  await primary?.destroy();
});

async function caughtUp(): Promise<void> {
  const { rows } = await primary.query('SELECT pg_current_wal_lsn()::text AS lsn');
  await waitFor(
    async () => {
      const r = await replica.query(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok`, [rows[0]!.lsn]);
      return r.rows[0]?.ok === true;
    },
    { timeoutMs: 30_000, describe: () => 'replica replay' },
  );
}

describe('replica-friendly throttling', () => {
  it('pauses while a streaming standby with paused replay lags too much, and resumes when it catches up', async () => {
    await pool.query(`CREATE TABLE lagged (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
    await pool.query(`INSERT INTO lagged SELECT g, g, repeat('r', 100) || g, NULL FROM generate_series(1, 20000) g`);
    await pool.query(`DELETE FROM lagged WHERE id % 2 = 0`);
    await caughtUp();
    await replica.query('SELECT pg_wal_replay_pause()');
    const events: RepackEvent[] = [];
    const writer = startWriter(pool, 'lagged', { nextId: 1_000_000, pauseMs: 5 });
    let finished = false;
    const run = repack(pool, { table: 'lagged', maxReplicaLag: '256kB', onEvent: (e) => events.push(e) }).finally(() => (finished = true));
    try {
      await waitFor(async () => events.some((e) => e.type === 'throttle-paused'), { timeoutMs: 30_000, describe: () => 'a throttle-paused event' });
      const paused = events.find((e) => e.type === 'throttle-paused');
      expect(paused).toMatchObject({ table: 'public.lagged', phase: 'copy' });
      expect((paused as { reason: string }).reason).toMatch(/bytes behind \(limit 262144\)/);
      // While replay stays paused the run makes no progress past the pause.
      await new Promise((r) => setTimeout(r, 2000));
      expect(finished).toBe(false);
      expect(events.some((e) => e.type === 'throttle-resumed')).toBe(false);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    const result = await run;
    await writer.stop();
    expect(result.tables[0]!.status).toBe('repacked');
    const resumed = events.find((e) => e.type === 'throttle-resumed');
    expect(resumed).toBeDefined();
    expect((resumed as { pausedMs: number }).pausedMs).toBeGreaterThanOrEqual(2000);
    expect(await diffTable(pool, 'lagged', writer.expected)).toEqual([]);
    await caughtUp();
    const hash = async (c: PgCluster): Promise<string> => {
      const client = new pg.Client(c.clientConfig(dbName));
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM lagged t`);
        return rows[0].h;
      } finally {
        await client.end();
      }
    };
    expect(await hash(replica)).toBe(await hash(primary));
  });

  it('--max-rate caps the copy at the given rows per second', async () => {
    await pool.query(`CREATE TABLE rated (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
    await pool.query(`INSERT INTO rated SELECT g, g, 'x' || g, NULL FROM generate_series(1, 3000) g`);
    await pool.query('ANALYZE rated');
    const result = await repack(pool, { table: 'rated', maxRate: 2000 });
    const t = result.tables[0]!;
    expect(t.status).toBe('repacked');
    expect(t.rowsCopied).toBe(3000);
    // 3000 rows at 2000 rows/s: the copy cannot take less than about a second (the cap is the contract).
    expect(t.phases.find((p) => p.phase === 'copy')!.ms).toBeGreaterThanOrEqual(900);
  });

  it("with tables in parallel, every running table pauses for the lagging standby, and the rate is the run's", async () => {
    await pool.query('CREATE SCHEMA lagmulti');
    for (const t of ['a', 'b', 'c']) {
      await pool.query(`CREATE TABLE lagmulti.${t} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
      await pool.query(`INSERT INTO lagmulti.${t} SELECT g, g, repeat('r', 100) || g, NULL FROM generate_series(1, 20000) g`);
      await pool.query(`DELETE FROM lagmulti.${t} WHERE id % 2 = 0`);
    }
    await caughtUp();
    await replica.query('SELECT pg_wal_replay_pause()');
    const events: RepackEvent[] = [];
    let finished = false;
    const run = repack(pool, { schemas: ['lagmulti'], tableConcurrency: 3, maxReplicaLag: '256kB', onEvent: (e) => events.push(e) }).finally(
      () => (finished = true),
    );
    const pausedTables = (): Set<string> => new Set(events.flatMap((e) => (e.type === 'throttle-paused' ? [e.table] : [])));
    try {
      await waitFor(async () => pausedTables().size === 3, {
        timeoutMs: 30_000,
        describe: () => `all three tables paused (${[...pausedTables()].join(', ')})`,
      });
      await new Promise((r) => setTimeout(r, 1000));
      expect(finished).toBe(false);
      expect(events.some((e) => e.type === 'throttle-resumed')).toBe(false);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    const result = await run;
    expect(result.tables.map((t) => t.status)).toEqual(['repacked', 'repacked', 'repacked']);

    // maxRate is shared: three tables of 3,000 rows at 3,000 rows/s take about three seconds together, not one.
    await pool.query('CREATE SCHEMA ratemulti');
    for (const t of ['a', 'b', 'c']) {
      await pool.query(`CREATE TABLE ratemulti.${t} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
      await pool.query(`INSERT INTO ratemulti.${t} SELECT g, g, 'x' || g, NULL FROM generate_series(1, 3000) g`);
      await pool.query(`ANALYZE ratemulti.${t}`);
    }
    const t0 = Date.now();
    const rated = await repack(pool, { schemas: ['ratemulti'], tableConcurrency: 3, maxRate: 3000 });
    const wall = Date.now() - t0;
    expect(rated.tables.map((t) => t.status)).toEqual(['repacked', 'repacked', 'repacked']);
    expect(rated.tables.reduce((n, t) => n + t.rowsCopied, 0)).toBe(9000);
    console.log(`[measure] 3 tables x 3000 rows at maxRate 3000, tableConcurrency 3: ${wall} ms`);
    expect(wall).toBeGreaterThanOrEqual(2700);
  });
});

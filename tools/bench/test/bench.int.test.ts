import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import os from 'node:os';
import pg from 'pg';
import { startPostgres, waitFor, type PgCluster } from '@pgtools/testkit';
import { runBenchmark } from '../src/bench.js';
import { fixtureStatements, TABLE_NAME } from '../src/fixture.js';
import { runFloors } from '../src/floors.js';
import { startLoad } from '../src/load.js';
import { startLockSampler } from '../src/lock-sampler.js';
import { parseBenchArgs } from '../src/options.js';
import { benchSettings } from '../src/settings.js';
import { verifyTable } from '../src/verify.js';

const ROWS = 4000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('load, ledger and verification on a real server', () => {
  let cluster: PgCluster;
  let client: pg.Client;
  let database: string;

  beforeAll(async () => {
    cluster = await startPostgres({ settings: { ...benchSettings({ fsync: false }), shared_buffers: '128MB' }, name: 'bench-int' });
    const db = await cluster.createDatabase();
    database = db.name;
    client = new pg.Client(db.config);
    await client.connect();
    for (const sql of fixtureStatements(ROWS)) await client.query(sql);
    await client.query('CREATE EXTENSION amcheck');
  });

  afterAll(async () => {
    await client?.end().catch(() => {});
    await cluster?.destroy();
  });

  it('the table matches what the logged load implies, and a change the load did not make is caught', async () => {
    const load = await startLoad(client, {
      pgbench: `${cluster.binDir}/pgbench`,
      host: cluster.host,
      port: cluster.port,
      user: 'postgres',
      database,
      rows: ROWS,
      clients: 2,
      threads: 1,
      tps: 200,
    });
    // pgbench's start-up comes out of any fixed window: wait for the ledger to fill instead.
    await waitFor(async () => Number((await client.query<{ n: string }>('SELECT count(*)::text AS n FROM bench_ledger')).rows[0]!.n) > 450, {
      timeoutMs: 20_000,
      intervalMs: 200,
      describe: () => 'the load wrote 450 ledger entries (one to three per transaction)',
    });
    const stopped = await load.stop(client);
    expect(stopped.clientsAlive).toBe(2);
    expect(stopped.transactions.length).toBeGreaterThan(100);
    const { rows: ledger } = await client.query<{ op: string; n: string }>('SELECT op, count(*)::text AS n FROM bench_ledger GROUP BY op');
    expect(ledger.map((r) => r.op).sort()).toEqual(['d', 'i', 'u']);

    const good = await verifyTable(client, { rows: ROWS, amcheck: true });
    expect(good.problems).toEqual([]);
    expect(good.correct).toBe(true);
    expect(good.liveRows).toBeGreaterThan(ROWS / 2);

    await client.query(`UPDATE ${TABLE_NAME} SET counter = counter + 1 WHERE id = (SELECT min(id) FROM ${TABLE_NAME})`);
    const bad = await verifyTable(client, { rows: ROWS, amcheck: false });
    expect(bad.correct).toBe(false);
    expect(bad.problems.join()).toMatch(/checksum/);
    await client.query(`UPDATE ${TABLE_NAME} SET counter = counter - 1 WHERE id = (SELECT min(id) FROM ${TABLE_NAME})`);

    // The alter scenario's type check: the fixture's bigint id is not the integer one asked for.
    const typed = await verifyTable(client, { rows: ROWS, amcheck: false, idType: 'integer' });
    expect(typed.idType).toBe('bigint');
    expect(typed.problems).toEqual(['id is bigint, expected integer']);

    await client.query(`DELETE FROM ${TABLE_NAME} WHERE id = (SELECT max(id) FROM ${TABLE_NAME})`);
    expect((await verifyTable(client, { rows: ROWS, amcheck: false })).problems.join()).toMatch(/checksum/);
  });

  it('the pg_locks sampler sees an ACCESS EXCLUSIVE hold and bounds its length', async () => {
    const sampler = new pg.Client(cluster.clientConfig(database));
    const locker = new pg.Client(cluster.clientConfig(database));
    await sampler.connect();
    await locker.connect();
    try {
      const { rows } = await locker.query<{ oid: number; pid: number }>('SELECT $1::regclass::oid::int AS oid, pg_backend_pid() AS pid', [TABLE_NAME]);
      const running = startLockSampler(sampler, { tableOid: rows[0]!.oid, tableName: TABLE_NAME, intervalMs: 5 });
      await sleep(100);
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${TABLE_NAME} IN ACCESS EXCLUSIVE MODE`);
      await sleep(300);
      await locker.query('COMMIT');
      await sleep(100);
      const { holds } = await running.stop();
      expect(holds).toHaveLength(1);
      expect(holds[0]!.pid).toBe(rows[0]!.pid);
      expect(holds[0]!.lowerMs).toBeLessThanOrEqual(holds[0]!.upperMs);
      expect(holds[0]!.estimateMs).toBeGreaterThan(250);
      expect(holds[0]!.estimateMs).toBeLessThan(1000);
    } finally {
      await sampler.end();
      await locker.end();
    }
  });
});

describe('runBenchmark end to end (tiny table)', () => {
  it('runs every contender under load and finds every table correct', async () => {
    const options = parseBenchArgs(['--rows', '4000', '--runs', '1', '--warmup', '0.5', '--tail', '0.5', '--baseline-seconds', '1', '--no-out']);
    const lines: string[] = [];
    const result = await runBenchmark(options, { command: 'test', log: (l) => lines.push(l) });
    expect(result.passes.map((p) => `${p.contender} ${p.load}`)).toHaveLength(10);
    for (const p of result.passes) expect(p.error, `${p.contender} ${p.load}`).toBeUndefined();
    expect(result.allOk).toBe(true);
    const catalog = result.passes.find((p) => p.contender === 'pgtools-catalog' && p.load === 'throttled')!;
    expect(catalog.toolHolds?.map((h) => h.purpose)).toEqual(['setup', 'swap']);
    expect(catalog.maxRssKb).toBeGreaterThan(10_000);
    const vacuumFull = result.passes.find((p) => p.contender === 'vacuum-full' && p.load === 'throttled')!;
    expect(vacuumFull.sampledHolds.length).toBeGreaterThanOrEqual(1);
    expect(result.report).toContain('| pg_repack |');
    expect(result.summaries.map((s) => s.contender)).toEqual(['no-repack', 'pgtools-catalog', 'pgtools-rename', 'pg_repack', 'vacuum-full']);
  }, 240_000);
});

describe('the alter scenario end to end (tiny table)', () => {
  it('widens the integer id with pgtools and with a plain ALTER under load, each table verified', async () => {
    const options = parseBenchArgs(['--scenario', 'alter', '--rows', '4000', '--runs', '1', '--warmup', '0.5', '--tail', '0.5', '--baseline-seconds', '1']);
    const result = await runBenchmark(options, { command: 'test', log: () => {} });
    expect(result.passes.map((p) => `${p.contender} ${p.load} ${p.verification.idType}`)).toEqual([
      'no-repack throttled integer',
      'pgtools-alter throttled bigint',
      'plain-alter throttled bigint',
    ]);
    for (const p of result.passes) expect(p.error, p.contender).toBeUndefined();
    expect(result.allOk).toBe(true);
    const pgtools = result.passes.find((p) => p.contender === 'pgtools-alter')!;
    expect(pgtools.toolHolds?.map((h) => h.purpose)).toContain('swap');
    // The plain ALTER holds ACCESS EXCLUSIVE for its whole rewrite: the sampler sees it.
    expect(result.passes.find((p) => p.contender === 'plain-alter')!.sampledHolds.length).toBeGreaterThanOrEqual(1);
    expect(result.targets.map((t) => t.target)).toEqual(['longest ACCESS EXCLUSIVE < 100 ms', 'max load latency 20x lower than plain ALTER']);
    expect(result.report).toContain('### Online schema change: int → bigint of the primary key (issue 19)');
  }, 240_000);

  it('--partitions: widens the id of a hash-partitioned table with pgtools (one swap of the whole tree) and with a plain ALTER, each verified', async () => {
    const options = parseBenchArgs(
      ['--scenario', 'alter', '--partitions', '3', '--contenders', 'pgtools-alter,plain-alter'].concat([
        '--rows',
        '4000',
        '--runs',
        '1',
        '--warmup',
        '0.5',
        '--tail',
        '0.5',
      ]),
    );
    const result = await runBenchmark(options, { command: 'test', log: () => {} });
    expect(result.passes.map((p) => `${p.contender} ${p.verification.idType} ${p.verification.correct}`)).toEqual([
      'pgtools-alter bigint true',
      'plain-alter bigint true',
    ]);
    for (const p of result.passes) expect(p.error, p.contender).toBeUndefined();
    expect(result.passes[0]!.toolHolds?.map((h) => h.purpose)).toContain('swap');
    expect(result.report).toContain('hash-partitioned into 3 partitions');
  }, 240_000);
});

describe('cost floors (tiny table)', () => {
  it('times every step of a repack and the load with and without a capture that really captures', async () => {
    const options = parseBenchArgs(['--floors', '--rows', '4000', '--runs', '1', '--baseline-seconds', '1']);
    expect(options.out).toBeUndefined();
    const result = await runFloors(options, { command: 'test', log: () => {} });
    expect(result.work.size).toBe(9);
    for (const [step, samples] of result.work) {
      expect(samples, step).toHaveLength(1);
      expect(samples[0]!.ms, step).toBeGreaterThan(0);
      // /proc/stat counts in 10 ms ticks: a step of a few ms on this tiny table may see none.
      expect(samples[0]!.cores, step).toBeGreaterThanOrEqual(0);
      expect(samples[0]!.cores, step).toBeLessThanOrEqual(os.cpus().length + 0.01);
    }
    expect(result.load.map((l) => `${l.level} ${l.capture}`)).toEqual([
      '400 tps false',
      '400 tps true',
      '2000 tps (heavy, 16 clients) false',
      '2000 tps (heavy, 16 clients) true',
      'unthrottled false',
      'unthrottled true',
    ]);
    for (const l of result.load) {
      expect(l.tps, l.level).toBeGreaterThan(0);
      // Only the capture windows have a log, and the trigger filled it.
      if (l.capture) expect(l.logRows, l.level).toBeGreaterThan(0);
      else expect(l.logRows).toBeUndefined();
    }
    expect(result.report).toContain('## Cost floors');
    expect(result.report).toMatch(/\| unthrottled \| yes \| \d+ \(\d+%\) \|/);
  }, 240_000);
});

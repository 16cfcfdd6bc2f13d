import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { repack, type RepackEvent } from '../src/index.js';
import { diffTable, startWriter, type Writer } from './workload.js';

// Issue 20 item 3: tables of one run repacked side by side (`tableConcurrency`), under writers.
let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-table-concurrency' });
  db = await cluster.createDatabase();
  pool = db.pool({ max: 12 });
});
afterAll(async () => {
  await pool?.end();
  await cluster?.destroy();
});

/** Each table's span, from its first phase start to its last phase end. */
function spans(events: RepackEvent[]): Map<string, { from: number; to: number }> {
  const out = new Map<string, { from: number; to: number }>();
  events.forEach((e, i) => {
    if (e.type !== 'phase-start' && e.type !== 'phase-end') return;
    const s = out.get(e.table) ?? { from: i, to: i };
    s.to = i;
    out.set(e.table, s);
  });
  return out;
}

/** The most tables whose spans overlap at one point of the event sequence. */
function mostAtOnce(events: RepackEvent[]): number {
  const all = [...spans(events).values()];
  let most = 0;
  for (let i = 0; i < events.length; i++) most = Math.max(most, all.filter((s) => s.from <= i && i <= s.to).length);
  return most;
}

async function bloatedTable(name: string, rows: number): Promise<void> {
  await pool.query(`INSERT INTO ${name} (id, a, b) SELECT g, g % 100, 'r' || g FROM generate_series(1, ${rows}) g`);
  await pool.query(`DELETE FROM ${name} WHERE id % 2 = 0`);
}

async function leftoverTools(): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgtools' AND c.relkind = 'r' AND c.relname <> 'progress'`,
  );
  return rows.map((r) => r.name);
}

describe('tables in parallel (tableConcurrency)', () => {
  it('repacks a schema three tables at a time under writers, every row as written, results in table order', async () => {
    await pool.query('CREATE SCHEMA multi');
    const names = ['t1', 't2', 't3', 't4', 't5'].map((t) => `multi.${t}`);
    for (const t of names) {
      await pool.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
      await pool.query(`CREATE INDEX ON ${t} (a)`);
      await bloatedTable(t, 6000);
    }
    const writers: Writer[] = names.map((t, i) => startWriter(pool, t, { seed: 7 + i, nextId: 100_000 }));
    const events: RepackEvent[] = [];
    let result;
    try {
      result = await repack(db.config, { schemas: ['multi'], tableConcurrency: 3, onEvent: (e) => events.push(e) });
    } finally {
      await Promise.all(writers.map((w) => w.stop()));
    }
    expect(result.tables.map((t) => t.table)).toEqual(names);
    expect(result.tables.map((t) => t.status)).toEqual(names.map(() => 'repacked'));
    expect(result.exitCode).toBe(0);
    // The writers wrote while the tables were copied: their changes came through the logs.
    expect(result.tables.some((t) => t.log.entries > 0)).toBe(true);
    const most = mostAtOnce(events);
    console.log(`[measure] tableConcurrency 3, 5 tables: at most ${most} at once`);
    expect(most).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(3);
    // The disk check of a table started while others ran counted their copies too.
    const checks = events.filter((e): e is Extract<RepackEvent, { type: 'disk-check' }> => e.type === 'disk-check');
    expect(checks).toHaveLength(5);
    expect(checks.some((e) => e.check.note.includes('running alongside'))).toBe(true);
    for (const [i, t] of names.entries()) {
      expect(writers[i]!.errors).toEqual([]);
      expect(await diffTable(pool, t, writers[i]!.expected), t).toEqual([]);
    }
    expect(await leftoverTools()).toEqual([]);
    const { rows: locks } = await pool.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory'`);
    expect(locks).toEqual([]);
  });

  it("repacks a partitioned table's leaves three at a time with the rename swap, under a writer", async () => {
    await pool.query('CREATE TABLE parted (id bigint PRIMARY KEY, a int, b text, c jsonb) PARTITION BY HASH (id)');
    for (let i = 0; i < 5; i++) await pool.query(`CREATE TABLE parted_${i} PARTITION OF parted FOR VALUES WITH (MODULUS 5, REMAINDER ${i})`);
    await pool.query('CREATE INDEX ON parted (a)');
    await bloatedTable('parted', 20000);
    const writer = startWriter(pool, 'parted', { nextId: 100_000 });
    const events: RepackEvent[] = [];
    let result;
    try {
      result = await repack(db.config, { table: 'parted', swap: 'rename', tableConcurrency: 3, onEvent: (e) => events.push(e) });
    } finally {
      await writer.stop();
    }
    expect(result.tables.map((t) => t.table)).toEqual([0, 1, 2, 3, 4].map((i) => `public.parted_${i}`));
    expect(result.tables.map((t) => `${t.status} ${t.code ?? ''}`.trim())).toEqual(result.tables.map(() => 'repacked'));
    expect(mostAtOnce(events)).toBeGreaterThanOrEqual(2);
    expect(result.tables.some((t) => t.log.entries > 0)).toBe(true);
    expect(writer.errors).toEqual([]);
    expect(await diffTable(pool, 'parted', writer.expected)).toEqual([]);
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_inherits WHERE inhparent = 'parted'::regclass`);
    expect(rows[0]!.n).toBe('5');
    expect(await leftoverTools()).toEqual([]);
  });

  it("the DDL guard, on one of the run's own connections, still cancels DDL queued behind a table, with tables in parallel", async () => {
    await pool.query('CREATE SCHEMA ddlmulti');
    for (const t of ['a', 'b', 'c']) {
      await pool.query(`CREATE TABLE ddlmulti.${t} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
      await bloatedTable(`ddlmulti.${t}`, 4000);
    }
    const ddl = await pool.connect();
    ddl.on('error', () => {});
    const ddlPid: number = (await ddl.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const events: RepackEvent[] = [];
    let ddlError: unknown;
    try {
      const result = await repack(db.config, {
        schemas: ['ddlmulti'],
        tableConcurrency: 2,
        onEvent: (e) => events.push(e),
        pausePoint: async (p, info) => {
          if (p !== 'after-copy' || info.table !== 'ddlmulti.b') return;
          ddlError = await ddl.query('ALTER TABLE ddlmulti.b ADD COLUMN extra int').catch((e: unknown) => e);
        },
      });
      expect(result.tables.map((t) => t.status)).toEqual(['repacked', 'repacked', 'repacked']);
    } finally {
      ddl.release();
    }
    expect((ddlError as { code?: string }).code).toBe('57014');
    expect(events.some((e) => e.type === 'ddl-cancelled' && e.table === 'ddlmulti.b' && e.session.pid === ddlPid)).toBe(true);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses tableConcurrency %s before connecting', async (n) => {
    await expect(repack(db.config, { allTables: true, tableConcurrency: n })).rejects.toMatchObject({
      code: 'invalid_option',
      message: expect.stringContaining('tableConcurrency must be a whole number of at least 1'),
    });
  });
});

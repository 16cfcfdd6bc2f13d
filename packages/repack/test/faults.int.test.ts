import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { cleanupLeftovers, repack, type PausePoint, type RepackResult } from '../src/index.js';
import { diffTable, startWriter } from './workload.js';
import { killDuringWrites, PAUSE_POINTS, runChild as runChildProcess } from './child-run.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'faults' });
  db = await cluster.createDatabase();
  pool = db.pool({ max: 8 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const POINTS = PAUSE_POINTS;

const runChild = (table: string, point: PausePoint, mode: 'hang' | 'continue') => runChildProcess(db.connectionString, table, point, mode);

async function makeTable(name: string): Promise<void> {
  await pool.query(`CREATE TABLE ${name} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
  await pool.query(`INSERT INTO ${name} SELECT g, g, 'v' || g, NULL FROM generate_series(1, 3000) g`);
  await pool.query(`DELETE FROM ${name} WHERE id % 2 = 0`);
}

async function filenode(name: string): Promise<number> {
  const { rows } = await pool.query(`SELECT relfilenode::int8 AS f FROM pg_class WHERE oid = $1::regclass`, [name]);
  return Number(rows[0].f);
}

describe('the repack process is SIGKILLed in every phase', () => {
  it.each(POINTS)('killed at %s: the table stays intact and writable, the next run cleans up and repacks', async (point) => {
    const table = `kill_${point.replace(/-/g, '_')}`;
    await makeTable(table);
    // Writes keep working while leftovers (if any) exist.
    const writer = await killDuringWrites(pool, db.connectionString, table, point);
    expect(writer.errors).toEqual([]);
    expect(await diffTable(pool, table, writer.expected)).toEqual([]);
    const before = await filenode(table);
    const writer2 = startWriter(pool, table, { nextId: 200_000, seed: 7, pauseMs: 2 });
    // Our dead backends may still be going away; the advisory lock dies with them.
    let result: RepackResult | undefined;
    for (let i = 0; i < 20; i++) {
      result = await repack(pool, { table, switchThreshold: 5 });
      if (result.tables[0]!.code !== 'repack_running') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await writer2.stop();
    expect(result!.tables[0]!.status).toBe('repacked');
    if (point !== 'after-advisory-lock' && point !== 'after-swap') expect(result!.tables[0]!.leftoversRemoved.length).toBeGreaterThan(0);
    expect(await filenode(table)).not.toBe(before);
    expect(await diffTable(pool, table, writer2.expected)).toEqual([]);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgtools'`);
    expect(rows[0].n).toBe(0);
  });
});

describe("the repack's backends are terminated in every phase", () => {
  it.each(POINTS.filter((p) => p !== 'after-swap'))('terminated at %s: the run fails cleanly and the table is intact', async (point) => {
    const table = `term_${point.replace(/-/g, '_')}`;
    await makeTable(table);
    const { rows: before } = await pool.query(`SELECT count(*)::int AS n FROM ${table}`);
    const { child, paused, result } = runChild(table, point, 'continue');
    const pids = await paused;
    for (const pid of pids) await pool.query('SELECT pg_terminate_backend($1)', [pid]);
    child.stdin!.write('go\n');
    const r = await result;
    expect(r?.tables[0]?.status).toBe('failed');
    const { rows: after } = await pool.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(after[0].n).toBe(before[0].n);
    await pool.query(`INSERT INTO ${table} (id, a) VALUES (-1, 1)`);
    // Whatever the dead run left, --cleanup (or the next run) removes it.
    await cleanupLeftovers(pool);
    const again = await repack(pool, { table });
    expect(again.tables[0]!.status).toBe('repacked');
  });
});

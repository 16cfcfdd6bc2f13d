import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { repack, type PausePoint } from '../src/index.js';
import { diffTable, startWriter } from './workload.js';

let cluster: PgCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-abort' });
  pool = (await cluster.createDatabase()).pool({ max: 8 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const POINTS: PausePoint[] = ['after-capture', 'during-copy', 'after-indexes', 'during-apply', 'before-swap'];

describe('AbortSignal: abort stops safely and cleans up', () => {
  it.each(POINTS)('aborted at %s: nothing of ours is left and the table is intact and writable', async (point) => {
    const table = `abort_${point.replace(/-/g, '_')}`;
    await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
    await pool.query(`INSERT INTO ${table} SELECT g, g, 'v' || g, NULL FROM generate_series(1, 2000) g`);
    const { rows: before } = await pool.query(`SELECT relfilenode FROM pg_class WHERE oid = $1::regclass`, [table]);
    const writer = startWriter(pool, table, { nextId: 100_000, pauseMs: 2 });
    const controller = new AbortController();
    const result = await repack(pool, {
      table,
      signal: controller.signal,
      pausePoint: (p) => {
        if (p === point) controller.abort(new Error('operator pressed Ctrl-C'));
      },
    });
    await writer.stop();
    expect(result.tables[0]).toMatchObject({ status: 'failed', code: 'aborted' });
    expect(result.tables[0]!.cleanupHint).toBeUndefined();
    expect(writer.errors).toEqual([]);
    expect(await diffTable(pool, table, writer.expected)).toEqual([]);
    const { rows: after } = await pool.query(`SELECT relfilenode FROM pg_class WHERE oid = $1::regclass`, [table]);
    expect(after).toEqual(before);
    const { rows: ours } = await pool.query(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgtools'
       UNION ALL SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`,
      [table],
    );
    expect(ours).toEqual([]);
    // The advisory lock was released: the next run works.
    const again = await repack(pool, { table });
    expect(again.tables[0]!.status).toBe('repacked');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { attachCapture, countLog, detachCapture, dropCapture, prepareCapture } from '../src/index.js';
import { tableOid } from './helpers.js';

let cluster: PgCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'cdc-prepare' });
  pool = (await cluster.createDatabase()).pool({ max: 6 });
});
afterAll(async () => {
  await cluster?.destroy();
});

async function triggers(table: string): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [table]);
  return rows[0].n;
}

describe('capture in two steps: prepare outside the lock, attach under it', () => {
  it('prepare does not wait for open readers or writers; only attach and detach need the lock', async () => {
    await pool.query(`CREATE TABLE pa (id int PRIMARY KEY, v text)`);
    const oid = await tableOid(pool, 'public', 'pa');
    const busy = await pool.connect();
    try {
      // A writer in an open transaction holds ROW EXCLUSIVE; prepare must not queue behind it.
      await busy.query('BEGIN');
      await busy.query(`INSERT INTO pa VALUES (1, 'open')`);
      const client = await pool.connect();
      try {
        await client.query(`SET lock_timeout = '200ms'`);
        const capture = await prepareCapture(client, { table: { schema: 'public', name: 'pa', oid }, keyColumns: ['id'] });
        expect(await triggers('pa')).toBe(0);
        // Nothing is captured before the trigger is attached.
        await busy.query('COMMIT');
        await pool.query(`INSERT INTO pa VALUES (2, 'before attach')`);
        expect(await countLog(pool, capture)).toBe(0);
        await client.query('BEGIN');
        await client.query('LOCK TABLE pa IN ACCESS EXCLUSIVE MODE');
        await attachCapture(client, capture);
        await client.query('COMMIT');
        await pool.query(`INSERT INTO pa VALUES (3, 'after attach')`);
        await pool.query(`UPDATE pa SET v = NULL WHERE id = 1`);
        expect(await countLog(pool, capture)).toBe(2);
        // Detach removes only the trigger; the log is still there to be dropped outside the lock.
        await detachCapture(client, capture);
        await pool.query(`INSERT INTO pa VALUES (4, 'after detach')`);
        expect(await triggers('pa')).toBe(0);
        expect(await countLog(pool, capture)).toBe(2);
        await dropCapture(client, capture);
        const { rows } = await pool.query(`SELECT to_regclass($1) IS NULL AS gone`, [`${capture.toolSchema}.${capture.logTable}`]);
        expect(rows[0].gone).toBe(true);
      } finally {
        client.release();
      }
    } finally {
      await busy.query('ROLLBACK').catch(() => {});
      busy.release();
    }
  });

  it('a prepared capture keeps column-changing DDL out until it is dropped', async () => {
    await pool.query(`CREATE TABLE pa2 (id int PRIMARY KEY, v text)`);
    const oid = await tableOid(pool, 'public', 'pa2');
    const capture = await prepareCapture(pool, { table: { schema: 'public', name: 'pa2', oid }, keyColumns: ['id'] });
    await expect(pool.query(`ALTER TABLE pa2 ALTER COLUMN v TYPE int USING 0`)).rejects.toThrow(/depend|row type|uses/);
    await dropCapture(pool, capture);
    await pool.query(`ALTER TABLE pa2 ALTER COLUMN v TYPE int USING 0`);
  });
});

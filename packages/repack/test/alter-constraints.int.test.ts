import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { planRepack, repack } from '../src/index.js';
import { startWriter } from './workload.js';
import { alterHelpers, expectRepackedUnderWriter, slow } from './alter-helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-alter-constraints', settings: { max_connections: 50 } });
  db = await cluster.createDatabase();
  pool = db.pool({ max: 12 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const { createTable, columnTypes, leftovers } = alterHelpers(() => pool);

async function constraints(table: string): Promise<Array<{ name: string; type: string; validated: boolean }>> {
  const { rows } = await pool.query<{ name: string; type: string; validated: boolean }>(
    `SELECT conname AS name, contype::text AS type, convalidated AS validated FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('c', 'u', 'f') ORDER BY conname`,
    [table],
  );
  return rows;
}

/** A failed run: the table as it was (same columns, none of the new constraints), the rows all there, nothing left behind. */
async function expectIntact(table: string, types: Record<string, string>, rows: number): Promise<void> {
  expect(await columnTypes(table)).toEqual(types);
  expect(await constraints(table)).toEqual([]);
  const { rows: n } = await pool.query(`SELECT count(*)::int AS n FROM ${table}`);
  expect(n[0].n).toBe(rows);
  expect(await leftovers()).toEqual([]);
}

const writerShape = { id: 'integer', a: 'integer', b: 'text', c: 'jsonb', extra: 'text' };
const fast = { switchThreshold: 5, applyBatchSize: 50, copyChunkPages: 8, pausePoint: slow };

describe('repack --alter ADD CONSTRAINT', () => {
  it('adds CHECK, UNIQUE and FOREIGN KEY constraints under a concurrent writer, validated, with the default names', async () => {
    await pool.query(`CREATE TABLE public.customers (id int PRIMARY KEY)`);
    await pool.query(`INSERT INTO public.customers SELECT g FROM generate_series(1, 100) g`);
    const q = await createTable('orders', 20_000);
    await pool.query(`ALTER TABLE ${q} ADD COLUMN cust int`);
    await pool.query(`UPDATE ${q} SET cust = id % 100 + 1`);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, {
      table: q,
      alter: ['ADD CHECK (a >= -1 AND a < 1000)', 'ADD CONSTRAINT "Uniq; c" UNIQUE (c)', 'ADD FOREIGN KEY (cust) REFERENCES customers ON DELETE SET NULL'],
      ...fast,
    });
    await writer.stop();
    await expectRepackedUnderWriter(pool, result, writer, q);
    expect(await constraints(q)).toEqual([
      { name: 'Uniq; c', type: 'u', validated: true },
      { name: 'orders_a_check', type: 'c', validated: true },
      { name: 'orders_cust_fkey', type: 'f', validated: true },
    ]);
    await expect(pool.query(`INSERT INTO ${q} (id, a) VALUES (900001, 5000)`)).rejects.toThrow(/orders_a_check/);
    await expect(pool.query(`INSERT INTO ${q} (id, c) SELECT 900002, c FROM ${q} WHERE c IS NOT NULL LIMIT 1`)).rejects.toThrow(/Uniq; c/);
    await expect(pool.query(`INSERT INTO ${q} (id, cust) VALUES (900003, 1000)`)).rejects.toThrow(/orders_cust_fkey/);
    await pool.query(`DELETE FROM public.customers WHERE id = 7`);
    const { rows: orphans } = await pool.query(`SELECT count(*)::int AS n FROM ${q} WHERE cust = 7`);
    expect(orphans[0].n).toBe(0);
    expect(await leftovers()).toEqual([]);
  });

  it('fails a CHECK that a copied row violates, with its key; the table is untouched', async () => {
    const q = await createTable('chk', 3_000);
    await pool.query(`UPDATE ${q} SET a = 5000 WHERE id = 1234`);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, { table: q, alter: ['ADD CONSTRAINT small_a CHECK (a < 1000)'], ...fast });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(t.message).toContain('{"id" : 1234}');
    expect(t.message).toContain('"small_a"');
    expect(writer.errors).toEqual([]);
    await expectIntact(q, writerShape, writer.expected.size);
  });

  it('fails a CHECK that a row written during the run violates, with its key', async () => {
    const q = await createTable('chk2', 2_000);
    const result = await repack(pool, {
      table: q,
      alter: ['ADD COLUMN d int DEFAULT 1', 'ADD CHECK (a < 1000 AND d = 1)'],
      pausePoint: async (point) => {
        if (point === 'after-copy') await pool.query(`INSERT INTO ${q} (id, a) VALUES (7001, 1), (7002, 4000)`);
      },
    });
    const t = result.tables[0]!;
    expect(t).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(t.message).toContain('{"id" : 7002}');
    expect(t.message).toContain('written during the run');
    await expectIntact(q, writerShape, 2_002);
  });

  it('fails a UNIQUE that copied rows violate with both keys, and one that a row written during the run violates with the value', async () => {
    const q = await createTable('uq', 3_000);
    // A column the writer never sets (its inserts leave it NULL, which UNIQUE allows twice).
    await pool.query(`ALTER TABLE ${q} ADD COLUMN u int`);
    await pool.query(`UPDATE ${q} SET u = CASE WHEN id = 2500 THEN 17 ELSE id END`);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, { table: q, alter: ['ADD UNIQUE (u)'], ...fast });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(t.message).toMatch(/\[\{"id" : (17|2500)\}, \{"id" : (17|2500)\}\]/);
    expect(t.message).toContain('"uq_u_key"');
    expect(writer.errors).toEqual([]);
    await expectIntact(q, { ...writerShape, u: 'integer' }, writer.expected.size);

    const late = await repack(pool, {
      table: q,
      alter: ['ADD UNIQUE (c)'],
      pausePoint: async (point) => {
        if (point === 'after-indexes') await pool.query(`INSERT INTO ${q} (id, c) VALUES (900001, '{"g": 5}')`);
      },
    });
    expect(late.tables[0]).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(late.tables[0]!.message).toContain('Key (c)=({"g": 5}) already exists');
    await expectIntact(q, { ...writerShape, u: 'integer' }, writer.expected.size + 1);
  });

  it('fails a FOREIGN KEY that a row violates before the swap, with its key; the table is untouched', async () => {
    await pool.query(`CREATE SCHEMA "Sales"`);
    await pool.query(`CREATE TABLE "Sales"."Cust" ("Id" int PRIMARY KEY)`);
    await pool.query(`INSERT INTO "Sales"."Cust" SELECT g FROM generate_series(1, 10) g`);
    const q = await createTable('fk', 3_000);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, {
      table: q,
      alter: ['ADD CONSTRAINT to_cust FOREIGN KEY (a) REFERENCES "Sales"."Cust" ("Id")'],
      ...fast,
    });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(t.message).toMatch(/the row with key \{"id" : \d+\} violates the new FOREIGN KEY "to_cust"/);
    expect(writer.errors).toEqual([]);
    await expectIntact(q, writerShape, writer.expected.size);
  });

  it('refuses before anything is made: an unknown referenced table, a taken name, a CHECK that does not type-check; --dry-run lists the constraints', async () => {
    const q = await createTable('refuse', 100);
    for (const [action, why] of [
      ['ADD FOREIGN KEY (a) REFERENCES nope', /is not a table/],
      ['ADD CONSTRAINT refuse_pkey CHECK (a > 0)', /already exists/],
      [`ADD CHECK (b > 0)`, /operator does not exist/],
      ['ADD FOREIGN KEY (a) REFERENCES refuse', /itself/],
    ] as const) {
      const r = await repack(pool, { table: q, alter: [action] });
      expect(r.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
      expect(r.tables[0]!.message).toMatch(why);
    }
    await expectIntact(q, writerShape, 100);
    const plan = await planRepack(pool, { table: q, alter: ['ADD CHECK (a > 0)', 'ADD UNIQUE (c)'] });
    expect(plan[0]!.alter?.lines).toContain('+ CONSTRAINT "refuse_a_check" CHECK (a > 0) (checked on every copied and applied row)');
    expect(plan[0]!.alter?.lines).toContain('+ CONSTRAINT "refuse_c_key" UNIQUE ("c") (unique index built with the others, attached at the swap)');
  });
});

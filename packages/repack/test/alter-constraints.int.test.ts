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
    // A column the writer never sets: its deletes and key changes leave some of these rows in the copy.
    await pool.query(`UPDATE ${q} SET extra = 'bad' WHERE id BETWEEN 1200 AND 1299`);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, { table: q, alter: [`ADD CONSTRAINT small_a CHECK (extra <> 'bad')`], ...fast });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(t.message).toMatch(/the copy failed at the row with key \{"id" : \d+\}: it violates the new CHECK constraint "small_a"/);
    expect(writer.errors).toEqual([]);
    await expectIntact(q, writerShape, writer.expected.size);
  });

  it('fails a CHECK on an added generated column that a copied row violates, with its key', async () => {
    const q = await createTable('chk_gen', 500);
    await pool.query(`UPDATE ${q} SET extra = 'bad' WHERE id = 321`);
    const result = await repack(pool, {
      table: q,
      alter: [
        `ADD COLUMN flag boolean GENERATED ALWAYS AS (extra = 'bad') STORED`,
        'ADD CONSTRAINT has_flag CHECK (flag IS NOT NULL)',
        'ADD CONSTRAINT not_bad CHECK (NOT flag)',
      ],
      ...fast,
    });
    const t = result.tables[0]!;
    expect(t).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(t.message).toMatch(/the copy failed at the row with key \{"id" : 321\}: it violates the new CHECK constraint "not_bad"/);
    expect(await leftovers()).toEqual([]);
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
    // Every value twice: the writer's deletes and key changes leave duplicates in the copy whatever they hit.
    await pool.query(`UPDATE ${q} SET u = id / 2`);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, { table: q, alter: ['ADD UNIQUE (u)'], ...fast });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(t.message).toMatch(/the rows with keys \[\{"id" : \d+\}, \{"id" : \d+\}\]: they have the same \("u"\)/);
    expect(t.message).toContain('"uq_u_key"');
    expect(writer.errors).toEqual([]);
    await expectIntact(q, { ...writerShape, u: 'integer' }, writer.expected.size);

    const { rows: some } = await pool.query<{ c: string }>(`SELECT c::text AS c FROM ${q} WHERE c IS NOT NULL LIMIT 1`);
    const taken = some[0]!.c;
    const late = await repack(pool, {
      table: q,
      alter: ['ADD UNIQUE (c)'],
      pausePoint: async (point) => {
        if (point === 'after-indexes') await pool.query(`INSERT INTO ${q} (id, c) VALUES (900001, $1::jsonb)`, [taken]);
      },
    });
    expect(late.tables[0]).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(late.tables[0]!.message).toContain(`Key (c)=(${taken}) already exists`);
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

  it('reports a foreign key violated after the check before the swap: the table is swapped, the constraint left NOT VALID', async () => {
    await pool.query(`CREATE TABLE public.late_parent (id int PRIMARY KEY)`);
    await pool.query(`INSERT INTO public.late_parent SELECT g FROM generate_series(0, 999) g`);
    const q = await createTable('late_fk', 2_000);
    const result = await repack(pool, {
      table: q,
      alter: ['ADD CONSTRAINT to_parent FOREIGN KEY (a) REFERENCES late_parent'],
      pausePoint: async (point) => {
        // After the check, before the swap: the constraint is not there yet to stop the delete.
        if (point === 'before-swap') await pool.query(`DELETE FROM public.late_parent WHERE id = 5`);
      },
    });
    const t = result.tables[0]!;
    expect(t).toMatchObject({ status: 'failed', code: 'alter_constraint_violated' });
    expect(t.message).toMatch(/was rewritten and swapped, but validating a foreign key after the swap failed: .*"to_parent".*stays NOT VALID/);
    expect(await constraints(q)).toEqual([{ name: 'to_parent', type: 'f', validated: false }]);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${q}`);
    expect(rows[0].n).toBe(2_000);
    await expect(pool.query(`INSERT INTO ${q} (id, a) VALUES (900001, 5)`)).rejects.toThrow(/to_parent/);
    expect(await leftovers()).toEqual([]);
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
    expect(plan[0]!.alter?.constraints).toEqual([
      'CONSTRAINT "refuse_a_check" CHECK (a > 0) (checked on every copied and applied row)',
      'CONSTRAINT "refuse_c_key" UNIQUE ("c") (unique index built with the others, attached at the swap)',
    ]);
  });
});

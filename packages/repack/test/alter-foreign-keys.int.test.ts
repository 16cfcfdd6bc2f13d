import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { repack } from '../src/index.js';
import { alterHelpers } from './alter-helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-alter-fks', settings: { max_connections: 50 } });
  db = await cluster.createDatabase();
  pool = db.pool({ max: 12 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const { columnTypes, leftovers } = alterHelpers(() => pool);

async function foreignKeys(table: string): Promise<Array<{ name: string; target: string; validated: boolean }>> {
  const { rows } = await pool.query(
    `SELECT conname AS name, confrelid::regclass::text AS target, convalidated AS validated FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname`,
    [table],
  );
  return rows;
}

describe('repack --alter with foreign keys over a retyped column', () => {
  it('carries foreign keys both ways over type changes the server accepts (varchar → text, int → numeric, a self-reference), validated after the swap', async () => {
    await pool.query(`CREATE TABLE public.codes (code varchar(20) PRIMARY KEY, label text)`);
    await pool.query(`INSERT INTO public.codes SELECT 'c' || g, 'l' || g FROM generate_series(1, 500) g`);
    await pool.query(`CREATE TABLE public.uses (id int PRIMARY KEY, code varchar(20) REFERENCES public.codes ON UPDATE CASCADE)`);
    await pool.query(`INSERT INTO public.uses SELECT g, 'c' || (g % 500 + 1) FROM generate_series(1, 2000) g`);
    const r = await repack(pool, { table: 'public.codes', alter: ['ALTER COLUMN code TYPE text'] });
    expect(r.tables[0]!.message ?? '').toBe('');
    expect(r.tables[0]!.status).toBe('repacked');
    expect(await columnTypes('public.codes')).toEqual({ code: 'text', label: 'text' });
    expect(await foreignKeys('public.uses')).toEqual([{ name: 'uses_code_fkey', target: 'codes', validated: true }]);
    await expect(pool.query(`INSERT INTO public.uses VALUES (99999, 'nope')`)).rejects.toThrow(/foreign key/);

    // The referencing side retyped (outgoing), and a key referenced by its own table and another.
    const out = await repack(pool, { table: 'public.uses', alter: ['ALTER COLUMN code TYPE text'] });
    expect(out.tables[0]!.message ?? '').toBe('');
    expect(await foreignKeys('public.uses')).toEqual([{ name: 'uses_code_fkey', target: 'codes', validated: true }]);
    await pool.query(`CREATE TABLE public.tree (id int PRIMARY KEY, parent int REFERENCES public.tree)`);
    await pool.query(`INSERT INTO public.tree SELECT g, NULLIF(g - 1, 0) FROM generate_series(1, 1000) g`);
    await pool.query(`CREATE TABLE public.leaves (id int PRIMARY KEY, node int REFERENCES public.tree)`);
    await pool.query(`INSERT INTO public.leaves SELECT g, g FROM generate_series(1, 1000) g`);
    const tree = await repack(pool, { table: 'public.tree', alter: ['ALTER COLUMN id TYPE numeric(12)'] });
    expect(tree.tables[0]!.message ?? '').toBe('');
    expect(await columnTypes('public.tree')).toEqual({ id: 'numeric(12,0)', parent: 'integer' });
    expect(await foreignKeys('public.tree')).toEqual([{ name: 'tree_parent_fkey', target: 'tree', validated: true }]);
    expect(await foreignKeys('public.leaves')).toEqual([{ name: 'leaves_node_fkey', target: 'tree', validated: true }]);
    await expect(pool.query(`INSERT INTO public.leaves VALUES (5000, 5000)`)).rejects.toThrow(/foreign key/);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses before anything is made what the server would not accept, naming the foreign key, and a USING on a foreign key column', async () => {
    await pool.query(`CREATE TABLE public.nums (id int PRIMARY KEY)`);
    await pool.query(`INSERT INTO public.nums SELECT g FROM generate_series(1, 100) g`);
    await pool.query(`CREATE TABLE public."Refs" (id int PRIMARY KEY, nid int CONSTRAINT "To nums" REFERENCES public.nums)`);
    const text = await repack(pool, { table: 'public.nums', alter: ['ALTER COLUMN id TYPE text'] });
    expect(text.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
    expect(text.tables[0]!.message).toMatch(
      /foreign key "To nums" of public\."Refs" referencing public\.nums cannot be made again on the new types \(.*Key columns "nid" (of the referencing table )?and "id" (of the referenced table )?are of incompatible types: integer and text/,
    );
    const using = await repack(pool, { table: 'public.nums', alter: ['ALTER COLUMN id TYPE bigint USING id * 2'] });
    expect(using.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
    const out = await repack(pool, { table: 'public."Refs"', alter: ['ALTER COLUMN nid TYPE bigint USING nid + 1'] });
    expect(out.tables[0]!.message).toMatch(/constraint To nums on table public\."Refs" uses column "nid": .*without USING/);
    expect(await columnTypes('public.nums')).toEqual({ id: 'integer' });
    expect(await foreignKeys('public."Refs"')).toEqual([{ name: 'To nums', target: 'nums', validated: true }]);
    expect(await leftovers()).toEqual([]);
  });
});

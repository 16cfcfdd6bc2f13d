import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { repack } from '../src/index.js';
import { alterHelpers, slow } from './alter-helpers.js';
import { createTree, diffTree, startTreeWriter, treeTypes } from './alter-tree-helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-alter-tree', settings: { max_connections: 60 } });
  db = await cluster.createDatabase();
  pool = db.pool({ max: 16 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const { columnTypes, leftovers } = alterHelpers(() => pool);

describe('repack --alter on a partitioned table', () => {
  it('changes the int key of a range-partitioned table to bigint under a concurrent writer, with a view over it and a foreign key to it', async () => {
    const q = await createTree(pool, 'events', 6_000);
    await pool.query(`CREATE TABLE public.event_notes (n int PRIMARY KEY, event_id int, event_p int, FOREIGN KEY (event_id, event_p) REFERENCES ${q} (id, p))`);
    await pool.query(`INSERT INTO public.event_notes SELECT g, g, g % 3 FROM generate_series(1, 50) g`);
    await pool.query(`CREATE VIEW public.event_ids AS SELECT id, a FROM ${q}`);
    await pool.query(`GRANT SELECT ON ${q} TO PUBLIC`);
    const { rows: before } = await pool.query(`SELECT $1::regclass::oid::int8 AS oid`, [q]);
    const writer = startTreeWriter(pool, q, { nextId: 100_000, spare: 100 });
    const result = await repack(pool, { table: q, alter: ['ALTER COLUMN id TYPE bigint'], switchThreshold: 5, applyBatchSize: 50, pausePoint: slow });
    await writer.stop();
    expect(result.tables.map((t) => [t.table, t.status, t.message ?? ''])).toEqual([
      ['public.events_0', 'repacked', ''],
      ['public.events_1', 'repacked', ''],
      ['public.events_2', 'repacked', ''],
    ]);
    expect(writer.errors).toEqual([]);
    expect(writer.commits).toBeGreaterThan(10);
    expect(result.tables.reduce((n, t) => n + t.log.entries, 0)).toBeGreaterThan(0);
    expect(await diffTree(pool, q, writer.expected)).toEqual([]);
    expect(await treeTypes(pool, q, 'id')).toEqual({ events: 'bigint', events_0: 'bigint', events_1: 'bigint', events_2: 'bigint' });
    // The partitioned table kept its OID and grant; the view was made again on the new type.
    const { rows: after } = await pool.query(`SELECT $1::regclass::oid::int8 AS oid, has_table_privilege('public', $1, 'SELECT') AS granted`, [q]);
    expect(after[0]).toEqual({ oid: before[0].oid, granted: true });
    expect(await columnTypes('public.event_ids')).toEqual({ id: 'bigint', a: 'integer' });
    // Every leaf's indexes are attached to the partitioned indexes, valid.
    const { rows: idx } = await pool.query(
      `SELECT c.relname AS leaf, i.indexrelid::regclass::text AS index, i.indisvalid AS valid, h.inhparent::regclass::text AS parent
         FROM pg_inherits t JOIN pg_class c ON c.oid = t.inhrelid JOIN pg_index i ON i.indrelid = c.oid
         LEFT JOIN pg_inherits h ON h.inhrelid = i.indexrelid
        WHERE t.inhparent = $1::regclass ORDER BY 1, 2`,
      [q],
    );
    expect(idx.map((r) => [r.leaf, r.index, r.valid, r.parent])).toEqual([
      ['events_0', 'events_0_a_idx', true, 'events_a_idx'],
      ['events_0', 'events_0_pkey', true, 'events_pkey'],
      ['events_1', 'events_1_a_idx', true, 'events_a_idx'],
      ['events_1', 'events_1_pkey', true, 'events_pkey'],
      ['events_2', 'events_2_a_idx', true, 'events_a_idx'],
      ['events_2', 'events_2_pkey', true, 'events_pkey'],
    ]);
    // The foreign key is back on the partitioned table, validated; no CHECK of a bound is left.
    const { rows: fk } = await pool.query(
      `SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'public.event_notes'::regclass AND contype = 'f' AND conparentid = 0`,
    );
    expect(fk).toEqual([{ conname: 'event_notes_event_id_event_p_fkey', convalidated: true }]);
    const { rows: checks } = await pool.query(`SELECT conname FROM pg_constraint WHERE conname LIKE 'pgtools%'`);
    expect(checks).toEqual([]);
    expect(await leftovers()).toEqual([]);
  });
});

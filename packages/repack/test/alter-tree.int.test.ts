import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { planRepack, repack, type PausePoint, type RepackResult } from '../src/index.js';
import { runChild } from './child-run.js';
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
  it('changes the int key of a range-partitioned table to bigint under a concurrent writer, with a view over it, a foreign key to it and a publication', async () => {
    const q = await createTree(pool, 'events', 6_000);
    await pool.query(`CREATE TABLE public.event_notes (n int PRIMARY KEY, event_id int, event_p int, FOREIGN KEY (event_id, event_p) REFERENCES ${q} (id, p))`);
    await pool.query(`INSERT INTO public.event_notes SELECT g, g, g % 3 FROM generate_series(1, 50) g`);
    await pool.query(`CREATE VIEW public.event_ids AS SELECT id, a FROM ${q}`);
    await pool.query(`GRANT SELECT ON ${q} TO PUBLIC`);
    await pool.query(`CREATE PUBLICATION events_pub FOR TABLE ${q}`);
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
    const { rows: published } = await pool.query(`SELECT tablename FROM pg_publication_tables WHERE pubname = 'events_pub' ORDER BY 1`);
    expect(published.map((r) => r.tablename)).toEqual(['events_0', 'events_1', 'events_2']);
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

  it('fails on a value that does not fit in one partition, leaving every partition and the partitioned table as they were', async () => {
    const q = await createTree(pool, 'fit', 900);
    await pool.query(`UPDATE ${q} SET a = 70000 WHERE id = 500`);
    const result = await repack(pool, { table: q, alter: ['ALTER COLUMN a TYPE smallint'], switchThreshold: 5 });
    const byLeaf = Object.fromEntries(result.tables.map((t) => [t.table, [t.status, t.code]]));
    // id 500 is in fit_2 (500 % 3); the others gave up at the swap, unchanged.
    expect(byLeaf).toEqual({
      'public.fit_0': ['failed', 'partition_failed'],
      'public.fit_1': ['failed', 'partition_failed'],
      'public.fit_2': ['failed', 'alter_conversion_failed'],
    });
    expect(result.tables[2]!.message).toMatch(/the copy failed at the row with key \{"id" : 500, "p" : 2\}: smallint out of range; the table is unchanged/);
    expect(result.exitCode).toBe(1);
    expect(await treeTypes(pool, q, 'a')).toEqual({ fit: 'integer', fit_0: 'integer', fit_1: 'integer', fit_2: 'integer' });
    const { rows } = await pool.query(`SELECT count(*)::int AS n, sum(a)::int AS s FROM ${q}`);
    expect(rows[0]).toEqual({ n: 900, s: 70000 - 500 + [...Array(900).keys()].reduce((n, i) => n + ((i + 1) % 1000), 0) });
    expect(await leftovers()).toEqual([]);
  });

  it('refuses before anything is made what it does not carry out, each naming the object and why', async () => {
    const q = await createTree(pool, 'ref', 30);
    const refused = async (table: string, alter: string[]): Promise<string> => {
      const result = await repack(pool, { table, alter });
      expect(result.tables.map((t) => [t.status, t.code])).toEqual([['failed', 'alter_refused']]);
      expect(await leftovers()).toEqual([]);
      return result.tables[0]!.message ?? '';
    };
    // The partition key's type: PostgreSQL refuses to change it on a partitioned table.
    expect(await refused(q, ['ALTER COLUMN p TYPE bigint'])).toMatch(
      /column "p" is in the partition key, whose type PostgreSQL does not let change.*nothing was changed/,
    );
    // A constraint on the partitioned table.
    expect(await refused(q, ['ADD CONSTRAINT a_pos CHECK (a >= 0)'])).toMatch(/adding constraints to a partitioned table is not supported yet/);
    // A partition alone: its columns follow the partitioned table.
    expect(await refused('public.ref_1', ['ALTER COLUMN id TYPE bigint'])).toMatch(
      /--alter on public\.ref_1: "ALTER COLUMN id TYPE bigint": a partition's columns follow its partitioned table public\.ref; run --alter on public\.ref/,
    );
    // A foreign key of the partitioned table.
    await pool.query(`CREATE TABLE public.ref_target (a int PRIMARY KEY)`);
    await pool.query(`INSERT INTO public.ref_target SELECT generate_series(0, 999)`);
    await pool.query(`ALTER TABLE ${q} ADD CONSTRAINT ref_a_fkey FOREIGN KEY (a) REFERENCES public.ref_target (a)`);
    expect(await refused(q, ['ALTER COLUMN id TYPE bigint'])).toMatch(/foreign key "ref_a_fkey" of the partitioned table would be validated again/);
    await pool.query(`ALTER TABLE ${q} DROP CONSTRAINT ref_a_fkey`);
    // A view over it that the swap could not recreate (a materialized view reads it).
    await pool.query(`CREATE VIEW public.ref_v AS SELECT id FROM ${q}`);
    await pool.query(`CREATE MATERIALIZED VIEW public.ref_mv AS SELECT id FROM public.ref_v`);
    expect(await refused(q, ['ALTER COLUMN id TYPE bigint'])).toMatch(
      /the views over it are dropped and created again at the swap, which cannot be done: materialized view ref_mv reads view public\.ref_v/,
    );
    await pool.query(`DROP VIEW public.ref_v CASCADE`);
    // A sub-partitioned partition.
    await pool.query(`CREATE TABLE public.ref_sub PARTITION OF ${q} FOR VALUES FROM (10) TO (20) PARTITION BY RANGE (p)`);
    expect(await refused(q, ['ALTER COLUMN id TYPE bigint'])).toMatch(
      /partition public\.ref_sub is partitioned itself; sub-partitioned tables are not supported/,
    );
    await pool.query(`DROP TABLE public.ref_sub`);
    expect(await treeTypes(pool, q, 'id')).toEqual({ ref: 'integer', ref_0: 'integer', ref_1: 'integer', ref_2: 'integer' });
  });

  it('adds, drops and retypes columns and sets a default on a table with a default partition, attached again last so nothing is scanned under the lock', async () => {
    const q = await createTree(pool, 'dflt', 300);
    await pool.query(`CREATE TABLE public.dflt_rest PARTITION OF ${q} DEFAULT`);
    await pool.query(`INSERT INTO ${q} SELECT g, 5 + g % 2, g, 'r' || g FROM generate_series(1000, 1099) g`);
    const before = (await pool.query(`SELECT id, p, a, tableoid::regclass::text AS leaf FROM ${q} ORDER BY id`)).rows;
    const result = await repack(pool, {
      table: q,
      alter: ['ALTER COLUMN id TYPE bigint', 'ADD COLUMN z int DEFAULT 7', 'DROP COLUMN b', 'ALTER COLUMN a SET DEFAULT 5'],
    });
    expect(result.tables.map((t) => [t.table, t.status, t.message ?? ''])).toEqual(
      ['dflt_0', 'dflt_1', 'dflt_2', 'dflt_rest'].map((l) => [`public.${l}`, 'repacked', '']),
    );
    const after = (await pool.query(`SELECT id::int, p, a, tableoid::regclass::text AS leaf FROM ${q} ORDER BY id`)).rows;
    expect(after).toEqual(before);
    expect(await columnTypes(q)).toEqual({ id: 'bigint', p: 'integer', a: 'integer', z: 'integer' });
    expect(await columnTypes('public.dflt_1')).toEqual({ id: 'bigint', p: 'integer', a: 'integer', z: 'integer' });
    await pool.query(`INSERT INTO ${q} (id, p) VALUES (5000, 1)`);
    expect((await pool.query(`SELECT a, z FROM public.dflt_1 WHERE id = 5000`)).rows).toEqual([{ a: 5, z: 7 }]);
    expect(await treeTypes(pool, q, 'id')).toEqual({ dflt: 'bigint', dflt_0: 'bigint', dflt_1: 'bigint', dflt_2: 'bigint', dflt_rest: 'bigint' });
    const { rows } = await pool.query(
      `SELECT pg_get_expr(c.relpartbound, c.oid) AS bound, (SELECT count(*)::int FROM ${q} WHERE z = 7) AS z FROM pg_class c WHERE c.oid = 'public.dflt_rest'::regclass`,
    );
    expect(rows).toEqual([{ bound: 'DEFAULT', z: 401 }]); // the 400 rows and the one inserted above
    expect(await leftovers()).toEqual([]);
  });

  it('adds a CHECK, a UNIQUE constraint, a foreign key and a default to one partition alone, by its own swap, under a concurrent writer', async () => {
    const q = await createTree(pool, 'one', 3_000);
    await pool.query(`CREATE TABLE public.one_target (a int PRIMARY KEY)`);
    await pool.query(`INSERT INTO public.one_target SELECT generate_series(0, 999)`);
    const writer = startTreeWriter(pool, q, { nextId: 100_000, spare: 0 });
    const result = await repack(pool, {
      table: 'public.one_1',
      alter: [
        'ADD CONSTRAINT one_1_a_check CHECK (a IS NULL OR a >= 0)',
        'ADD CONSTRAINT one_1_b_key UNIQUE (b)',
        'ADD CONSTRAINT one_1_a_fkey FOREIGN KEY (a) REFERENCES public.one_target (a)',
        "ALTER COLUMN b SET DEFAULT 'none'",
      ],
      switchThreshold: 5,
      pausePoint: slow,
    });
    await writer.stop();
    expect(result.tables.map((t) => [t.table, t.status, t.message ?? ''])).toEqual([['public.one_1', 'repacked', '']]);
    expect(writer.errors).toEqual([]);
    expect(await diffTree(pool, q, writer.expected)).toEqual([]);
    const { rows } = await pool.query(
      `SELECT conname, contype, convalidated, (SELECT count(*)::int FROM pg_inherits WHERE inhrelid = 'public.one_1'::regclass AND inhparent = $1::regclass) AS attached
         FROM pg_constraint WHERE conrelid = 'public.one_1'::regclass AND contype IN ('c', 'u', 'f') ORDER BY 1`,
      [q],
    );
    expect(rows).toEqual([
      { conname: 'one_1_a_check', contype: 'c', convalidated: true, attached: 1 },
      { conname: 'one_1_a_fkey', contype: 'f', convalidated: true, attached: 1 },
      { conname: 'one_1_b_key', contype: 'u', convalidated: true, attached: 1 },
    ]);
    await pool.query(`INSERT INTO public.one_1 (id, p, a) VALUES (999999, 1, 1)`);
    expect((await pool.query(`SELECT b FROM ${q} WHERE id = 999999`)).rows).toEqual([{ b: 'none' }]);
    await expect(pool.query(`INSERT INTO ${q} (id, p, a) VALUES (999998, 1, -5)`)).rejects.toThrow(/one_1_a_check/);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses a materialized view over a partition (the tree swap rebuilds none), in the run and the dry run, changing nothing', async () => {
    const q = await createTree(pool, 'mvl', 30);
    await pool.query(`CREATE MATERIALIZED VIEW public.mvl_mv AS SELECT id FROM public.mvl_1`);
    const plans = await planRepack(pool, { table: q, alter: ['ALTER COLUMN id TYPE bigint'] });
    expect(plans.find((p) => p.table === 'public.mvl_1')?.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/"public"\."mvl_mv" reads a partition, and --alter on the partitioned table does not rebuild materialized views/),
    ]);
    const result = await repack(pool, { table: q, alter: ['ALTER COLUMN id TYPE bigint'] });
    expect(result.tables.filter((t) => t.status === 'repacked')).toEqual([]);
    expect(result.tables.map((t) => t.message).join('\n')).toMatch(/materialized view/);
    expect(await treeTypes(pool, q, 'id')).toEqual({ mvl: 'integer', mvl_0: 'integer', mvl_1: 'integer', mvl_2: 'integer' });
    expect((await pool.query(`SELECT count(*)::int AS n FROM public.mvl_mv`)).rows[0].n).toBeGreaterThan(0);
    expect(await leftovers()).toEqual([]);
  });

  it('--dry-run plans every partition with the one swap of the whole table, and changes nothing', async () => {
    const q = await createTree(pool, 'dry', 30);
    const plans = await planRepack(pool, { table: q, alter: ['ALTER COLUMN id TYPE bigint'] });
    expect(plans.map((p) => [p.table, p.ok, p.alter?.lines])).toEqual(
      ['dry_0', 'dry_1', 'dry_2'].map((l) => [`public.${l}`, true, expect.arrayContaining([expect.stringMatching(/id.*integer.*bigint/)])]),
    );
    expect(plans[0]!.locks[2]).toMatch(/ACCESS EXCLUSIVE on "public"\."dry" and all its 3 partitions for a moment/);
    const refused = await planRepack(pool, { table: q, alter: ['ALTER COLUMN p TYPE bigint'] });
    expect(refused.map((p) => [p.ok, p.problems[0]?.code])).toEqual([
      [false, 'alter_refused'],
      [false, 'alter_refused'],
      [false, 'alter_refused'],
    ]);
    expect(await treeTypes(pool, q, 'id')).toEqual({ dry: 'integer', dry_0: 'integer', dry_1: 'integer', dry_2: 'integer' });
    expect(await leftovers()).toEqual([]);
  });
});

describe('repack --alter on a partitioned table as its owner without superuser', () => {
  it('changes the int key to bigint and adds a column under a concurrent writer; owners and grants of the table and its partitions kept', async () => {
    await pool.query(`CREATE ROLE tree_owner LOGIN`);
    await pool.query(`GRANT CREATE ON SCHEMA public TO tree_owner`);
    await pool.query(`GRANT CREATE ON DATABASE "${db.name}" TO tree_owner`);
    // Two connections per partition and one for the swap (alter-tree.ts).
    const owner = new pg.Pool({ ...db.config, user: 'tree_owner', max: 8 });
    try {
      const q = await createTree(owner, 'owned_tree', 3_000);
      await owner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${q} TO PUBLIC`);
      for (const i of [0, 1, 2]) await owner.query(`GRANT SELECT ON public.owned_tree_${i} TO PUBLIC`);
      const writer = startTreeWriter(pool, q, { nextId: 100_000, spare: 100 });
      const result = await repack(owner, {
        table: q,
        alter: ['ALTER COLUMN id TYPE bigint', "ADD COLUMN note text DEFAULT 'n'"],
        toolSchema: 'tree_owner_tools',
        switchThreshold: 5,
        pausePoint: slow,
      });
      await writer.stop();
      expect(result.tables.map((t) => [t.table, t.status, t.message ?? ''])).toEqual([0, 1, 2].map((i) => [`public.owned_tree_${i}`, 'repacked', '']));
      expect(writer.errors).toEqual([]);
      expect(await diffTree(pool, q, writer.expected)).toEqual([]);
      expect(await treeTypes(pool, q, 'id')).toEqual({ owned_tree: 'bigint', owned_tree_0: 'bigint', owned_tree_1: 'bigint', owned_tree_2: 'bigint' });
      expect(await treeTypes(pool, q, 'note')).toEqual({ owned_tree: 'text', owned_tree_0: 'text', owned_tree_1: 'text', owned_tree_2: 'text' });
      const { rows } = await pool.query(
        `SELECT c.relname AS rel, c.relowner::regrole::text AS owner, c.relacl::text AS acl
           FROM pg_partition_tree($1::regclass) t JOIN pg_class c ON c.oid = t.relid ORDER BY 1`,
        [q],
      );
      for (const r of rows) {
        expect(r.owner, r.rel).toBe('tree_owner');
        expect(r.acl, r.rel).toContain(r.rel === 'owned_tree' ? '=arwd/tree_owner' : '=r/tree_owner');
      }
      const { rows: left } = await pool.query(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tree_owner_tools'`,
      );
      expect(left[0].n).toBe(0);
    } finally {
      await owner.end();
    }
  });
});

describe('repack --alter on a partitioned table killed at its pause points', () => {
  // before-swap: the first partition ready, waiting for the others (a partition's own pause points are the table's, tested in alter.int.test.ts).
  const points: PausePoint[] = ['before-swap', 'tree-swap-planned', 'tree-after-swap'];
  it.each(points)('killed at %s: every partition stays as it was and writable; the next run cleans up and alters it', async (point) => {
    const name = `tkill_${point.replace(/-/g, '_')}`;
    const q = await createTree(pool, name, 600);
    const writer = startTreeWriter(pool, q, { nextId: 100_000, spare: 0, pauseMs: 2 });
    const { child, paused } = runChild(db.connectionString, q, point, 'hang', ['ALTER COLUMN id TYPE bigint']);
    await paused;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 300));
    await writer.stop();
    expect(writer.errors).toEqual([]);
    expect(await diffTree(pool, q, writer.expected)).toEqual([]);
    expect(await treeTypes(pool, q, 'id')).toEqual(Object.fromEntries([name, `${name}_0`, `${name}_1`, `${name}_2`].map((n) => [n, 'integer'])));
    const writer2 = startTreeWriter(pool, q, { nextId: 200_000, spare: 0, seed: 7, pauseMs: 2 });
    // The dead run's backends may still be going away; its advisory locks go with them.
    let result: RepackResult | undefined;
    for (let i = 0; i < 20; i++) {
      result = await repack(pool, { table: q, alter: ['ALTER COLUMN id TYPE bigint'], switchThreshold: 5 });
      if (!result.tables.some((t) => t.code === 'repack_running')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await writer2.stop();
    expect(result!.tables.map((t) => [t.status, t.message ?? ''])).toEqual([0, 1, 2].map(() => ['repacked', '']));
    expect(result!.tables.reduce((n, t) => n + t.leftoversRemoved.length, 0)).toBeGreaterThan(0);
    expect(writer2.errors).toEqual([]);
    expect(await diffTree(pool, q, writer2.expected)).toEqual([]);
    expect(await treeTypes(pool, q, 'id')).toEqual(Object.fromEntries([name, `${name}_0`, `${name}_1`, `${name}_2`].map((n) => [n, 'bigint'])));
    expect(await leftovers()).toEqual([]);
  });
});

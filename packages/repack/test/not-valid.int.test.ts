import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { repack } from '../src/index.js';

let cluster: PgCluster;
let db: TestDatabase;
let admin: pg.Pool;
let owner: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-not-valid' });
  db = await cluster.createDatabase();
  admin = db.pool();
  // Rename mode is for a table owner without superuser (managed services).
  await admin.query('CREATE ROLE app_owner LOGIN');
  await admin.query('GRANT CREATE ON SCHEMA public TO app_owner');
  await admin.query(`GRANT CREATE ON DATABASE "${db.name}" TO app_owner`);
  owner = db.pool({ user: 'app_owner', max: 6 });
});
afterAll(async () => {
  await owner?.end();
  await cluster?.destroy();
});

const slowPhases = async (): Promise<void> => {
  await new Promise((r) => setTimeout(r, 150));
};

describe('NOT VALID constraints in rename mode (--swap=rename)', () => {
  it('repacks a table whose old rows violate NOT VALID CHECKs and foreign keys, which stay NOT VALID and in force for new rows', async () => {
    const setup = [
      'CREATE TABLE nv_parent (id int PRIMARY KEY)',
      'INSERT INTO nv_parent SELECT g FROM generate_series(1, 10) g',
      'CREATE TABLE nv (id bigint PRIMARY KEY, qty int, code text, pid int)',
      // Every fifth old row has a negative qty, every seventh an empty code, every third a pid with no parent.
      `INSERT INTO nv SELECT g, CASE WHEN g % 5 = 0 THEN -g ELSE g END, CASE WHEN g % 7 = 0 THEN '' ELSE 'c' || g END,
              CASE WHEN g % 3 = 0 THEN 100 + g ELSE 1 + g % 10 END FROM generate_series(1, 3000) g`,
      'ALTER TABLE nv ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID',
      `ALTER TABLE nv ADD CONSTRAINT code_set CHECK (code <> '') NO INHERIT NOT VALID`,
      'ALTER TABLE nv ADD CONSTRAINT id_positive CHECK (id > 0)',
      'ALTER TABLE nv ADD CONSTRAINT nv_parent_fk FOREIGN KEY (pid) REFERENCES nv_parent (id) NOT VALID',
      `COMMENT ON CONSTRAINT qty_positive ON nv IS 'new rows only'`,
      'CREATE TABLE nv_child (cid int PRIMARY KEY, nv_id bigint)',
      // Rows referencing no nv row, under a NOT VALID foreign key into the repacked table.
      'INSERT INTO nv_child SELECT g, 100000 + g FROM generate_series(1, 20) g',
      'ALTER TABLE nv_child ADD CONSTRAINT nv_child_fk FOREIGN KEY (nv_id) REFERENCES nv (id) NOT VALID',
    ];
    for (const sql of setup) await owner.query(sql);
    const constraints = async () =>
      (
        await admin.query(
          `SELECT conrelid::regclass::text AS tbl, conname, contype::text, convalidated, connoinherit, pg_get_constraintdef(oid) AS def,
                  obj_description(oid, 'pg_constraint') AS comment
             FROM pg_constraint WHERE conrelid IN ('nv'::regclass, 'nv_child'::regclass) ORDER BY 1, 2`,
        )
      ).rows;
    const before = await constraints();
    expect(before.filter((c) => !c.convalidated).map((c) => c.conname)).toEqual(['code_set', 'nv_parent_fk', 'qty_positive', 'nv_child_fk']);
    const oidBefore = (await admin.query(`SELECT 'nv'::regclass::oid::int8::text AS oid`)).rows[0].oid as string;

    // A few inserts that satisfy every constraint, through every phase of the repack.
    let running = true;
    const inserted: number[] = [];
    const errors: unknown[] = [];
    const writer = (async () => {
      for (let id = 10_000; running; id++) {
        try {
          await owner.query('INSERT INTO nv (id, qty, code, pid) VALUES ($1, $2, $3, $4)', [id, id, `w${id}`, 1 + (id % 10)]);
          inserted.push(id);
        } catch (err) {
          errors.push(err);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const result = await repack(owner, { table: 'nv', swap: 'rename', switchThreshold: 5, applyBatchSize: 50, copyChunkPages: 4, pausePoint: slowPhases });
    running = false;
    await writer;

    const t = result.tables[0]!;
    expect(t.message ?? '').toBe('');
    expect(t.status).toBe('repacked');
    expect(errors).toEqual([]);
    expect(t.log.inserts).toBeGreaterThan(0);
    expect((await admin.query(`SELECT 'nv'::regclass::oid::int8::text AS oid`)).rows[0].oid).not.toBe(oidBefore);
    // Same names, definitions, comments and NO INHERIT; the NOT VALID ones are still NOT VALID (nothing scanned them).
    expect(await constraints()).toEqual(before);
    // Every old row is still there, the violating ones included, and every concurrent insert.
    const { rows: counts } = await admin.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE qty <= 0)::int AS bad_qty, count(*) FILTER (WHERE code = '')::int AS bad_code,
              count(*) FILTER (WHERE id >= 10000)::int AS new_rows FROM nv`,
    );
    expect(counts[0]).toEqual({ n: 3000 + inserted.length, bad_qty: 600, bad_code: 428, new_rows: inserted.length });

    // In force for new rows.
    await expect(owner.query(`INSERT INTO nv (id, qty, code, pid) VALUES (-5, 1, 'x', 1)`)).rejects.toMatchObject({ code: '23514', constraint: 'id_positive' });
    await expect(owner.query(`INSERT INTO nv (id, qty, code, pid) VALUES (99999, -1, 'x', 1)`)).rejects.toMatchObject({
      code: '23514',
      constraint: 'qty_positive',
    });
    await expect(owner.query(`INSERT INTO nv (id, qty, code, pid) VALUES (99999, 1, '', 1)`)).rejects.toMatchObject({ code: '23514', constraint: 'code_set' });
    await expect(owner.query(`INSERT INTO nv (id, qty, code, pid) VALUES (99999, 1, 'x', 999)`)).rejects.toMatchObject({
      code: '23503',
      constraint: 'nv_parent_fk',
    });
    await expect(owner.query(`INSERT INTO nv_child VALUES (1000, 999999)`)).rejects.toMatchObject({ code: '23503', constraint: 'nv_child_fk' });
    await owner.query(`INSERT INTO nv (id, qty, code, pid) VALUES (99999, 1, 'x', 1)`);
    await owner.query(`INSERT INTO nv_child VALUES (1000, 99999)`);
  });

  it('repacks a leaf whose old rows violate a NOT VALID CHECK of its partitioned table: the new leaf attaches with it, still NOT VALID', async () => {
    await owner.query('CREATE TABLE nvp (id bigint PRIMARY KEY, qty int) PARTITION BY RANGE (id)');
    await owner.query('CREATE TABLE nvp_1 PARTITION OF nvp FOR VALUES FROM (MINVALUE) TO (100000)');
    await owner.query('INSERT INTO nvp SELECT g, CASE WHEN g % 4 = 0 THEN -g ELSE g END FROM generate_series(1, 2000) g');
    await owner.query('ALTER TABLE nvp ADD CONSTRAINT nvp_qty_positive CHECK (qty > 0) NOT VALID');
    const constraints = async () =>
      (
        await admin.query(
          `SELECT conrelid::regclass::text AS tbl, conname, convalidated, conislocal, coninhcount, pg_get_constraintdef(oid) AS def
             FROM pg_constraint WHERE conrelid IN ('nvp'::regclass, 'nvp_1'::regclass) AND contype = 'c' ORDER BY 1, 2`,
        )
      ).rows;
    const before = await constraints();
    expect(before.map((c) => [c.tbl, c.convalidated, c.conislocal])).toEqual([
      ['nvp', false, true],
      ['nvp_1', false, false],
    ]);
    let running = true;
    let inserted = 0;
    const errors: unknown[] = [];
    const writer = (async () => {
      for (let id = 50_000; running; id++) {
        try {
          await owner.query('INSERT INTO nvp (id, qty) VALUES ($1, $2)', [id, id]);
          inserted++;
        } catch (err) {
          errors.push(err);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const result = await repack(owner, { table: 'nvp_1', swap: 'rename', switchThreshold: 5, pausePoint: slowPhases });
    running = false;
    await writer;
    expect(result.tables.map((r) => [r.table, r.status, r.message ?? ''])).toEqual([['public.nvp_1', 'repacked', '']]);
    expect(errors).toEqual([]);
    // Still NOT VALID on the new leaf and inherited only: the swap adds it before the ATTACH (which wants it there),
    // and ATTACH merges it into the partitioned table's (not local on a partition).
    expect(await constraints()).toEqual(before);
    const { rows } = await admin.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE qty <= 0)::int AS bad FROM nvp`);
    expect(rows[0]).toEqual({ n: 2000 + inserted, bad: 500 });
    await expect(owner.query('INSERT INTO nvp (id, qty) VALUES (99999, -1)')).rejects.toMatchObject({ code: '23514', constraint: 'nvp_qty_positive' });
  });
});

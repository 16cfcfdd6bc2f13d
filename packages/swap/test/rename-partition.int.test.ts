import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { PgToolsError } from '@pgtools/core';
import { createRenameShadow, dropShadow, renameCopyColumns, renameSwap, shadowIndexDefinitions, type RelationName } from '../src/index.js';
import { contentMd5 } from './shadow-helpers.js';

let cluster: PgCluster;
let admin: pg.Pool;
let owner: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'swap-rename-partition' });
  const db = await cluster.createDatabase();
  admin = db.pool();
  await admin.query('CREATE ROLE app_owner LOGIN');
  await admin.query('CREATE SCHEMA app AUTHORIZATION app_owner');
  await admin.query('CREATE SCHEMA pgtools AUTHORIZATION app_owner');
  owner = db.pool({ user: 'app_owner' });
});
afterAll(async () => {
  await cluster?.destroy();
});

const q = async (sql: string, params: unknown[] = []) => (await admin.query(sql, params)).rows;

/** Shadow, copy and index copies as the owner; then the swap with the partitioned table locked first (LOCK TABLE ONLY), unless told not to. */
async function swapLeaf(parent: string, original: RelationName, shadow: RelationName, lockParent = true) {
  const client = await owner.connect();
  try {
    await createRenameShadow(client, { original, shadow });
    const cols = await renameCopyColumns(client, original);
    await client.query(
      `INSERT INTO "${shadow.schema}"."${shadow.name}" (${cols.insertList}) ${cols.overriding} SELECT ${cols.selectList} FROM ONLY "${original.schema}"."${original.name}"`,
    );
    const defs = await shadowIndexDefinitions(client, { original, shadow });
    for (const d of defs) await client.query(d.sql);
    // Sequential scans of the new leaf until now (this session's counts, flushed): the ATTACH must add none.
    const seqScans = async (): Promise<number> => {
      await client.query('SELECT pg_stat_force_next_flush()');
      await client.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await client.query<{ n: string }>(`SELECT seq_scan::int8 AS n FROM pg_stat_user_tables WHERE relid = $1::regclass`, [
        `"${shadow.schema}"."${shadow.name}"`,
      ]);
      return Number(rows[0]?.n);
    };
    const scansBefore = await seqScans();
    await client.query('BEGIN');
    if (lockParent) await client.query(`LOCK TABLE ONLY ${parent} IN ACCESS EXCLUSIVE MODE`);
    await client.query(`LOCK TABLE "${original.schema}"."${original.name}", "${shadow.schema}"."${shadow.name}" IN ACCESS EXCLUSIVE MODE`);
    const result = await renameSwap(client, {
      original,
      shadow,
      indexPairs: defs.map((d) => ({ original: d.originalIndex.oid, shadow: { schema: shadow.schema, name: d.shadowIndexName } })),
    });
    await client.query('COMMIT');
    await client.query('SELECT pg_stat_force_next_flush()');
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ n: string }>('SELECT seq_scan::int8 AS n FROM pg_stat_user_tables WHERE relid = $1', [result.tableOid]);
    return { ...result, scansBefore, scansAfter: Number(rows[0]?.n) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** What a leaf carries as a partition, by name: bound, constraints, indexes and the partitioned indexes they belong to, triggers. */
async function leafState(leaf: string) {
  return {
    bound: await q(
      `SELECT inhparent::regclass::text AS parent, pg_get_expr(c.relpartbound, c.oid) AS bound
                      FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.oid = $1::regclass`,
      [leaf],
    ),
    constraints: await q(
      `SELECT conname, contype::text, convalidated, conislocal, coninhcount, pg_get_constraintdef(oid) AS def, conparentid <> 0 AS has_parent
         FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY conname`,
      [leaf],
    ),
    indexes: await q(
      `SELECT c.relname, (SELECT p.relname FROM pg_inherits ii JOIN pg_class p ON p.oid = ii.inhparent WHERE ii.inhrelid = c.oid) AS parent
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY 1`,
      [leaf],
    ),
    triggers: await q(
      `SELECT tgname, tgenabled::text, tgparentid <> 0 AS cloned FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`,
      [leaf],
    ),
    columns: await q(
      `SELECT attname, attislocal, attinhcount, attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attname`,
      [leaf],
    ),
  };
}

describe('renameSwap of a leaf partition', () => {
  it('detaches the old leaf and attaches the new one with its bound, indexes, constraints and triggers as they were', async () => {
    const setup = [
      `CREATE TABLE app.pt (id bigint, k int CONSTRAINT k_pos CHECK (k >= 0), v text, PRIMARY KEY (id)) PARTITION BY RANGE (id)`,
      `CREATE INDEX pt_k ON app.pt (k)`,
      `CREATE TABLE app.pt_1 PARTITION OF app.pt FOR VALUES FROM (MINVALUE) TO (1000)`,
      `CREATE TABLE app.pt_2 PARTITION OF app.pt FOR VALUES FROM (1000) TO (MAXVALUE)`,
      `CREATE INDEX pt_1_v ON app.pt_1 (v)`,
      `ALTER TABLE app.pt_1 ADD CONSTRAINT v_short CHECK (length(v) < 100)`,
      `CREATE FUNCTION app.upper_v() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := upper(NEW.v); RETURN NEW; END $$`,
      `CREATE TRIGGER pt_upper BEFORE INSERT ON app.pt FOR EACH ROW EXECUTE FUNCTION app.upper_v()`,
      `CREATE TRIGGER pt_1_own BEFORE UPDATE ON app.pt_1 FOR EACH ROW EXECUTE FUNCTION app.upper_v()`,
      `ALTER TABLE app.pt_1 DISABLE TRIGGER pt_upper`,
      `INSERT INTO app.pt SELECT g, g % 7, 'v' || g FROM generate_series(1, 2000) g`,
      `DELETE FROM app.pt WHERE id % 3 = 0`,
    ];
    for (const sql of setup) await owner.query(sql);
    const before = await leafState('app.pt_1');
    const content = await contentMd5(admin, 'app.pt_1', 'id');
    const oid = (await q(`SELECT 'app.pt_1'::regclass::oid::int8 AS oid`))[0]!.oid as string;

    const result = await swapLeaf('app.pt', { schema: 'app', name: 'pt_1' }, { schema: 'pgtools', name: 'pt_1_shadow' });
    expect(result.statements).toContain('ALTER TABLE "app"."pt" DETACH PARTITION "app"."pt_1"');
    // The CHECK the shadow carried spared the ATTACH its scan.
    expect(result.scansBefore).toBeGreaterThanOrEqual(0);
    expect(result.scansAfter).toBe(result.scansBefore);
    expect((await q(`SELECT 'app.pt_1'::regclass::oid::int8 AS oid`))[0]!.oid).not.toBe(oid);
    expect(await leafState('app.pt_1')).toEqual(before);
    expect(await contentMd5(admin, 'app.pt_1', 'id')).toEqual(content);
    // Through the partitioned table: the rows, the routing and the cloned trigger (disabled on this leaf only).
    expect(await q(`SELECT count(*)::int AS n FROM app.pt WHERE id < 1000`)).toEqual([{ n: 666 }]);
    await owner.query(`INSERT INTO app.pt VALUES (3, 1, 'new'), (3000, 1, 'new')`);
    expect(await q(`SELECT tableoid::regclass::text AS t, v FROM app.pt WHERE id IN (3, 3000) ORDER BY id`)).toEqual([
      { t: 'app.pt_1', v: 'new' },
      { t: 'app.pt_2', v: 'NEW' },
    ]);
    await expect(owner.query(`INSERT INTO app.pt VALUES (3, 1, 'dup')`)).rejects.toMatchObject({ code: '23505' });
    await expect(owner.query(`INSERT INTO app.pt VALUES (6, -1, 'neg')`)).rejects.toMatchObject({ code: '23514' });
    // The old leaf is a plain table now, under the shadow's name.
    expect(await q(`SELECT relispartition FROM pg_class WHERE oid = $1`, [oid])).toEqual([{ relispartition: false }]);
    await dropShadow(owner, { schema: 'pgtools', name: 'pt_1_shadow' });
    expect(await q(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname LIKE 'pgtools%'`)).toEqual([{ n: 0 }]);
  });

  it("gives the new leaf the partitioned table's identity (PostgreSQL 17+ marks the leaf's column too), which keeps counting", async () => {
    await owner.query(`CREATE TABLE app.ip (id bigint GENERATED ALWAYS AS IDENTITY, k int, v text, PRIMARY KEY (id, k)) PARTITION BY LIST (k)`);
    await owner.query(`CREATE TABLE app.ip_1 PARTITION OF app.ip FOR VALUES IN (1)`);
    await owner.query(`CREATE TABLE app.ip_2 PARTITION OF app.ip FOR VALUES IN (2)`);
    await owner.query(`INSERT INTO app.ip (k, v) SELECT 1 + g % 2, 'v' || g FROM generate_series(1, 1000) g`);
    const identity = () => q(`SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'app.ip_1'::regclass AND attname = 'id'`);
    const before = { identity: await identity(), state: await leafState('app.ip_1'), content: await contentMd5(admin, 'app.ip_1', 'id') };
    await swapLeaf('app.ip', { schema: 'app', name: 'ip_1' }, { schema: 'pgtools', name: 'ip_1_shadow' });
    expect({ identity: await identity(), state: await leafState('app.ip_1'), content: await contentMd5(admin, 'app.ip_1', 'id') }).toEqual(before);
    expect(await q(`INSERT INTO app.ip (k, v) VALUES (1, 'after') RETURNING id::int`)).toEqual([{ id: 1001 }]);
    // The old leaf took no sequence of its own along.
    expect(await q(`SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'S' AND relnamespace = 'pgtools'::regnamespace`)).toEqual([{ n: 0 }]);
    await dropShadow(owner, { schema: 'pgtools', name: 'ip_1_shadow' });
  });

  it('needs the partitioned table locked: without it nothing changes and the message says what to lock', async () => {
    await owner.query(`CREATE TABLE app.nl (id int PRIMARY KEY) PARTITION BY LIST (id)`);
    await owner.query(`CREATE TABLE app.nl_a PARTITION OF app.nl FOR VALUES IN (1, 2, 3)`);
    await owner.query(`INSERT INTO app.nl VALUES (1), (2)`);
    const err = (await swapLeaf('app.nl', { schema: 'app', name: 'nl_a' }, { schema: 'pgtools', name: 'nl_a_shadow' }, false).catch(
      (e: unknown) => e,
    )) as PgToolsError;
    expect(err).toMatchObject({ code: 'swap_precondition' });
    expect(err.message).toContain('LOCK TABLE ONLY app.nl IN ACCESS EXCLUSIVE MODE');
    expect(await q(`SELECT inhparent::regclass::text AS p FROM pg_inherits WHERE inhrelid = 'app.nl_a'::regclass`)).toEqual([{ p: 'app.nl' }]);
    await owner.query('DROP TABLE pgtools.nl_a_shadow');
  });

  it('refuses, before creating anything, a leaf beside a default partition and one referenced through its partitioned table', async () => {
    await owner.query(`CREATE TABLE app.dp (id int PRIMARY KEY) PARTITION BY RANGE (id)`);
    await owner.query(`CREATE TABLE app.dp_1 PARTITION OF app.dp FOR VALUES FROM (0) TO (10)`);
    await owner.query(`CREATE TABLE app.dp_other PARTITION OF app.dp DEFAULT`);
    await owner.query(`CREATE TABLE app.dp_ref (id int REFERENCES app.dp)`);
    const c = await owner.connect();
    try {
      const err = (await createRenameShadow(c, { original: { schema: 'app', name: 'dp_1' }, shadow: { schema: 'pgtools', name: 'dp_1_shadow' } }).catch(
        (e: unknown) => e,
      )) as PgToolsError;
      expect(err).toMatchObject({ code: 'rename_swap_unsupported' });
      expect(err.message).toContain('has a default partition app.dp_other, which attaching the new partition would scan under ACCESS EXCLUSIVE');
      expect(err.message).toContain('of "app"."dp_ref" references "app"."dp"');
      expect(err.message).toContain('Use --swap=catalog as a superuser');
      expect((await c.query(`SELECT to_regclass('pgtools.dp_1_shadow') AS r`)).rows).toEqual([{ r: null }]);
    } finally {
      c.release();
    }
  });
});

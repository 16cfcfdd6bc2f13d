import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { PgToolsError } from '@pgtools/core';
import {
  createRenameShadow,
  dropShadow,
  executeRenameSwap,
  prepareRenameSwap,
  renameCopyColumns,
  renameSwap,
  shadowIndexDefinitions,
  type RelationName,
} from '../src/index.js';
import { contentMd5 } from './shadow-helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let admin: pg.Pool;
let owner: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'swap-rename' });
  db = await cluster.createDatabase();
  admin = db.pool();
  for (const role of ['app_owner', 'reader', 'writer']) await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`GRANT CREATE ON DATABASE ${db.name} TO app_owner`);
  await admin.query('CREATE SCHEMA app AUTHORIZATION app_owner');
  await admin.query('CREATE SCHEMA pgtools AUTHORIZATION app_owner');
  await admin.query('GRANT USAGE ON SCHEMA app TO reader, writer');
  owner = db.pool({ user: 'app_owner' });
});
afterAll(async () => {
  await cluster?.destroy();
});

/** The repack's rename-mode steps, as the table owner: shadow, copy, index copies, then the swap in one transaction. */
async function repackByRename(original: RelationName, shadow: RelationName, excludeTriggers: string[] = []) {
  const client = await owner.connect();
  try {
    await createRenameShadow(client, { original, shadow, excludeTriggers });
    const cols = await renameCopyColumns(client, original);
    await client.query(
      `INSERT INTO "${shadow.schema}"."${shadow.name}" (${cols.insertList}) ${cols.overriding} SELECT ${cols.selectList} FROM ONLY "${original.schema}"."${original.name}"`,
    );
    const defs = await shadowIndexDefinitions(client, { original, shadow });
    for (const d of defs) await client.query(d.sql);
    await client.query('BEGIN');
    await client.query(`LOCK TABLE "${original.schema}"."${original.name}", "${shadow.schema}"."${shadow.name}" IN ACCESS EXCLUSIVE MODE`);
    const result = await renameSwap(client, {
      original,
      shadow,
      excludeTriggers,
      indexPairs: defs.map((d) => ({ original: d.originalIndex.oid, shadow: { schema: shadow.schema, name: d.shadowIndexName } })),
    });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

const q = async (sql: string, params: unknown[] = []) => (await admin.query(sql, params)).rows;

describe('renameSwap as a non-superuser table owner', () => {
  it('moves everything attached to the table and keeps the content', async () => {
    const setup = [
      `CREATE TABLE app.categories (id int PRIMARY KEY, name text)`,
      `INSERT INTO app.categories SELECT g, 'c' || g FROM generate_series(1, 5) g`,
      `CREATE TABLE app.items (
         id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         gone text,
         sid serial UNIQUE,
         code text NOT NULL CHECK (code <> ''),
         parent_id int REFERENCES app.items (id),
         cat_id int,
         payload text,
         doubled int GENERATED ALWAYS AS (cat_id * 2) STORED
       ) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.05, toast.autovacuum_enabled = false)`,
      `ALTER TABLE app.items ADD CONSTRAINT items_cat_fk FOREIGN KEY (cat_id) REFERENCES app.categories (id) ON DELETE SET NULL`,
      `ALTER TABLE app.items ADD CONSTRAINT payload_short CHECK (length(payload) < 100000) NOT VALID`,
      `CREATE INDEX items_code_lower ON app.items (lower(code) text_pattern_ops)`,
      `INSERT INTO app.items (gone, code, parent_id, cat_id, payload) SELECT 'x', 'code' || g, NULL, g % 5 + 1, repeat('p', g) FROM generate_series(1, 200) g`,
      `UPDATE app.items SET parent_id = id - 1 WHERE id > 1`,
      `ALTER TABLE app.items DROP COLUMN gone`,
      `CREATE TABLE app.line_items (id int PRIMARY KEY, item_id int REFERENCES app.items (id) ON DELETE CASCADE)`,
      `INSERT INTO app.line_items SELECT g, g FROM generate_series(1, 50) g`,
      `CREATE VIEW app.items_view WITH (security_barrier = true) AS SELECT id, code FROM app.items WHERE id > 0 WITH LOCAL CHECK OPTION`,
      `GRANT SELECT ON app.items_view TO reader`,
      `GRANT SELECT ON app.items TO reader`,
      `GRANT SELECT (code), UPDATE (payload) ON app.items TO writer`,
      `ALTER TABLE app.items ENABLE ROW LEVEL SECURITY`,
      `ALTER TABLE app.items FORCE ROW LEVEL SECURITY`,
      `CREATE POLICY owner_all ON app.items TO app_owner USING (true) WITH CHECK (true)`,
      `CREATE POLICY reader_visible ON app.items FOR SELECT TO reader USING (code <> 'code13')`,
      `CREATE TABLE app.audit (item_id int, op text)`,
      `CREATE FUNCTION app.audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO app.audit VALUES (NEW.id, TG_OP); RETURN NEW; END $$`,
      `CREATE TRIGGER items_audit AFTER INSERT OR UPDATE ON app.items FOR EACH ROW EXECUTE FUNCTION app.audit_fn()`,
      `CREATE TRIGGER items_audit_off AFTER DELETE ON app.items FOR EACH ROW EXECUTE FUNCTION app.audit_fn()`,
      `ALTER TABLE app.items DISABLE TRIGGER items_audit_off`,
      `COMMENT ON TABLE app.items IS 'the items'`,
      `COMMENT ON COLUMN app.items.code IS 'item code'`,
      `COMMENT ON CONSTRAINT items_cat_fk ON app.items IS 'category link'`,
      `COMMENT ON INDEX app.items_code_lower IS 'search'`,
      `ALTER TABLE app.items REPLICA IDENTITY USING INDEX items_sid_key`,
      `ALTER TABLE app.items CLUSTER ON items_code_lower`,
      `ALTER TABLE app.items ALTER COLUMN code SET STATISTICS 500`,
      `ALTER TABLE app.items ALTER COLUMN cat_id SET (n_distinct = 5)`,
      `CREATE STATISTICS app.items_stats (dependencies) ON cat_id, parent_id FROM app.items`,
      `CREATE PUBLICATION items_pub FOR TABLE app.items WHERE (cat_id > 0) WITH (publish = 'insert')`,
    ];
    const ownerClient = await owner.connect();
    try {
      for (const sql of setup) await ownerClient.query(sql);
    } finally {
      ownerClient.release();
    }
    await admin.query(`SELECT nextval('app.items_sid_seq')`); // the serial sequence is ahead of the data
    const before = await contentMd5(admin, 'app.items', 't.id');
    const oldOid = Number((await q(`SELECT 'app.items'::regclass::oid::int8 AS o`))[0].o);
    const { rows: lastId } = await admin.query(`SELECT max(id) AS m FROM app.items`);

    const original = { schema: 'app', name: 'items' };
    const shadow = { schema: 'pgtools', name: `table_${oldOid}` };
    const result = await repackByRename(original, shadow);

    const newOid = Number((await q(`SELECT 'app.items'::regclass::oid::int8 AS o`))[0].o);
    expect(newOid).not.toBe(oldOid);
    expect(newOid).toBe(result.tableOid);
    expect(await contentMd5(admin, 'app.items', 't.id')).toEqual(before);
    expect(result.moved.views).toEqual(['app.items_view']);
    expect(result.moved.foreignKeysIn).toEqual(['app.line_items.line_items_item_id_fkey']);
    expect(result.moved.foreignKeysOut.sort()).toEqual(['items_cat_fk', 'items_parent_id_fkey']);

    await dropShadow(owner, shadow);
    expect(await q(`SELECT 1 FROM pg_class WHERE oid = $1`, [oldOid])).toEqual([]);

    // Indexes and constraints carry the original names.
    expect(
      (await q(`SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'app.items'::regclass ORDER BY 1`)).map(
        (r) => r.relname,
      ),
    ).toEqual(['items_code_lower', 'items_pkey', 'items_sid_key']);
    const cons = await q(`SELECT conname, contype::text, convalidated FROM pg_constraint WHERE conrelid = 'app.items'::regclass ORDER BY conname`);
    // PostgreSQL 18 keeps NOT NULL as constraints too.
    const notNulls = cluster.version >= 18 ? ['items_code_not_null', 'items_id_not_null', 'items_sid_not_null'] : [];
    const byName = (a: { conname: string }, b: { conname: string }) => (a.conname < b.conname ? -1 : 1);
    expect(cons.sort(byName)).toEqual(
      [
        { conname: 'items_cat_fk', contype: 'f', convalidated: true },
        { conname: 'items_code_check', contype: 'c', convalidated: true },
        { conname: 'items_parent_id_fkey', contype: 'f', convalidated: true },
        { conname: 'items_pkey', contype: 'p', convalidated: true },
        { conname: 'items_sid_key', contype: 'u', convalidated: true },
        { conname: 'payload_short', contype: 'c', convalidated: false },
        ...notNulls.map((conname) => ({ conname, contype: 'n', convalidated: true })),
      ].sort(byName),
    );
    // Foreign keys in both directions act on the new table.
    await expect(admin.query(`INSERT INTO app.line_items VALUES (1000, 999999)`)).rejects.toThrow(/foreign key/);
    await admin.query(`DELETE FROM app.items WHERE id = 200`);
    expect(await q(`SELECT count(*)::int AS n FROM app.line_items WHERE item_id = 200`)).toEqual([{ n: 0 }]);
    await expect(admin.query(`UPDATE app.items SET cat_id = 99 WHERE id = 1`)).rejects.toThrow(/items_cat_fk/);
    await expect(admin.query(`UPDATE app.items SET parent_id = 999999 WHERE id = 1`)).rejects.toThrow(/items_parent_id_fkey/);
    await admin.query(`DELETE FROM app.categories WHERE id = 1`);
    expect(await q(`SELECT count(*)::int AS n FROM app.items WHERE cat_id = 1`)).toEqual([{ n: 0 }]);

    // Identity continues, the serial sequence is owned by the new column and its default still works.
    const inserted = await q(`INSERT INTO app.items (code, cat_id) VALUES ('new', 2) RETURNING id, sid, doubled`);
    expect(inserted[0].id).toBe(lastId[0].m + 1);
    expect(inserted[0].sid).toBe(202);
    expect(inserted[0].doubled).toBe(4);
    expect(await q(`SELECT pg_get_serial_sequence('app.items', 'sid') AS s, pg_get_serial_sequence('app.items', 'id') AS i`)).toEqual([
      { s: 'app.items_sid_seq', i: 'app.items_id_seq' },
    ]);
    expect(await q(`SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'S' AND relnamespace = 'pgtools'::regnamespace`)).toEqual([{ n: 0 }]);

    // Grants, RLS and policies.
    const acl = await q(`SELECT relacl::text[] AS acl, relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'app.items'::regclass`);
    expect(acl[0].relrowsecurity).toBe(true);
    expect(acl[0].relforcerowsecurity).toBe(true);
    // PostgreSQL 17 added MAINTAIN (m) to the owner's privileges.
    const ownerPrivileges = cluster.version >= 17 ? 'arwdDxtm' : 'arwdDxt';
    expect([...acl[0].acl].sort()).toEqual([`app_owner=${ownerPrivileges}/app_owner`, 'reader=r/app_owner']);
    expect(
      await q(`SELECT attname, attacl::text[] AS acl FROM pg_attribute WHERE attrelid = 'app.items'::regclass AND attacl IS NOT NULL ORDER BY attname`),
    ).toEqual([
      { attname: 'code', acl: ['writer=r/app_owner'] },
      { attname: 'payload', acl: ['writer=w/app_owner'] },
    ]);
    expect(await q(`SELECT policyname, roles::text[] AS roles, cmd, qual FROM pg_policies WHERE tablename = 'items' ORDER BY 1`)).toEqual([
      { policyname: 'owner_all', roles: ['app_owner'], cmd: 'ALL', qual: 'true' },
      { policyname: 'reader_visible', roles: ['reader'], cmd: 'SELECT', qual: "(code <> 'code13'::text)" },
    ]);
    const reader = new pg.Client({ ...db.config, user: 'reader' });
    await reader.connect();
    try {
      expect((await reader.query(`SELECT count(*)::int AS n FROM app.items WHERE code IN ('code12', 'code13')`)).rows).toEqual([{ n: 1 }]);
      expect((await reader.query(`SELECT count(*)::int AS n FROM app.items_view WHERE code = 'new'`)).rows).toEqual([{ n: 1 }]);
    } finally {
      await reader.end();
    }

    // The view reads the new table and kept its options, grants and OID-bound identity.
    expect(await q(`SELECT reloptions::text[] AS o FROM pg_class WHERE oid = 'app.items_view'::regclass`)).toEqual([
      { o: ['security_barrier=true', 'check_option=local'] },
    ]);
    await expect(admin.query(`INSERT INTO app.items_view (code) VALUES ('x')`)).resolves.toBeDefined();

    // Triggers, with their enabled state.
    expect(await q(`SELECT tgname, tgenabled::text FROM pg_trigger WHERE tgrelid = 'app.items'::regclass AND NOT tgisinternal ORDER BY 1`)).toEqual([
      { tgname: 'items_audit', tgenabled: 'O' },
      { tgname: 'items_audit_off', tgenabled: 'D' },
    ]);
    expect(await q(`SELECT op FROM app.audit WHERE item_id = $1`, [inserted[0].id])).toEqual([{ op: 'INSERT' }]);

    // Comments, reloptions, replica identity, CLUSTER mark, column settings, extended statistics.
    expect(
      await q(`SELECT obj_description('app.items'::regclass, 'pg_class') AS t,
                      obj_description('app.items_code_lower'::regclass, 'pg_class') AS i,
                      (SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint WHERE conname = 'items_cat_fk') AS f`),
    ).toEqual([{ t: 'the items', i: 'search', f: 'category link' }]);
    expect(
      await q(`SELECT col_description('app.items'::regclass, attnum) AS c FROM pg_attribute WHERE attrelid = 'app.items'::regclass AND attname = 'code'`),
    ).toEqual([{ c: 'item code' }]);
    expect(
      await q(`SELECT c.reloptions::text[] AS heap, t.reloptions::text[] AS toast, c.relreplident::text AS ri
                 FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = 'app.items'::regclass`),
    ).toEqual([{ heap: ['fillfactor=80', 'autovacuum_vacuum_scale_factor=0.05'], toast: ['autovacuum_enabled=false'], ri: 'i' }]);
    expect(
      await q(`SELECT c.relname, i.indisreplident, i.indisclustered FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = 'app.items'::regclass AND (i.indisreplident OR i.indisclustered) ORDER BY 1`),
    ).toEqual([
      { relname: 'items_code_lower', indisreplident: false, indisclustered: true },
      { relname: 'items_sid_key', indisreplident: true, indisclustered: false },
    ]);
    expect(
      // This server build records a pg_attver entry of its own in every column's attoptions; only user options count.
      await q(`SELECT attname, attstattarget, ARRAY(SELECT o FROM unnest(attoptions) o WHERE o NOT LIKE 'pg\\_%') AS o
                 FROM pg_attribute WHERE attrelid = 'app.items'::regclass AND attname IN ('code', 'cat_id') ORDER BY 1`),
    ).toEqual([
      // PostgreSQL 17 stores NULL for the default target where earlier versions store -1.
      { attname: 'cat_id', attstattarget: cluster.version >= 17 ? null : -1, o: ['n_distinct=5'] },
      { attname: 'code', attstattarget: 500, o: [] },
    ]);
    expect(await q(`SELECT stxnamespace::regnamespace::text AS s, stxname FROM pg_statistic_ext WHERE stxrelid = 'app.items'::regclass`)).toEqual([
      { s: 'app', stxname: 'items_stats' },
    ]);

    // Publication membership with its row filter.
    expect(await q(`SELECT pubname, schemaname, tablename, rowfilter FROM pg_publication_tables WHERE pubname = 'items_pub'`)).toEqual([
      { pubname: 'items_pub', schemaname: 'app', tablename: 'items', rowfilter: '(cat_id > 0)' },
    ]);
  });

  it('keeps NOT NULL as it was: named, NO INHERIT and NOT VALID constraints with their comments on PostgreSQL 18', async () => {
    const pg18 = cluster.version >= 18;
    await owner.query('CREATE TABLE app.nn (id bigint PRIMARY KEY, v text, n int CONSTRAINT n_named NOT NULL, w int)');
    // NULLs in w stay allowed for the old rows: a NOT VALID NOT NULL constraint leaves them alone.
    await owner.query(`INSERT INTO app.nn SELECT g, 'v' || g, g, CASE WHEN g % 2 = 0 THEN g END FROM generate_series(1, 100) g`);
    if (pg18) {
      await owner.query('ALTER TABLE app.nn ADD CONSTRAINT w_nn NOT NULL w NOT VALID');
      await owner.query('ALTER TABLE app.nn ADD CONSTRAINT v_nn NOT NULL v NO INHERIT');
      await owner.query(`COMMENT ON CONSTRAINT n_named ON app.nn IS 'n stays set'`);
      await owner.query(`COMMENT ON CONSTRAINT w_nn ON app.nn IS 'w from now on'`);
    }
    const constraints = () =>
      q(`SELECT conname, contype::text, convalidated, connoinherit, pg_get_constraintdef(oid) AS def, obj_description(oid, 'pg_constraint') AS comment
           FROM pg_constraint WHERE conrelid = 'app.nn'::regclass ORDER BY conname`);
    const notNull = () => q(`SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'app.nn'::regclass AND attnum > 0 ORDER BY attnum`);
    const before = { constraints: await constraints(), notNull: await notNull(), content: await contentMd5(admin, 'app.nn', 'id') };
    if (pg18) expect(before.constraints.filter((c) => c.contype === 'n').map((c) => c.conname)).toEqual(['n_named', 'nn_id_not_null', 'v_nn', 'w_nn']);
    const oid = (await q(`SELECT 'app.nn'::regclass::oid::int8 AS oid`))[0]!.oid as string;
    await repackByRename({ schema: 'app', name: 'nn' }, { schema: 'pgtools', name: 'nn_shadow' });
    expect((await q(`SELECT 'app.nn'::regclass::oid::int8 AS oid`))[0]!.oid).not.toBe(oid);
    expect({ constraints: await constraints(), notNull: await notNull(), content: await contentMd5(admin, 'app.nn', 'id') }).toEqual(before);
    await expect(owner.query(`INSERT INTO app.nn (id, v, n, w) VALUES (1000, 'x', NULL, 1)`)).rejects.toMatchObject({ code: '23502' });
    if (pg18) await expect(owner.query(`INSERT INTO app.nn (id, v, n, w) VALUES (1000, 'x', 1, NULL)`)).rejects.toMatchObject({ code: '23502' });
    await dropShadow(admin, { schema: 'pgtools', name: 'nn_shadow' });
  });

  it('refuses with rename_swap_unsupported when a dependent cannot be moved, before creating anything', async () => {
    const c = await owner.connect();
    try {
      await c.query('CREATE TABLE app.mv_base (id int PRIMARY KEY)');
      await c.query('CREATE MATERIALIZED VIEW app.mv AS SELECT id FROM app.mv_base');
      await c.query('CREATE FUNCTION app.count_base() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM app.mv_base; END');
      const err = (await createRenameShadow(c, { original: { schema: 'app', name: 'mv_base' }, shadow: { schema: 'pgtools', name: 'mv_shadow' } }).catch(
        (e: unknown) => e,
      )) as PgToolsError;
      expect(err).toBeInstanceOf(PgToolsError);
      expect(err).toMatchObject({ code: 'rename_swap_unsupported' });
      expect(err.message).toMatch(/materialized view app\.mv/);
      expect(err.message).toMatch(/function app\.count_base/);
      expect((await c.query(`SELECT to_regclass('pgtools.mv_shadow') AS r`)).rows).toEqual([{ r: null }]);
    } finally {
      c.release();
    }
  });

  it('planned before the lock: refuses to run without ACCESS EXCLUSIVE, or after a GRANT or a new view, and changes nothing', async () => {
    const original = { schema: 'app', name: 'planned' };
    const shadow = { schema: 'pgtools', name: 'planned_shadow' };
    await owner.query('CREATE TABLE app.planned (id int PRIMARY KEY, v text)');
    await owner.query(`INSERT INTO app.planned SELECT g, 'v' || g FROM generate_series(1, 50) g`);
    const c = await owner.connect();
    try {
      await createRenameShadow(c, { original, shadow });
      await c.query('INSERT INTO pgtools.planned_shadow SELECT * FROM app.planned');
      const defs = await shadowIndexDefinitions(c, { original, shadow });
      for (const d of defs) await c.query(d.sql);
      const indexPairs = defs.map((d) => ({ original: d.originalIndex.oid, shadow: { schema: shadow.schema, name: d.shadowIndexName } }));
      const oidBefore = (await q(`SELECT 'app.planned'::regclass::oid::int8 AS oid`))[0]!.oid as string;
      const attempt = async (between: () => Promise<unknown>, lock = true): Promise<unknown> => {
        await c.query('BEGIN');
        // As the repack does: SHARE UPDATE EXCLUSIVE keeps DDL out while the plan is made.
        await c.query('LOCK TABLE app.planned IN SHARE UPDATE EXCLUSIVE MODE');
        // Planned on another connection in autocommit (as the repack does): its reads lock nothing for long.
        const planner = await owner.connect();
        const plan = await prepareRenameSwap(planner, { original, shadow, indexPairs }).finally(() => planner.release());
        await between();
        if (lock) await c.query('LOCK TABLE app.planned, pgtools.planned_shadow IN ACCESS EXCLUSIVE MODE');
        const outcome = await executeRenameSwap(c, plan).catch((e: unknown) => e);
        await c.query(outcome instanceof Error ? 'ROLLBACK' : 'COMMIT');
        return outcome;
      };
      const noLock = (await attempt(async () => undefined, false)) as PgToolsError;
      expect(noLock).toMatchObject({ code: 'swap_precondition' });
      expect(noLock.message).toContain('ACCESS EXCLUSIVE');
      // GRANT takes no table lock: it slips in between the plan and the lock.
      const granted = (await attempt(() => admin.query('GRANT SELECT ON app.planned TO reader'))) as PgToolsError;
      expect(granted).toMatchObject({ code: 'rename_swap_stale' });
      // So does a view (ACCESS SHARE): left behind on the old table, it would block the shadow's drop.
      const viewed = (await attempt(() => owner.query('CREATE VIEW app.planned_v AS SELECT id FROM app.planned'))) as PgToolsError;
      expect(viewed).toMatchObject({ code: 'rename_swap_stale' });
      // Options of a view the swap re-creates change without any lock on the table.
      const barrier = (await attempt(() => owner.query('ALTER VIEW app.planned_v SET (security_barrier = true)'))) as PgToolsError;
      expect(barrier).toMatchObject({ code: 'rename_swap_stale' });
      expect((await q(`SELECT 'app.planned'::regclass::oid::int8 AS oid`))[0]!.oid).toBe(oidBefore);
      // Planned again with the grant and the view, it moves both.
      const done = await attempt(async () => undefined);
      expect(done).toMatchObject({ oldTableOid: Number(oidBefore) });
      expect((await q(`SELECT has_table_privilege('reader', 'app.planned', 'SELECT') AS r`))[0]).toEqual({ r: true });
      expect((await q(`SELECT count(*)::int AS n FROM app.planned_v`))[0]).toEqual({ n: 50 });
      expect((await q(`SELECT reloptions FROM pg_class WHERE oid = 'app.planned_v'::regclass`))[0]).toEqual({ reloptions: ['security_barrier=true'] });
      expect((await q(`SELECT 'app.planned'::regclass::oid::int8 AS oid`))[0]!.oid).not.toBe(oidBefore);
      await dropShadow(c, shadow);
    } finally {
      c.release();
    }
  });

  it('refuses a role that does not own the table with rename_swap_not_owner', async () => {
    await admin.query('CREATE TABLE public.foreign_owned (id int PRIMARY KEY)');
    await admin.query('CREATE TABLE pgtools.fo_shadow (id int)');
    const c = await owner.connect();
    try {
      await c.query('BEGIN');
      const err = (await renameSwap(c, {
        original: { schema: 'public', name: 'foreign_owned' },
        shadow: { schema: 'pgtools', name: 'fo_shadow' },
        indexPairs: [],
      }).catch((e: unknown) => e)) as PgToolsError;
      expect(err).toBeInstanceOf(PgToolsError);
      expect(err).toMatchObject({ code: 'rename_swap_not_owner' });
      expect(err.message).toContain('app_owner');
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
  });
});

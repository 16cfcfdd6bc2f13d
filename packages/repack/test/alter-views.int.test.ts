import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { repack, type RepackResult } from '../src/index.js';
import { diffTable, startWriter } from './workload.js';
import { killDuringWrites, PAUSE_POINTS } from './child-run.js';
import { alterHelpers, slow } from './alter-helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-alter-views', settings: { max_connections: 50 } });
  db = await cluster.createDatabase();
  pool = db.pool({ max: 12 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const { createTable, columnTypes, leftovers } = alterHelpers(() => pool);

/** What the swap must carry over for a view: options, owner, ACL, comments. */
async function viewFacts(
  view: string,
): Promise<{ options: string[] | null; owner: string; acl: string[]; comment: string | null; columnComment: string | null }> {
  const { rows } = await pool.query(
    `SELECT c.reloptions AS options, pg_get_userbyid(c.relowner)::text AS owner,
            -- The privileges in effect: a default ACL may come back written out (the same privileges).
            COALESCE(c.relacl, acldefault('r', c.relowner))::text[] AS acl,
            obj_description(c.oid, 'pg_class') AS comment, col_description(c.oid, 1) AS "columnComment"
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [view],
  );
  return rows[0];
}

describe('repack --alter with views over the table', () => {
  it('int → bigint of the primary key under a concurrent writer, with a foreign key pointing at it and views over it: content, types, the foreign key valid, the views on the new type', async () => {
    const q = await createTable('orders', 20_000);
    // Cascades, so the writer's key changes and deletes keep the references whole.
    await pool.query(`CREATE TABLE public.order_notes (note_id int PRIMARY KEY, order_id int REFERENCES ${q} (id) ON UPDATE CASCADE ON DELETE CASCADE)`);
    await pool.query(`INSERT INTO public.order_notes SELECT g, g FROM generate_series(1, 2000) g`);
    await pool.query(`CREATE ROLE "View Owner" NOLOGIN`);
    await pool.query(`CREATE ROLE view_reader NOLOGIN`);
    await pool.query(`CREATE SCHEMA "Rep orts"`);
    await pool.query(`GRANT USAGE, CREATE ON SCHEMA "Rep orts" TO "View Owner"`);
    await pool.query(`GRANT SELECT ON ${q} TO "View Owner"`);
    // A view over the key with options and a check option, and a view over that one in another schema.
    await pool.query(
      `CREATE VIEW public."Order ids" WITH (security_barrier = true) AS SELECT id, a, id + 1 AS next_id FROM ${q} WHERE a IS NULL OR a >= -1 WITH LOCAL CHECK OPTION`,
    );
    await pool.query(`COMMENT ON VIEW public."Order ids" IS 'ids'`);
    await pool.query(`COMMENT ON COLUMN public."Order ids".id IS 'the key'`);
    await pool.query(`GRANT SELECT ON public."Order ids" TO view_reader`);
    await pool.query(`GRANT SELECT ON public."Order ids" TO "View Owner"`);
    await pool.query(`CREATE VIEW "Rep orts".top_ids WITH (security_invoker = true) AS SELECT id, next_id FROM public."Order ids" WHERE id < 1000`);
    await pool.query(`ALTER VIEW "Rep orts".top_ids OWNER TO "View Owner"`);
    await pool.query(`GRANT SELECT ON "Rep orts".top_ids TO PUBLIC`);
    const before = { ids: await viewFacts('public."Order ids"'), top: await viewFacts('"Rep orts".top_ids') };

    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, {
      table: q,
      alter: ['ALTER COLUMN id TYPE bigint'],
      switchThreshold: 5,
      applyBatchSize: 50,
      copyChunkPages: 8,
      pausePoint: slow,
    });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t.message ?? '').toBe('');
    expect(t.status).toBe('repacked');
    expect(writer.errors).toEqual([]);
    expect(t.log.entries).toBeGreaterThan(0);
    expect(await diffTable(pool, q, writer.expected)).toEqual([]);
    expect(await columnTypes(q)).toEqual({ id: 'bigint', a: 'integer', b: 'text', c: 'jsonb', extra: 'text' });

    // The foreign key is on the new table and validated.
    const { rows: fk } = await pool.query(
      `SELECT confrelid::regclass::text AS target, convalidated FROM pg_constraint WHERE conrelid = 'public.order_notes'::regclass AND contype = 'f'`,
    );
    expect(fk).toEqual([{ target: 'orders', convalidated: true }]);
    await expect(pool.query(`INSERT INTO public.order_notes VALUES (999999, 123456789)`)).rejects.toThrow(/foreign key/);

    // The views read the new table, on the new type, with everything they had.
    expect(await columnTypes('public."Order ids"')).toEqual({ id: 'bigint', a: 'integer', next_id: 'bigint' });
    expect(await columnTypes('"Rep orts".top_ids')).toEqual({ id: 'bigint', next_id: 'bigint' });
    expect(await viewFacts('public."Order ids"')).toEqual(before.ids);
    expect(await viewFacts('"Rep orts".top_ids')).toEqual(before.top);
    const { rows: dep } = await pool.query(
      `SELECT DISTINCT d.refobjid::regclass::text AS t FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
        WHERE r.ev_class = 'public."Order ids"'::regclass AND d.refobjid <> r.ev_class AND d.refclassid = 'pg_class'::regclass`,
    );
    expect(dep).toEqual([{ t: 'orders' }]);
    const { rows: n } = await pool.query(
      `SELECT (SELECT count(*)::int FROM public."Order ids") AS v, (SELECT count(*)::int FROM ${q}) AS t,
              (SELECT count(*)::int FROM "Rep orts".top_ids) AS top, (SELECT count(*)::int FROM ${q} WHERE id < 1000) AS low`,
    );
    expect(n[0].v).toBe(n[0].t);
    expect(n[0].top).toBe(n[0].low);
    // A key past the old type's range goes in, through the view too, and the check option still holds.
    await pool.query(`INSERT INTO public."Order ids" (id, a) VALUES (5000000000, 1)`);
    const { rows: big } = await pool.query(`SELECT next_id::text FROM public."Order ids" WHERE id = 5000000000`);
    expect(big).toEqual([{ next_id: '5000000001' }]);
    await expect(pool.query(`INSERT INTO public."Order ids" (id, a) VALUES (5000000001, -5)`)).rejects.toThrow(/check option/);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses before anything is made, naming the view, when the server cannot build a view on the new definition', async () => {
    await pool.query(`CREATE TABLE public.viewed (id int PRIMARY KEY, v int, note text)`);
    await pool.query(`INSERT INTO public.viewed SELECT g, g, 'n' FROM generate_series(1, 100) g`);
    await pool.query(`CREATE VIEW public.plain_v AS SELECT id, v FROM public.viewed`);
    await pool.query(`CREATE VIEW public."Sums" AS SELECT id, v + 1 AS w FROM public.plain_v`);
    // int → text: the server has no text + integer, so "Sums" cannot be built again.
    const r = await repack(pool, { table: 'public.viewed', alter: ['ALTER COLUMN v TYPE text USING v::text'] });
    expect(r.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
    expect(r.tables[0]!.message).toMatch(/view public\."Sums" cannot be built on the new definition \(operator does not exist: text \+ integer/);
    expect(await leftovers()).toEqual([]);
    expect(await columnTypes('public.viewed')).toEqual({ id: 'integer', v: 'integer', note: 'text' });
    expect(await columnTypes('public."Sums"')).toEqual({ id: 'integer', w: 'integer' });

    // A dropped column a view uses, a materialized view over a view over the table, a function of a view's row type.
    const dropped = await repack(pool, { table: 'public.viewed', alter: ['DROP COLUMN v'] });
    expect(dropped.tables[0]!.message).toMatch(/used by view public\.plain_v/);
    await pool.query(`CREATE MATERIALIZED VIEW public.viewed_mv AS SELECT id FROM public.plain_v`);
    const mv = await repack(pool, { table: 'public.viewed', alter: ['ALTER COLUMN id TYPE bigint'] });
    expect(mv.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
    expect(mv.tables[0]!.message).toContain(
      `materialized view public.viewed_mv reads view public.plain_v: recreating it would run its query under the swap's lock`,
    );
    await pool.query(`DROP MATERIALIZED VIEW public.viewed_mv`);
    await pool.query(`CREATE FUNCTION public.first_sum() RETURNS public."Sums" LANGUAGE sql AS 'SELECT * FROM public."Sums" LIMIT 1'`);
    const fn = await repack(pool, { table: 'public.viewed', alter: ['ALTER COLUMN id TYPE bigint'] });
    expect(fn.tables[0]!.message).toMatch(/function public\.first_sum\(\) depends on view public\."Sums", which must be recreated/);
    expect(await leftovers()).toEqual([]);
    expect(await columnTypes('public.viewed')).toEqual({ id: 'integer', v: 'integer', note: 'text' });
  });
});

describe('repack --alter with views, as the table owner without superuser', () => {
  it('recreates its views (one owned by a role it is a member of) with their ACL, undoing what its default privileges would grant', async () => {
    await pool.query(`CREATE ROLE view_app LOGIN`);
    await pool.query(`CREATE ROLE view_team NOLOGIN`);
    await pool.query(`CREATE ROLE view_peek NOLOGIN`);
    await pool.query(`GRANT view_team TO view_app`);
    await pool.query(`GRANT CREATE ON SCHEMA public TO view_app, view_team`);
    await pool.query(`GRANT CREATE ON DATABASE "${db.name}" TO view_app`);
    const owner = new pg.Pool({ ...db.config, user: 'view_app', max: 6 });
    try {
      await owner.query(`CREATE TABLE public.app_items (id int PRIMARY KEY, a int, b text, c jsonb)`);
      await owner.query(`INSERT INTO public.app_items SELECT g, g, 'v' || g, NULL FROM generate_series(1, 3000) g`);
      await owner.query(`CREATE VIEW public.app_v AS SELECT id, a FROM public.app_items`);
      await owner.query(`GRANT SELECT ON public.app_v TO PUBLIC`);
      await owner.query(`GRANT SELECT ON public.app_items TO view_team`);
      await owner.query(`CREATE VIEW public.team_v AS SELECT id FROM public.app_v WHERE a > 10`);
      await owner.query(`ALTER VIEW public.team_v OWNER TO view_team`);
      // Made after the views: a view created now would give view_peek SELECT; the recreated ones must not.
      await owner.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO view_peek`);
      const before = { app: await viewFacts('public.app_v'), team: await viewFacts('public.team_v') };
      const writer = startWriter(pool, 'public.app_items', { nextId: 100_000 });
      const result = await repack(owner, {
        table: 'public.app_items',
        alter: ['ALTER COLUMN id TYPE bigint'],
        toolSchema: 'app_tools',
        switchThreshold: 5,
        pausePoint: slow,
      });
      await writer.stop();
      expect(result.tables[0]!.message ?? '').toBe('');
      expect(result.tables[0]!).toMatchObject({ status: 'repacked', swap: 'rename' });
      expect(writer.errors).toEqual([]);
      expect(await diffTable(pool, 'public.app_items', writer.expected)).toEqual([]);
      expect(await columnTypes('public.team_v')).toEqual({ id: 'bigint' });
      expect(await viewFacts('public.app_v')).toEqual(before.app);
      expect(await viewFacts('public.team_v')).toEqual(before.team);
      expect(before.team.owner).toBe('view_team');
      expect(before.app.acl.some((e) => e.startsWith('view_peek='))).toBe(false);
      const { rows } = await owner.query(`SELECT count(*)::int AS n FROM public.team_v`);
      expect(rows[0].n).toBeGreaterThan(0);
    } finally {
      await owner.end();
    }
  });
});

describe('repack --alter with views and new constraints, killed at every pause point', () => {
  const alter = ['ALTER COLUMN id TYPE bigint', 'ADD CHECK (a >= -1 AND a < 1000)', 'ADD UNIQUE (c)', 'ADD FOREIGN KEY (a) REFERENCES public.kparent'];
  const constraints = async (table: string) =>
    (
      await pool.query<{ c: string }>(
        `SELECT contype::text || ':' || convalidated::text AS c FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('c', 'u', 'f') ORDER BY 1`,
        [table],
      )
    ).rows.map((r) => r.c);
  const viewTypes = async (table: string) => ({ v: await columnTypes(`${table}_v`), vv: await columnTypes(`${table}_vv`) });

  beforeAll(async () => {
    // Every value the writer gives a: -1 to 999.
    await pool.query(`CREATE TABLE public.kparent (id int PRIMARY KEY)`);
    await pool.query(`INSERT INTO public.kparent SELECT g FROM generate_series(-1, 999) g`);
  });

  it.each(PAUSE_POINTS)('killed at %s: the table and its views stay as they were and writable; the next run cleans up and alters it', async (point) => {
    const table = `vkill_${point.replace(/-/g, '_')}`;
    await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, a int, b text, c jsonb)`);
    await pool.query(`INSERT INTO ${table} SELECT g, g % 1000, 'v' || g, NULL FROM generate_series(1, 2000) g`);
    await pool.query(`CREATE VIEW ${table}_v AS SELECT id, a, id * 2 AS twice FROM ${table}`);
    await pool.query(`CREATE VIEW ${table}_vv AS SELECT twice FROM ${table}_v`);
    const writer = await killDuringWrites(pool, db.connectionString, table, point, alter);
    expect(writer.errors).toEqual([]);
    expect(await diffTable(pool, table, writer.expected)).toEqual([]);
    expect(await columnTypes(table)).toEqual({ id: 'integer', a: 'integer', b: 'text', c: 'jsonb' });
    expect(await constraints(table)).toEqual([]);
    expect(await viewTypes(table)).toEqual({ v: { id: 'integer', a: 'integer', twice: 'integer' }, vv: { twice: 'integer' } });
    const writer2 = startWriter(pool, table, { nextId: 200_000, seed: 7, pauseMs: 2 });
    // The dead run's backends may still be going away; its advisory lock goes with them.
    let result: RepackResult | undefined;
    for (let i = 0; i < 20; i++) {
      result = await repack(pool, { table, alter, switchThreshold: 5 });
      if (result.tables[0]!.code !== 'repack_running') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await writer2.stop();
    expect(result!.tables[0]!.message ?? '').toBe('');
    expect(result!.tables[0]!.status).toBe('repacked');
    expect(writer2.errors).toEqual([]);
    expect(await diffTable(pool, table, writer2.expected)).toEqual([]);
    expect(await columnTypes(table)).toEqual({ id: 'bigint', a: 'integer', b: 'text', c: 'jsonb' });
    expect(await constraints(table)).toEqual(['c:true', 'f:true', 'u:true']);
    expect(await viewTypes(table)).toEqual({ v: { id: 'bigint', a: 'integer', twice: 'bigint' }, vv: { twice: 'bigint' } });
    const { rows } = await pool.query(`SELECT (SELECT count(*)::int FROM ${table}_vv) AS vv, (SELECT count(*)::int FROM ${table}) AS t`);
    expect(rows[0].vv).toBe(rows[0].t);
    expect(await leftovers()).toEqual([]);
  });
});

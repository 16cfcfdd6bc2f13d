import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { cleanupLeftovers, planRepack, repack, type PausePoint, type RepackEvent, type RepackResult } from '../src/index.js';
import { diffTable, startWriter } from './workload.js';
import { killDuringWrites } from './child-run.js';
import { alterHelpers } from './alter-helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-matviews', settings: { max_connections: 50 } });
  db = await cluster.createDatabase();
  pool = db.pool({ max: 10 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const { createTable, columnTypes, leftovers } = alterHelpers(() => pool);
const MV = 'public."Order Stats"';

/** A matview over the writer's table with a unique index, a comment on it, its column and its index, grants and a statistics target. */
async function createMatview(table: string): Promise<void> {
  await pool.query(`CREATE MATERIALIZED VIEW ${MV} WITH (fillfactor = 80) AS SELECT id, a, coalesce(b, '') AS "B text" FROM ${table} WHERE a IS NOT NULL`);
  await pool.query(`CREATE UNIQUE INDEX "Order Stats id" ON ${MV} (id)`);
  await pool.query(`CREATE INDEX order_stats_a ON ${MV} (a) WHERE a > 10`);
  await pool.query(`COMMENT ON MATERIALIZED VIEW ${MV} IS 'stats'`);
  await pool.query(`COMMENT ON COLUMN ${MV}."B text" IS 'b or empty'`);
  await pool.query(`COMMENT ON INDEX public."Order Stats id" IS 'by id'`);
  await pool.query(`ALTER MATERIALIZED VIEW ${MV} ALTER COLUMN a SET STATISTICS 321`);
  await pool.query(`DO $$ BEGIN CREATE ROLE mv_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await pool.query(`GRANT SELECT ON ${MV} TO mv_reader`);
  await pool.query(`GRANT SELECT ("B text") ON ${MV} TO PUBLIC`);
}

/** What the rebuild must carry over. */
async function matviewFacts(): Promise<Record<string, unknown>> {
  const { rows } = await pool.query(
    `SELECT c.relispopulated AS populated, c.reloptions AS options, c.relacl::text[] AS acl, obj_description(c.oid, 'pg_class') AS comment,
            col_description(c.oid, 3) AS "columnComment",
            (SELECT array_agg(i.relname::text || ':' || coalesce(obj_description(i.oid, 'pg_class'), '') ORDER BY i.relname) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid) AS indexes,
            (SELECT a.attacl::text[] FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = 3) AS "columnAcl",
            (SELECT coalesce(a.attstattarget, -1) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'a') AS "statTarget"
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [MV],
  );
  return rows[0];
}

/** Rows of the matview that differ from its query run now. */
async function staleRows(query: string): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ((TABLE ${MV} EXCEPT ALL ${query}) UNION ALL (${query} EXCEPT ALL TABLE ${MV})) d`);
  return rows[0].n;
}

/** Reads the matview in a loop until stopped; every error is kept. */
function startReader(): { stop: () => Promise<Error[]> } {
  let running = true;
  const errors: Error[] = [];
  const loop = (async () => {
    while (running) {
      await pool.query(`SELECT count(*) FROM ${MV} WHERE id > 0`).catch((e: Error) => errors.push(e));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return errors;
    },
  };
}

const query = (table: string) => `SELECT id, a, coalesce(b, '') AS "B text" FROM ${table} WHERE a IS NOT NULL`;

describe('materialized views over a table at the rename swap', () => {
  it('a repack with the rename swap under a writer rebuilds the matview on the new table: name, indexes, grants, comments, options kept; contents as of the rebuild; readable throughout', async () => {
    const table = await createTable('mv_orders', 5_000);
    await createMatview(table);
    // Another in a schema with a hostile name, owned by another role, with a grant of its own.
    await pool.query(`CREATE SCHEMA "Rep orts"`);
    await pool.query(`CREATE ROLE "Mv Owner" NOLOGIN`);
    await pool.query(`GRANT USAGE, CREATE ON SCHEMA "Rep orts" TO "Mv Owner"`);
    await pool.query(`GRANT SELECT ON ${table} TO "Mv Owner"`);
    await pool.query(`CREATE MATERIALIZED VIEW "Rep orts"."Top ""ids""" AS SELECT id FROM ${table} WHERE id < 100`);
    await pool.query(`ALTER MATERIALIZED VIEW "Rep orts"."Top ""ids""" OWNER TO "Mv Owner"`);
    await pool.query(`GRANT SELECT ON "Rep orts"."Top ""ids""" TO mv_reader`);
    const other = async () =>
      (
        await pool.query(`SELECT pg_get_userbyid(relowner)::text AS owner, relacl::text[] AS acl FROM pg_class WHERE oid = $1::regclass`, [
          '"Rep orts"."Top ""ids"""',
        ])
      ).rows[0];
    const otherBefore = await other();
    const before = await matviewFacts();
    const { rows: oid } = await pool.query(`SELECT $1::regclass::oid::int8 AS oid`, [MV]);
    const writer = startWriter(pool, table, { nextId: 100_000, pauseMs: 1 });
    const reader = startReader();
    const events: RepackEvent[] = [];
    let readWhileBuilt: Record<string, unknown> | undefined;
    const result: RepackResult = await repack(pool, {
      table,
      swap: 'rename',
      switchThreshold: 5,
      onEvent: (e) => events.push(e),
      pausePoint: async (point: PausePoint) => {
        // The swap committed: from here the table's contents are what the matview must show.
        if (point === 'matview-created') await writer.stop();
        // The old matview still serves, populated, before the switch.
        if (point === 'matview-built') readWhileBuilt = (await pool.query(`SELECT count(*)::int AS n FROM ${MV}`)).rows[0];
      },
    });
    const readErrors = await reader.stop();
    await writer.stop();
    const t = result.tables[0]!;
    expect(t.message ?? '').toBe('');
    expect(t.status).toBe('repacked');
    expect(t.swap).toBe('rename');
    expect(readErrors).toEqual([]);
    expect(writer.errors).toEqual([]);
    expect(t.log.entries).toBeGreaterThan(0);
    expect(await diffTable(pool, table, writer.expected)).toEqual([]);
    expect(readWhileBuilt).toBeDefined();
    // A new matview (new OID) with the same name and everything carried over, showing the table as it is.
    expect((await pool.query(`SELECT $1::regclass::oid::int8 AS oid`, [MV])).rows[0].oid).not.toBe(oid[0].oid);
    expect(await matviewFacts()).toEqual(before);
    expect(await staleRows(query(table))).toBe(0);
    expect(await other()).toEqual(otherBefore);
    expect(otherBefore.owner).toBe('Mv Owner');
    const rebuilt = events.filter((e) => e.type === 'matview-rebuilt');
    expect(rebuilt).toEqual([
      expect.objectContaining({ matview: MV, populated: true, indexes: ['Order Stats id', 'order_stats_a'] }),
      expect.objectContaining({ matview: '"Rep orts"."Top ""ids"""', populated: true, indexes: [] }),
    ]);
    // One short moment on the old matview: no query runs under it.
    const holds = t.accessExclusive.filter((a) => a.purpose === 'matview');
    expect(holds).toHaveLength(2);
    for (const h of holds) expect(h.heldMs).toBeLessThan(2000);
    expect(t.phases.map((p) => p.phase)).toContain('matviews');
    expect(await leftovers()).toEqual([]);
  });

  it('--alter id to bigint: the matview over id gets bigint; an unpopulated matview stays unpopulated', async () => {
    const table = await createTable('mv_alter', 2_000);
    await pool.query(`CREATE MATERIALIZED VIEW public.mv_ids AS SELECT id, a FROM ${table} WHERE id % 2 = 0`);
    await pool.query(`CREATE INDEX mv_ids_id ON public.mv_ids (id)`);
    await pool.query(`CREATE MATERIALIZED VIEW public.mv_empty AS SELECT id FROM ${table} WITH NO DATA`);
    const [plan] = await planRepack(pool, { table, alter: ['ALTER COLUMN id TYPE bigint'] });
    expect(plan!.ok).toBe(true);
    expect(plan!.locks.filter((l) => l.includes('REFRESH MATERIALIZED VIEW'))).toHaveLength(2);
    const writer = startWriter(pool, table, { nextId: 100_000, pauseMs: 1 });
    const result = await repack(pool, {
      table,
      alter: ['ALTER COLUMN id TYPE bigint'],
      switchThreshold: 5,
      pausePoint: async (point: PausePoint) => {
        if (point === 'matview-created') await writer.stop();
      },
    });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t.message ?? '').toBe('');
    expect(t.status).toBe('repacked');
    expect(await diffTable(pool, table, writer.expected)).toEqual([]);
    expect(await columnTypes(table)).toMatchObject({ id: 'bigint' });
    expect(await columnTypes('public.mv_ids')).toEqual({ id: 'bigint', a: 'integer' });
    expect(await columnTypes('public.mv_empty')).toEqual({ id: 'bigint' });
    const { rows } = await pool.query(`SELECT relname, relispopulated FROM pg_class WHERE relname IN ('mv_ids', 'mv_empty') ORDER BY relname`);
    expect(rows).toEqual([
      { relname: 'mv_empty', relispopulated: false },
      { relname: 'mv_ids', relispopulated: true },
    ]);
    const { rows: diff } = await pool.query(
      `SELECT count(*)::int AS n FROM ((TABLE public.mv_ids EXCEPT SELECT id, a FROM ${table} WHERE id % 2 = 0) UNION ALL (SELECT id, a FROM ${table} WHERE id % 2 = 0 EXCEPT TABLE public.mv_ids)) d`,
    );
    expect(diff[0].n).toBe(0);
    expect((await pool.query(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = 'public.mv_ids'::regclass`)).rows).toEqual([
      { i: 'mv_ids_id' },
    ]);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses before anything is made: a view over the matview, a matview the role does not own', async () => {
    const table = await createTable('mv_refused', 100);
    await pool.query(`CREATE MATERIALIZED VIEW public.mv_base AS SELECT id, a FROM ${table}`);
    await pool.query(`CREATE VIEW public."over mv" AS SELECT id FROM public.mv_base`);
    const { rows: before } = await pool.query(`SELECT $1::regclass::oid::int8 AS oid`, [table]);
    // --dry-run says so too.
    const [plan] = await planRepack(pool, { table, swap: 'rename' });
    expect(plan!.ok).toBe(false);
    expect(plan!.problems.map((p) => p.message).join('; ')).toContain('view public."over mv" depends on materialized view public.mv_base');
    const r = await repack(pool, { table, swap: 'rename' });
    expect(r.tables[0]).toMatchObject({ status: 'failed', code: 'rename_swap_unsupported' });
    expect(r.tables[0]!.message).toContain(
      'view public."over mv" depends on materialized view public.mv_base, which is rebuilt on the new table (not supported: drop it before the run and create it again after)',
    );
    expect(r.tables[0]!.message).toContain('nothing was changed');
    // --alter (always the rename swap) refuses it the same way, before its probe.
    const altered = await repack(pool, { table, alter: ['ALTER COLUMN a TYPE bigint'] });
    expect(altered.tables[0]).toMatchObject({ status: 'failed', code: 'rename_swap_unsupported' });
    expect(altered.tables[0]!.message).toContain('view public."over mv" depends on materialized view public.mv_base');
    await pool.query(`DROP VIEW public."over mv"`);
    // Not owned: the table's owner runs the repack, another role owns the matview.
    await pool.query(`CREATE ROLE mv_app LOGIN`);
    await pool.query(`CREATE ROLE mv_other NOLOGIN`);
    await pool.query(`ALTER TABLE ${table} OWNER TO mv_app`);
    await pool.query(`GRANT CREATE, USAGE ON SCHEMA public TO mv_app, mv_other`);
    await pool.query(`GRANT SELECT ON ${table} TO mv_other`);
    await pool.query(`ALTER MATERIALIZED VIEW public.mv_base OWNER TO mv_other`);
    await pool.query(`CREATE SCHEMA IF NOT EXISTS pgtools AUTHORIZATION mv_app`);
    const url = new URL(db.connectionString);
    url.username = 'mv_app';
    const app = new pg.Pool({ connectionString: url.toString(), max: 4 });
    try {
      const n = await repack(app, { table });
      expect(n.tables[0]).toMatchObject({ status: 'failed', code: 'rename_swap_unsupported' });
      expect(n.tables[0]!.message).toContain('materialized view public.mv_base reads the table and the current role does not own it');
    } finally {
      await app.end();
    }
    expect((await pool.query(`SELECT $1::regclass::oid::int8 AS oid`, [table])).rows[0].oid).toBe(before[0].oid);
    expect(await leftovers()).toEqual([]);
    await pool.query(`DROP SCHEMA pgtools`);
  });

  it.each(['matview-created', 'matview-built'] as const)(
    'killed at %s: the table and the old matview stay readable, the next run finishes the switch and drops the old table',
    async (point) => {
      const table = `public.mv_kill_${point.replace(/-/g, '_')}`;
      await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
      await pool.query(`INSERT INTO ${table} SELECT g, g, 'v' || g, NULL FROM generate_series(1, 2000) g`);
      const mv = `${table}_mv`;
      await pool.query(`CREATE MATERIALIZED VIEW ${mv} AS SELECT id, a FROM ${table}`);
      await pool.query(`CREATE UNIQUE INDEX ON ${mv} (id)`);
      await pool.query(`GRANT SELECT ON ${mv} TO PUBLIC`);
      const writer = await killDuringWrites(pool, db.connectionString, table, point, undefined, 'rename');
      expect(writer.errors).toEqual([]);
      expect(await diffTable(pool, table, writer.expected)).toEqual([]);
      // The old matview still serves its contents from before (2,000 rows, the writer's inserts not in it).
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${mv}`)).rows[0].n).toBe(2000);
      expect(await leftovers()).not.toEqual([]);
      let result: RepackResult | undefined;
      for (let i = 0; i < 20; i++) {
        result = await repack(pool, { table, swap: 'rename' });
        if (result.tables[0]!.code !== 'repack_running') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const t = result!.tables[0]!;
      expect(t.message ?? '').toBe('');
      expect(t.status).toBe('repacked');
      expect(t.leftoversRemoved.join('; ')).toMatch(/materialized view .*_mv rebuilt/);
      expect(await leftovers()).toEqual([]);
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM ((TABLE ${mv} EXCEPT SELECT id, a FROM ${table}) UNION ALL (SELECT id, a FROM ${table} EXCEPT TABLE ${mv})) d`,
      );
      expect(rows[0].n).toBe(0);
      const { rows: acl } = await pool.query(
        `SELECT relacl::text[] AS acl, (SELECT count(*)::int FROM pg_index WHERE indrelid = c.oid) AS indexes FROM pg_class c WHERE oid = $1::regclass`,
        [mv],
      );
      expect(acl[0].indexes).toBe(1);
      expect(acl[0].acl.some((e: string) => e.startsWith('=r/'))).toBe(true);
    },
  );

  it('a reader holding the old matview past the wait: the switch gives up (bounded), the table is in place, the matview keeps its old contents, --cleanup finishes later', async () => {
    const table = 'public.mv_blocked';
    const mv = 'public.mv_blocked_mv';
    await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, a int)`);
    await pool.query(`INSERT INTO ${table} SELECT g, g FROM generate_series(1, 300) g`);
    await pool.query(`CREATE MATERIALIZED VIEW ${mv} AS SELECT id, a FROM ${table}`);
    const blocker = await pool.connect();
    try {
      const result = await repack(pool, {
        table,
        swap: 'rename',
        waitTimeoutMs: 400,
        pausePoint: async (point: PausePoint) => {
          if (point !== 'matview-built') return;
          await pool.query(`INSERT INTO ${table} VALUES (1000, 1000)`);
          await blocker.query('BEGIN');
          await blocker.query(`SELECT count(*) FROM ${mv}`);
        },
      });
      const t = result.tables[0]!;
      expect(t).toMatchObject({ status: 'skipped', code: 'lock_timeout' });
      expect(t.message).toContain(`${table} was repacked, but materialized view ${mv} could not be rebuilt on it: could not lock ${mv}`);
      expect(t.cleanupHint).toContain('run pgtools-repack --cleanup');
      // Readable, with its contents from before the run.
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${mv}`)).rows[0].n).toBe(300);
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(301);
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
    }
    const report = await cleanupLeftovers(pool);
    expect(report.kept).toEqual([]);
    expect(await leftovers()).toEqual([]);
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${mv}`)).rows[0].n).toBe(301);
  });

  it('a matview dropped after the swap: its replacement goes too and the run ends repacked', async () => {
    const table = 'public.mv_dropped';
    await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, a int)`);
    await pool.query(`INSERT INTO ${table} SELECT g, g FROM generate_series(1, 100) g`);
    await pool.query(`CREATE MATERIALIZED VIEW public.mv_dropped_mv AS SELECT id FROM ${table}`);
    const result = await repack(pool, {
      table,
      swap: 'rename',
      pausePoint: async (point: PausePoint) => {
        if (point === 'matview-created') await pool.query('DROP MATERIALIZED VIEW public.mv_dropped_mv');
      },
    });
    expect(result.tables[0]).toMatchObject({ status: 'repacked' });
    expect(await leftovers()).toEqual([]);
  });

  it('--cleanup finishes a killed switch too', async () => {
    const table = 'public.mv_cleanup';
    await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
    await pool.query(`INSERT INTO ${table} SELECT g, g, 'v' || g, NULL FROM generate_series(1, 500) g`);
    await pool.query(`CREATE MATERIALIZED VIEW public.mv_cleanup_mv AS SELECT id, a FROM ${table}`);
    await killDuringWrites(pool, db.connectionString, table, 'matview-built', undefined, 'rename');
    const report = await cleanupLeftovers(pool);
    expect(report.kept).toEqual([]);
    expect(report.removed.join('; ')).toMatch(/materialized view public\.mv_cleanup_mv rebuilt/);
    expect(await leftovers()).toEqual([]);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM ((TABLE public.mv_cleanup_mv EXCEPT SELECT id, a FROM ${table}) UNION ALL (SELECT id, a FROM ${table} EXCEPT TABLE public.mv_cleanup_mv)) d`,
    );
    expect(rows[0].n).toBe(0);
  });
});

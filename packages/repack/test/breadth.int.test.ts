import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { makeTempDir, serverUser, startPostgres, waitFor, type PgCluster, type TempDir } from '@pgtools/testkit';
import { parseOrderBy, planRepack, repack, repackIndexes, type RepackEvent } from '../src/index.js';
import { diffTable, startWriter } from './workload.js';

let cluster: PgCluster;
let pool: pg.Pool;
const spcDirs: TempDir[] = [];

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-breadth', settings: { max_connections: 60 } });
  const db = await cluster.createDatabase();
  pool = db.pool({ max: 12 });
  await pool.query('CREATE EXTENSION IF NOT EXISTS amcheck');
});
afterAll(async () => {
  await cluster?.destroy();
  for (const d of spcDirs) d.remove();
});

async function filenode(rel: string): Promise<number> {
  const { rows } = await pool.query(`SELECT relfilenode::int8 AS f FROM pg_class WHERE oid = $1::regclass`, [rel]);
  return Number(rows[0].f);
}

/** Rows in physical (ctid) order must be sorted by `key` as well. */
async function physicallyOrdered(table: string, orderSql: string): Promise<boolean> {
  const { rows } = await pool.query(
    `SELECT bool_and(phys = logical) AS ok FROM (
       SELECT row_number() OVER (ORDER BY ctid) AS phys, row_number() OVER (ORDER BY ${orderSql}) AS logical FROM ${table}) s`,
  );
  return rows[0].ok === true;
}

async function bloatedTable(name: string, rows = 5000): Promise<void> {
  await pool.query(`CREATE TABLE ${name} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
  await pool.query(`INSERT INTO ${name} SELECT g, (g * 7919) % 1000, 'row ' || g, NULL FROM generate_series(1, $1::int) g`, [rows]);
}

describe('ordering', () => {
  it('parses --order-by and refuses anything that is not a column list', () => {
    expect(parseOrderBy('a DESC NULLS FIRST, "Mixed ""Case"""')).toEqual([{ column: 'a', descending: true, nulls: 'first' }, { column: 'Mixed "Case"' }]);
    expect(parseOrderBy('B asc')).toEqual([{ column: 'b' }]);
    for (const bad of ['a; DROP TABLE x', 'a DESC DESC', '(a)', 'a,', '', 'a NULLS']) expect(() => parseOrderBy(bad)).toThrow(/order-by/);
  });

  it('-o writes the pages in the given order, with concurrent writes', async () => {
    await bloatedTable('ord_o');
    expect(await physicallyOrdered('ord_o', 'a DESC, id')).toBe(false);
    const writer = startWriter(pool, 'ord_o', { nextId: 100_000, pauseMs: 5 });
    const result = await repack(pool, { table: 'ord_o', orderBy: 'a DESC, id', switchThreshold: 5, pausePoint: () => new Promise((r) => setTimeout(r, 100)) });
    await writer.stop();
    expect(result.tables[0]).toMatchObject({ status: 'repacked', orderBy: '"a" DESC, "id"' });
    expect(await diffTable(pool, 'ord_o', writer.expected)).toEqual([]);
    // Rows the writer changed during the run are re-inserted by the apply wherever there is room;
    // the rows it never touched were placed by the copy and must be in order.
    const untouched = `(SELECT ctid, * FROM ord_o WHERE a = (id * 7919) % 1000 AND b = 'row ' || id) t`;
    const { rows: n } = await pool.query(`SELECT count(*)::int AS n FROM ${untouched}`);
    expect(n[0].n).toBeGreaterThan(3000);
    expect(await physicallyOrdered(untouched, 'a DESC, id')).toBe(true);
  });

  it('orders by the CLUSTER index by default, not with -n, and refuses unknown columns before touching anything', async () => {
    await bloatedTable('ord_cluster');
    await pool.query('CREATE INDEX ord_cluster_a ON ord_cluster (a, id)');
    await pool.query('ALTER TABLE ord_cluster CLUSTER ON ord_cluster_a');
    const events: RepackEvent[] = [];
    const r1 = await repack(pool, { table: 'ord_cluster', onEvent: (e) => events.push(e) });
    expect(r1.tables[0]).toMatchObject({ status: 'repacked', orderBy: 'a, id' });
    expect(events).toContainEqual({ type: 'order', table: 'public.ord_cluster', orderBy: 'a, id', source: 'cluster-index' });
    expect(await physicallyOrdered('ord_cluster', 'a, id')).toBe(true);

    await pool.query('UPDATE ord_cluster SET a = 999 - a');
    const r2 = await repack(pool, { table: 'ord_cluster', orderBy: false });
    expect(r2.tables[0]!.status).toBe('repacked');
    expect(r2.tables[0]!.orderBy).toBeUndefined();
    expect(await physicallyOrdered('ord_cluster', 'a, id')).toBe(false);

    const before = await filenode('ord_cluster');
    const r3 = await repack(pool, { table: 'ord_cluster', orderBy: 'a, nope' });
    expect(r3.tables[0]).toMatchObject({ status: 'failed', code: 'invalid_order_by' });
    expect(r3.tables[0]!.message).toMatch(/no column "nope"/);
    expect(await filenode('ord_cluster')).toBe(before);
  });

  it('follows the CLUSTER index direction and NULLS placement', async () => {
    await bloatedTable('ord_desc');
    await pool.query('UPDATE ord_desc SET a = NULL WHERE id % 10 = 0');
    await pool.query('CREATE INDEX ord_desc_a ON ord_desc (a DESC NULLS LAST, id)');
    await pool.query('ALTER TABLE ord_desc CLUSTER ON ord_desc_a');
    const r = await repack(pool, { table: 'ord_desc' });
    expect(r.tables[0]).toMatchObject({ status: 'repacked', orderBy: 'a DESC NULLS LAST, id' });
    expect(await physicallyOrdered('ord_desc', 'a DESC NULLS LAST, id')).toBe(true);
  });
});

describe('many tables', () => {
  it('a schema run repacks the eligible tables and skips the ineligible ones with the reason (exit 3)', async () => {
    await pool.query('CREATE SCHEMA many');
    await pool.query('CREATE TABLE many.good1 (id int PRIMARY KEY, v text)');
    await pool.query('CREATE TABLE many.good2 (id int PRIMARY KEY, v text)');
    await pool.query('CREATE TABLE many.nokey (v text)');
    await pool.query('CREATE UNLOGGED TABLE many.unlogged (id int PRIMARY KEY)');
    await pool.query('CREATE TABLE many.parted (id int PRIMARY KEY) PARTITION BY RANGE (id)');
    await pool.query('CREATE TABLE many.parted_1 PARTITION OF many.parted FOR VALUES FROM (0) TO (1000)');
    await pool.query('CREATE TABLE other_schema_t (id int PRIMARY KEY)');
    const before = { good1: await filenode('many.good1'), other: await filenode('other_schema_t') };
    const result = await repack(pool, { schemas: ['many'] });
    const byName = Object.fromEntries(result.tables.map((t) => [t.table, t]));
    expect(Object.keys(byName).sort()).toEqual(['many.good1', 'many.good2', 'many.nokey', 'many.parted_1', 'many.unlogged']);
    expect(byName['many.good1']!.status).toBe('repacked');
    expect(byName['many.parted_1']!.status).toBe('repacked');
    expect(byName['many.nokey']).toMatchObject({ status: 'skipped', code: 'no_usable_key' });
    expect(byName['many.nokey']!.message).toMatch(/no primary key/);
    expect(byName['many.unlogged']).toMatchObject({ status: 'skipped', code: 'unlogged_table' });
    expect(result.exitCode).toBe(3);
    expect(await filenode('many.good1')).not.toBe(before.good1);
    expect(await filenode('other_schema_t')).toBe(before.other);
  });

  it("a caller's pool lends the same connection table after table: the run leaves no listener behind on it", async () => {
    const db = await cluster.createDatabase();
    const small = db.pool({ max: 3 });
    try {
      for (let i = 0; i < 12; i++) await small.query(`CREATE TABLE t${i} (id int PRIMARY KEY, v text); INSERT INTO t${i} VALUES (1, 'x')`);
      const result = await repack(small, { allTables: true });
      expect(result.tables.filter((t) => t.status === 'repacked')).toHaveLength(12);
      // Each phase's 'error' listener comes off when the connection goes back (Node warned of 11).
      const clients = await Promise.all([small.connect(), small.connect(), small.connect()]);
      for (const c of clients) expect(c.listenerCount('error')).toBeLessThanOrEqual(1);
      for (const c of clients) c.release();
    } finally {
      await small.end();
    }
  });

  it('-I takes a parent and its inheritors; -C leaves out tables of an extension; tables are listed once', async () => {
    await pool.query('CREATE TABLE inh_parent (id int PRIMARY KEY)');
    await pool.query('CREATE TABLE inh_child (id int PRIMARY KEY) INHERITS (inh_parent)');
    await pool.query('CREATE TABLE inh_grandchild (id int PRIMARY KEY) INHERITS (inh_child)');
    const r = await repack(pool, { parentTables: ['inh_parent'], tables: ['inh_child'] });
    expect(r.tables.map((t) => [t.table, t.status])).toEqual([
      ['public.inh_child', 'repacked'],
      ['public.inh_parent', 'repacked'],
      ['public.inh_grandchild', 'repacked'],
    ]);

    await pool.query('CREATE SCHEMA ext');
    await pool.query('CREATE TABLE ext.mine (id int PRIMARY KEY)');
    await pool.query('CREATE TABLE ext.belongs (id int PRIMARY KEY)');
    await pool.query('ALTER EXTENSION amcheck ADD TABLE ext.belongs');
    const r2 = await repack(pool, { schemas: ['ext'], excludeExtensions: ['amcheck'] });
    expect(r2.tables.map((t) => t.table)).toEqual(['ext.mine']);
    const r3 = await planRepack(pool, { schemas: ['ext'] });
    expect(r3.map((p) => p.table)).toEqual(['ext.belongs', 'ext.mine']);
    await pool.query('ALTER EXTENSION amcheck DROP TABLE ext.belongs');
  });
});

describe('indexes only', () => {
  it('rebuilds every index under concurrent writes: valid, heapallindexed, heap untouched', async () => {
    await bloatedTable('idx_only', 8000);
    await pool.query('CREATE INDEX idx_only_a ON idx_only (a)');
    await pool.query('CREATE UNIQUE INDEX idx_only_b ON idx_only (id, b)');
    await pool.query('DELETE FROM idx_only WHERE id % 2 = 0');
    const heapBefore = await filenode('idx_only');
    const idxBefore = { pkey: await filenode('idx_only_pkey'), a: await filenode('idx_only_a'), b: await filenode('idx_only_b') };
    const writer = startWriter(pool, 'idx_only', { nextId: 100_000, pauseMs: 2 });
    const result = await repackIndexes(pool, { table: 'idx_only' });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t.message ?? '').toBe('');
    expect(t).toMatchObject({ status: 'repacked', mode: 'indexes' });
    expect(t.indexesBuilt.sort()).toEqual(['idx_only_a', 'idx_only_b', 'idx_only_pkey']);
    expect(result.exitCode).toBe(0);
    expect(writer.errors).toEqual([]);
    expect(await filenode('idx_only')).toBe(heapBefore);
    expect(await filenode('idx_only_pkey')).not.toBe(idxBefore.pkey);
    expect(await filenode('idx_only_a')).not.toBe(idxBefore.a);
    expect(await filenode('idx_only_b')).not.toBe(idxBefore.b);
    const { rows } = await pool.query(`SELECT indexrelid::regclass::text AS idx, indisvalid FROM pg_index WHERE indrelid = 'idx_only'::regclass ORDER BY 1`);
    expect(rows.map((r) => [r.idx, r.indisvalid])).toEqual([
      ['idx_only_a', true],
      ['idx_only_b', true],
      ['idx_only_pkey', true],
    ]);
    for (const r of rows) await pool.query(`SELECT bt_index_check($1::regclass, true)`, [r.idx]);
    expect(await diffTable(pool, 'idx_only', writer.expected)).toEqual([]);
  });

  it('-i rebuilds one index; leftovers of an interrupted REINDEX CONCURRENTLY are dropped and reported', async () => {
    await bloatedTable('idx_one', 2000);
    await pool.query('CREATE INDEX idx_one_a ON idx_one (a)');
    // Interrupt a REINDEX CONCURRENTLY: a transaction holding a snapshot makes it wait; cancel it there.
    const blocker = await pool.connect();
    const victim = await pool.connect();
    try {
      await blocker.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await blocker.query('SELECT count(*) FROM idx_one');
      const { rows: vp } = await victim.query('SELECT pg_backend_pid() AS pid');
      const reindex = victim.query('REINDEX INDEX CONCURRENTLY idx_one_a').catch((e: Error) => e);
      await waitFor(async () => (await pool.query(`SELECT 1 FROM pg_class WHERE relname = 'idx_one_a_ccnew'`)).rows.length > 0, {
        timeoutMs: 5000,
        intervalMs: 50,
        describe: () => 'REINDEX CONCURRENTLY to create idx_one_a_ccnew',
      });
      await pool.query('SELECT pg_cancel_backend($1)', [vp[0].pid]);
      expect(await reindex).toBeInstanceOf(Error);
      await blocker.query('COMMIT');
    } finally {
      blocker.release();
      victim.release();
    }
    const { rows: left } = await pool.query(`SELECT relname FROM pg_class WHERE relname LIKE 'idx_one_a_cc%'`);
    expect(left.map((r) => r.relname)).toEqual(['idx_one_a_ccnew']);
    const pkeyBefore = await filenode('idx_one_pkey');
    const aBefore = await filenode('idx_one_a');
    const result = await repackIndexes(pool, { indexes: ['idx_one_a'] });
    expect(result.tables[0]).toMatchObject({
      table: 'public.idx_one',
      status: 'repacked',
      indexesBuilt: ['idx_one_a'],
      indexLeftoversDropped: ['public.idx_one_a_ccnew'],
    });
    expect(await filenode('idx_one_a')).not.toBe(aBefore);
    expect(await filenode('idx_one_pkey')).toBe(pkeyBefore);
    const { rows: after } = await pool.query(`SELECT relname FROM pg_class WHERE relname LIKE 'idx_one_a_cc%'`);
    expect(after).toEqual([]);
  });

  it('shares the advisory lock with a full repack: an index rebuild during a repack is skipped', async () => {
    await bloatedTable('idx_vs_full', 2000);
    let inner: Awaited<ReturnType<typeof repackIndexes>> | undefined;
    const full = await repack(pool, {
      table: 'idx_vs_full',
      pausePoint: async (point) => {
        if (point === 'after-copy') inner = await repackIndexes(pool, { table: 'idx_vs_full' });
      },
    });
    expect(full.tables[0]!.status).toBe('repacked');
    expect(inner!.tables[0]).toMatchObject({ status: 'skipped', code: 'repack_running' });
    expect(inner!.exitCode).toBe(3);
  });
});

describe('rename swap planned before its lock', () => {
  it('plans again when a GRANT lands between the plan and the lock, and the new table carries it', async () => {
    await bloatedTable('replan_me', 2000);
    await pool.query(`DO $$ BEGIN CREATE ROLE late_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    const planned: number[] = [];
    const result = await repack(pool, {
      table: 'replan_me',
      swap: 'rename',
      pausePoint: async (point) => {
        if (point !== 'swap-planned') return;
        planned.push(Date.now());
        // GRANT takes no lock on the table: nothing but the plan's check under the lock can see it.
        if (planned.length === 1) await pool.query('GRANT SELECT ON replan_me TO late_reader');
      },
    });
    expect(result.tables[0]!.message ?? '').toBe('');
    expect(result.tables[0]!.status).toBe('repacked');
    expect(planned).toHaveLength(2);
    const { rows } = await pool.query(`SELECT has_table_privilege('late_reader', 'replan_me', 'SELECT') AS r`);
    expect(rows[0].r).toBe(true);
  });
});

describe('bloat-aware selection and the dry run', () => {
  it('--if-bloated repacks only tables above the threshold (statistics, then pgstattuple); others count as done', async () => {
    await pool.query('CREATE SCHEMA bloat');
    await pool.query(`CREATE TABLE bloat.fat (id int PRIMARY KEY, v text)`);
    await pool.query(`CREATE TABLE bloat.lean (id int PRIMARY KEY, v text)`);
    for (const t of ['bloat.fat', 'bloat.lean']) await pool.query(`INSERT INTO ${t} SELECT g, repeat('x', 80) FROM generate_series(1, 20000) g`);
    await pool.query('DELETE FROM bloat.fat WHERE id % 4 <> 0');
    await pool.query('VACUUM ANALYZE bloat.fat');
    await pool.query('VACUUM ANALYZE bloat.lean');
    const plans = await planRepack(pool, { schemas: ['bloat'], ifBloatedPct: 30 });
    expect(plans.map((p) => [p.table, p.bloat.method, p.selected])).toEqual([
      ['bloat.fat', 'statistics', true],
      ['bloat.lean', 'statistics', false],
    ]);
    expect(plans[0]!.bloat.reclaimablePct).toBeGreaterThan(50);
    expect(plans[1]!.bloat.reclaimablePct).toBeLessThan(15);
    expect(plans[0]!.bloat.note).toMatch(/pgstattuple extension is not installed/);

    const leanBefore = await filenode('bloat.lean');
    const r = await repack(pool, { schemas: ['bloat'], ifBloatedPct: 30 });
    expect(r.tables.map((t) => [t.table, t.status])).toEqual([
      ['bloat.fat', 'repacked'],
      ['bloat.lean', 'filtered'],
    ]);
    expect(r.tables[1]!.code).toBe('below_bloat_threshold');
    expect(r.exitCode).toBe(0);
    expect(await filenode('bloat.lean')).toBe(leanBefore);

    await pool.query('CREATE EXTENSION pgstattuple');
    await pool.query('DELETE FROM bloat.lean WHERE id % 2 = 0');
    const r2 = await repack(pool, { table: 'bloat.lean', ifBloatedPct: 30 });
    expect(r2.tables[0]!.bloat).toMatchObject({ method: 'pgstattuple' });
    expect(r2.tables[0]!.bloat!.reclaimablePct).toBeGreaterThan(40);
    expect(r2.tables[0]!.status).toBe('repacked');
    const r3 = await repack(pool, { table: 'bloat.lean', ifBloatedPct: 30 });
    expect(r3.tables[0]).toMatchObject({ status: 'filtered', code: 'below_bloat_threshold' });
    expect(r3.tables[0]!.bloat!.reclaimablePct).toBeLessThan(10);
    await pool.query('DROP EXTENSION pgstattuple');
  });

  it('the dry run reports order, bloat and what the disk check looked at, changing nothing', async () => {
    const before = await filenode('ord_cluster');
    const [plan] = await planRepack(pool, { table: 'ord_cluster' });
    expect(plan!.orderBy).toBe('a, id');
    expect(plan!.disk.method).toBe('statfs');
    expect(plan!.disk.freeBytes).toBeGreaterThan(0);
    expect(plan!.disk.ok).toBe(true);
    expect(await filenode('ord_cluster')).toBe(before);
  });
});

describe('jobs and tablespaces', () => {
  it('-j builds the indexes over several connections', async () => {
    await bloatedTable('jobs_t', 4000);
    for (const c of ['a', 'b', 'c']) await pool.query(`CREATE INDEX jobs_t_${c} ON jobs_t (${c === 'c' ? 'a, b' : c})`);
    // Hold back every index build with a lock on the shadow table, and count the sessions queued behind it.
    let waiting: Promise<number> | undefined;
    const result = await repack(pool, {
      table: 'jobs_t',
      jobs: 3,
      pausePoint: async (point) => {
        if (point !== 'after-copy') return;
        const { rows } = await pool.query(`SELECT 'pgtools.table_' || 'jobs_t'::regclass::oid AS shadow`);
        const holder = await pool.connect();
        await holder.query('BEGIN');
        await holder.query(`LOCK TABLE ${rows[0].shadow} IN ROW EXCLUSIVE MODE`);
        waiting = (async () => {
          let max = 0;
          try {
            for (let i = 0; i < 100 && max < 3; i++) {
              const { rows: w } = await pool.query(`SELECT count(DISTINCT pid)::int AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted`, [
                rows[0].shadow,
              ]);
              max = Math.max(max, w[0].n);
              await new Promise((r) => setTimeout(r, 50));
            }
          } finally {
            await holder.query('COMMIT');
            holder.release();
          }
          return max;
        })();
      },
    });
    expect(await waiting).toBe(3);
    expect(result.tables[0]!.status).toBe('repacked');
    expect(result.tables[0]!.indexesBuilt.sort()).toEqual(['jobs_t_a', 'jobs_t_b', 'jobs_t_c', 'jobs_t_pkey']);
    expect(await pool.query(`SELECT count(*)::int AS n FROM jobs_t`).then((r) => r.rows[0].n)).toBe(4000);
    for (const i of ['jobs_t_a', 'jobs_t_b', 'jobs_t_c', 'jobs_t_pkey']) await pool.query(`SELECT bt_index_check($1::regclass, true)`, [i]);
  });

  it.each(['catalog', 'rename'] as const)('-s moves the table, -S its indexes too (--swap=%s)', async (swap) => {
    const dir = await makeTempDir(`repack-spc-${swap}`, serverUser());
    spcDirs.push(dir);
    await pool.query(`CREATE TABLESPACE spc_${swap} LOCATION '${dir.path.replace(/'/g, "''")}'`);
    const t = `spc_t_${swap}`;
    await bloatedTable(t, 2000);
    const r1 = await repack(pool, { table: t, swap, tablespace: `spc_${swap}` });
    expect(r1.tables[0]!.status).toBe('repacked');
    const where = async (): Promise<Record<string, string | null>> => {
      const { rows } = await pool.query(
        `SELECT c.relname, ts.spcname FROM pg_class c LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
          WHERE c.oid = $1::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1::regclass)`,
        [t],
      );
      return Object.fromEntries(rows.map((r) => [r.relname, r.spcname]));
    };
    expect(await where()).toEqual({ [t]: `spc_${swap}`, [`${t}_pkey`]: null });
    const r2 = await repack(pool, { table: t, swap, tablespace: `spc_${swap}`, moveIndexes: true });
    expect(r2.tables[0]!.status).toBe('repacked');
    expect(await where()).toEqual({ [t]: `spc_${swap}`, [`${t}_pkey`]: `spc_${swap}` });
    expect(await pool.query(`SELECT count(*)::int AS n FROM ${t}`).then((r) => r.rows[0].n)).toBe(2000);
    const r3 = await repack(pool, { table: t, swap, tablespace: 'no_such_space' });
    expect(r3.tables[0]).toMatchObject({ status: 'failed', code: 'tablespace_not_found' });
  });
});

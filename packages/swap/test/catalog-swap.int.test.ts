import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { PgToolsError, quoteIdent, quoteQualified } from '@pgtools/core';
import { catalogSwap, dropShadow, type RelationName } from '../src/index.js';
import { buildCatalogShadow, contentMd5 } from './shadow-helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'swap-catalog' });
  db = await cluster.createDatabase();
  pool = db.pool();
  await pool.query('CREATE EXTENSION amcheck');
  await pool.query('CREATE SCHEMA pgtools');
  await pool.query('CREATE ROLE app_owner LOGIN');
});
afterAll(async () => {
  await cluster?.destroy();
});

async function oidOf(client: pg.ClientBase | pg.Pool, rel: RelationName): Promise<number> {
  const { rows } = await client.query<{ oid: string }>(
    'SELECT c.oid::int8 AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
    [rel.schema, rel.name],
  );
  return Number(rows[0]!.oid);
}

/** amcheck: heap with TOAST, every btree index with heapallindexed. Returns problems found. */
async function amcheck(client: pg.Pool, table: string): Promise<string[]> {
  const problems: string[] = [];
  const heap = await client.query(`SELECT * FROM verify_heapam($1::regclass, check_toast => true)`, [table]);
  for (const r of heap.rows) problems.push(JSON.stringify(r));
  const { rows: idx } = await client.query<{ idx: string }>(
    `SELECT i.indexrelid::regclass::text AS idx FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      WHERE i.indrelid = $1::regclass AND am.amname = 'btree'`,
    [table],
  );
  expect(idx.length).toBeGreaterThan(0);
  for (const r of idx) await client.query('SELECT bt_index_check($1::regclass, heapallindexed => true)', [r.idx]);
  return problems;
}

async function swapInTransaction(original: RelationName, shadow: RelationName, pairs: Parameters<typeof catalogSwap>[1]['indexPairs']) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`LOCK TABLE ${quoteQualified(original.schema, original.name)}, ${quoteQualified(shadow.schema, shadow.name)} IN ACCESS EXCLUSIVE MODE`);
    const result = await catalogSwap(client, { original, shadow, indexPairs: pairs });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

describe('catalogSwap', () => {
  it('swaps heap, TOAST and indexes; the table keeps its OID, dependents and cached plans', async () => {
    const original = { schema: 'app data', name: 'Ord"ers' };
    const shadow = { schema: 'pgtools', name: 'table_orders' };
    const T = quoteQualified(original.schema, original.name);
    await pool.query(`CREATE SCHEMA ${quoteIdent(original.schema)}`);
    await pool.query(`CREATE TABLE ${T} (id int PRIMARY KEY, gone text, payload text NOT NULL, n int, "Note" text)`);
    await pool.query(`CREATE INDEX ${quoteIdent('by n')} ON ${T} (n) WHERE n > 10`);
    await pool.query(`CREATE UNIQUE INDEX ${quoteIdent('by md5')} ON ${T} (md5(payload))`);
    // Random hex of 5 kB does not compress below the TOAST threshold, so every payload is stored out of line.
    await pool.query(
      `INSERT INTO ${T} SELECT g, repeat('x', 3000), (SELECT string_agg(md5(random()::text || i || g), '') FROM generate_series(1, 160) i), g % 50, 'note ' || g
         FROM generate_series(1, 300) g`,
    );
    await pool.query(`ALTER TABLE ${T} DROP COLUMN gone`);
    const { rows: toastRows } = await pool.query(
      `SELECT count(*)::int AS n FROM pg_class c WHERE c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = $1::regclass)`,
      [T],
    );
    expect(toastRows[0].n).toBe(1);
    await pool.query(`CREATE VIEW ${quoteQualified(original.schema, 'v')} AS SELECT id, n FROM ${T} WHERE n > 0`);
    await pool.query(`CREATE TABLE ${quoteQualified(original.schema, 'child')} (id int PRIMARY KEY, order_id int REFERENCES ${T}(id))`);
    await pool.query(`INSERT INTO ${quoteQualified(original.schema, 'child')} VALUES (1, 1)`);

    const setup = await pool.connect();
    const pairs = await buildCatalogShadow(setup, original, shadow);
    setup.release();
    expect(pairs).toHaveLength(3);
    const S = quoteQualified(shadow.schema, shadow.name);
    // The shadow diverges from the original so that reading it proves which file the table reads.
    await pool.query(`UPDATE ${S} SET n = n + 1000, payload = payload || 'shadow' WHERE id % 3 = 0`);
    const { rows: toastCount } = await pool.query(`SELECT count(*)::int AS n FROM pg_toast.${quoteIdent(`pg_toast_${await oidOf(pool, shadow)}`)}`);
    expect(toastCount[0].n).toBeGreaterThan(300);
    const expected = await contentMd5(pool, S, 't.id');
    const before = await contentMd5(pool, T, 't.id');
    expect(expected.md5).not.toBe(before.md5);

    const tableOid = await oidOf(pool, original);
    const { rows: fn } = await pool.query('SELECT relfilenode FROM pg_class WHERE oid = $1', [tableOid]);
    const { rows: sfn } = await pool.query('SELECT relfilenode FROM pg_class WHERE oid = $1::regclass', [S]);

    // A session that had the table cached in a prepared plan before the swap.
    const cached = new pg.Client(db.config);
    await cached.connect();
    await cached.query(`PREPARE q AS SELECT md5(COALESCE(string_agg(t::text, E'\\n' ORDER BY t.id), '')) AS md5 FROM ${T} t`);
    expect((await cached.query('EXECUTE q')).rows[0].md5).toBe(before.md5);

    const result = await swapInTransaction(original, shadow, pairs);
    expect(result).toMatchObject({ tableOid, indexes: 3, toast: 'both' });

    expect(await oidOf(pool, original)).toBe(tableOid);
    const { rows: after } = await pool.query('SELECT relfilenode FROM pg_class WHERE oid = $1', [tableOid]);
    expect(after[0].relfilenode).not.toBe(fn[0].relfilenode);
    expect(after[0].relfilenode).toBe(sfn[0].relfilenode);
    expect(await contentMd5(pool, T, 't.id')).toEqual(expected);
    expect((await cached.query('EXECUTE q')).rows[0].md5).toBe(expected.md5);
    expect(await amcheck(pool, T)).toEqual([]);
    // TOAST naming and dependency follow the owner.
    const { rows: toast } = await pool.query(
      `SELECT t.relname, d.refobjid::int8 AS owner FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid
         JOIN pg_depend d ON d.objid = t.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'i'
        WHERE c.oid = $1`,
      [tableOid],
    );
    expect(toast).toEqual([{ relname: `pg_toast_${tableOid}`, owner: String(tableOid) }]);

    await dropShadow(pool, shadow);
    expect(await contentMd5(pool, T, 't.id')).toEqual(expected);
    expect((await cached.query('EXECUTE q')).rows[0].md5).toBe(expected.md5);
    expect(await amcheck(pool, T)).toEqual([]);
    await cached.end();

    // Index scans use the swapped index files.
    const c = await pool.connect();
    try {
      await c.query('SET enable_seqscan = off');
      const { rows: viaIndex } = await c.query(`SELECT count(*)::int AS n FROM ${T} WHERE n >= 1000`);
      expect(viaIndex[0].n).toBe(100);
      const { rows: viaMd5 } = await c.query(`SELECT id FROM ${T} WHERE md5(payload) = (SELECT md5(payload) FROM ${T} WHERE id = 42)`);
      expect(viaMd5).toEqual([{ id: 42 }]);
    } finally {
      c.release();
    }
    // The view and the foreign key still work on the same OID.
    const { rows: view } = await pool.query(`SELECT count(*)::int AS n FROM ${quoteQualified(original.schema, 'v')} WHERE n >= 1000`);
    expect(view[0].n).toBe(100);
    await pool.query(`INSERT INTO ${quoteQualified(original.schema, 'child')} VALUES (2, 300)`);
    await expect(pool.query(`INSERT INTO ${quoteQualified(original.schema, 'child')} VALUES (3, 301)`)).rejects.toThrow(/foreign key/);
    await expect(pool.query(`DELETE FROM ${T} WHERE id = 1`)).rejects.toThrow(/foreign key/);
    // Writes keep working through TOAST and indexes.
    await pool.query(`UPDATE ${T} SET payload = payload || 'again' WHERE id <= 10`);
    await pool.query('VACUUM FULL ' + T);
    expect(await amcheck(pool, T)).toEqual([]);
  });

  it.each([
    ['the shadow has no TOAST table', 'shadow-none'],
    ['the original has no TOAST table', 'original-none'],
  ])('handles a missing TOAST table when %s', async (_label, variant) => {
    const original = { schema: 'public', name: `t_${variant.replace('-', '_')}` };
    const shadow = { schema: 'pgtools', name: `s_${variant.replace('-', '_')}` };
    const T = quoteQualified(original.schema, original.name);
    if (variant === 'shadow-none') {
      // The dropped text column leaves the original with a TOAST table; the int placeholder gives the shadow none.
      await pool.query(`CREATE TABLE ${T} (id int PRIMARY KEY, big text, n int)`);
      await pool.query(
        `INSERT INTO ${T} SELECT g, (SELECT string_agg(md5(random()::text || i || g), '') FROM generate_series(1, 100) i), g FROM generate_series(1, 50) g`,
      );
      await pool.query(`ALTER TABLE ${T} DROP COLUMN big`);
    } else {
      // LIKE copies PLAIN storage, and a table whose columns are all PLAIN gets no TOAST table.
      await pool.query(`CREATE TABLE public.plain_template (id int, v text)`);
      await pool.query(`ALTER TABLE public.plain_template ALTER COLUMN v SET STORAGE PLAIN`);
      await pool.query(`CREATE TABLE ${T} (LIKE public.plain_template INCLUDING STORAGE)`);
      await pool.query(`ALTER TABLE ${T} ADD PRIMARY KEY (id)`);
      await pool.query(`INSERT INTO ${T} SELECT g, 'v' || g FROM generate_series(1, 50) g`);
    }
    const setup = await pool.connect();
    const pairs = await buildCatalogShadow(setup, original, shadow);
    setup.release();
    const S = quoteQualified(shadow.schema, shadow.name);
    const { rows: sides } = await pool.query(
      `SELECT (SELECT reltoastrelid <> 0 FROM pg_class WHERE oid = $1::regclass) AS t, (SELECT reltoastrelid <> 0 FROM pg_class WHERE oid = $2::regclass) AS s`,
      [T, S],
    );
    expect(sides[0]).toEqual(variant === 'shadow-none' ? { t: true, s: false } : { t: false, s: true });
    await pool.query(`UPDATE ${S} SET id = id + 1000`);
    const expected = await contentMd5(pool, S, 't.id');
    const result = await swapInTransaction(original, shadow, pairs);
    expect(result.toast).toBe(variant === 'shadow-none' ? 'original' : 'shadow');
    expect(await contentMd5(pool, T, 't.id')).toEqual(expected);
    await dropShadow(pool, shadow);
    expect(await contentMd5(pool, T, 't.id')).toEqual(expected);
    expect(await amcheck(pool, T)).toEqual([]);
    // Dropping the shadow took its TOAST table (the original's old one) along: no orphan is left behind.
    const { rows: orphans } = await pool.query(
      `SELECT t.relname FROM pg_class t WHERE t.relkind = 't' AND NOT EXISTS (SELECT 1 FROM pg_class o WHERE o.reltoastrelid = t.oid)`,
    );
    expect(orphans).toEqual([]);
    if (variant === 'original-none') {
      const { rows } = await pool.query(`SELECT t.relname FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = $1::regclass`, [T]);
      expect(rows).toEqual([{ relname: `pg_toast_${await oidOf(pool, original)}` }]);
      await pool.query(`INSERT INTO ${T} VALUES (5000, 'after')`);
    }
  });

  it('keeps NOT NULL constraints (named, NO INHERIT, NOT VALID on PostgreSQL 18) with the table OID, where they stay in force', async () => {
    const original = { schema: 'public', name: 'nn' };
    const shadow = { schema: 'pgtools', name: 'nn_shadow' };
    await pool.query('CREATE TABLE public.nn (id bigint PRIMARY KEY, v text, n int CONSTRAINT n_named NOT NULL, w int)');
    await pool.query(`INSERT INTO public.nn SELECT g, 'v' || g, g, CASE WHEN g % 2 = 0 THEN g END FROM generate_series(1, 500) g`);
    if (cluster.version >= 18) {
      await pool.query('ALTER TABLE public.nn ADD CONSTRAINT w_nn NOT NULL w NOT VALID');
      await pool.query('ALTER TABLE public.nn ADD CONSTRAINT v_nn NOT NULL v NO INHERIT');
      await pool.query(`COMMENT ON CONSTRAINT n_named ON public.nn IS 'n stays set'`);
    }
    await pool.query('DELETE FROM public.nn WHERE id % 3 = 0');
    const state = async () => ({
      constraints: (
        await pool.query(`SELECT oid::int8 AS oid, conname, contype::text, convalidated, connoinherit, pg_get_constraintdef(oid) AS def,
                                 obj_description(oid, 'pg_constraint') AS comment
                            FROM pg_constraint WHERE conrelid = 'public.nn'::regclass ORDER BY conname`)
      ).rows,
      notNull: (await pool.query(`SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'public.nn'::regclass AND attnum > 0 ORDER BY attnum`)).rows,
      content: await contentMd5(pool, 'public.nn', 'id'),
    });
    const before = await state();
    const setup = await pool.connect();
    const pairs = await buildCatalogShadow(setup, original, shadow).finally(() => setup.release());
    await swapInTransaction(original, shadow, pairs);
    expect(await state()).toEqual(before);
    await expect(pool.query(`INSERT INTO public.nn (id, v, n, w) VALUES (1000, 'x', NULL, 1)`)).rejects.toMatchObject({ code: '23502' });
    if (cluster.version >= 18) {
      await expect(pool.query(`INSERT INTO public.nn (id, v, n, w) VALUES (1000, 'x', 1, NULL)`)).rejects.toMatchObject({ code: '23502' });
      await expect(pool.query(`INSERT INTO public.nn (id, v, n, w) VALUES (1000, NULL, 1, 1)`)).rejects.toMatchObject({ code: '23502' });
    }
    expect(await amcheck(pool, 'public.nn')).toEqual([]);
    await dropShadow(pool, shadow);
  });

  it('refuses a non-superuser with catalog_swap_requires_superuser', async () => {
    await pool.query('CREATE TABLE public.owned (id int PRIMARY KEY)');
    await pool.query('ALTER TABLE public.owned OWNER TO app_owner');
    await pool.query('CREATE TABLE pgtools.owned_shadow (id int)');
    await pool.query('ALTER TABLE pgtools.owned_shadow OWNER TO app_owner');
    await pool.query('GRANT USAGE ON SCHEMA pgtools TO app_owner');
    const client = new pg.Client({ ...db.config, user: 'app_owner' });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('LOCK TABLE public.owned, pgtools.owned_shadow IN ACCESS EXCLUSIVE MODE');
      const err = await catalogSwap(client, {
        original: { schema: 'public', name: 'owned' },
        shadow: { schema: 'pgtools', name: 'owned_shadow' },
        indexPairs: [],
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PgToolsError);
      expect((err as PgToolsError).code).toBe('catalog_swap_requires_superuser');
      expect((err as PgToolsError).message).toContain('--swap=rename');
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  it('refuses with swap_precondition when locks, columns or index pairs do not match', async () => {
    const original = { schema: 'public', name: 'pre' };
    const shadow = { schema: 'pgtools', name: 'pre_shadow' };
    await pool.query('CREATE TABLE public.pre (id int PRIMARY KEY, a text, b int)');
    await pool.query('CREATE INDEX pre_b ON public.pre (b)');
    const setup = await pool.connect();
    const pairs = await buildCatalogShadow(setup, original, shadow);
    setup.release();
    const attempt = async (lock: string, indexPairs: typeof pairs, before?: string) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        if (before) await client.query(before);
        await client.query(lock);
        return await catalogSwap(client, { original, shadow, indexPairs }).catch((e: unknown) => e as PgToolsError);
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    };
    const both = 'LOCK TABLE public.pre, pgtools.pre_shadow IN ACCESS EXCLUSIVE MODE';
    const noShadowLock = await attempt('LOCK TABLE public.pre IN ACCESS EXCLUSIVE MODE', pairs);
    expect(noShadowLock).toMatchObject({ code: 'swap_precondition' });
    expect((noShadowLock as PgToolsError).message).toContain('pre_shadow');
    const shareOnly = await attempt('LOCK TABLE public.pre, pgtools.pre_shadow IN SHARE MODE', pairs);
    expect(shareOnly).toMatchObject({ code: 'swap_precondition' });
    const missingPair = await attempt(both, pairs.slice(0, 1));
    expect(missingPair).toMatchObject({ code: 'swap_precondition' });
    expect((missingPair as PgToolsError).message).toMatch(/has no copy/);
    const swapped = await attempt(both, [
      { original: pairs[0]!.original, shadow: pairs[1]!.shadow },
      { original: pairs[1]!.original, shadow: pairs[0]!.shadow },
    ]);
    expect(swapped).toMatchObject({ code: 'swap_precondition' });
    const renamedColumn = await attempt(both, pairs, 'ALTER TABLE pgtools.pre_shadow RENAME COLUMN a TO z');
    expect(renamedColumn).toMatchObject({ code: 'swap_precondition' });
    expect((renamedColumn as PgToolsError).message).toContain('"z"');
    const retyped = await attempt(both, pairs, 'ALTER TABLE pgtools.pre_shadow ALTER COLUMN b TYPE bigint');
    expect(retyped).toMatchObject({ code: 'swap_precondition' });
    // Nothing was changed by the refusals.
    const ok = await attempt(both, pairs);
    expect(ok).toMatchObject({ indexes: 2 });
  });
});

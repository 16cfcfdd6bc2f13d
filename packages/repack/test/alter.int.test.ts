import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { planRepack, repack, type RepackResult } from '../src/index.js';
import { diffTable, startWriter } from './workload.js';
import { killDuringWrites, PAUSE_POINTS } from './child-run.js';
import { alterHelpers, expectRepackedUnderWriter, slow } from './alter-helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-alter', settings: { max_connections: 50 } });
  db = await cluster.createDatabase();
  pool = db.pool({ max: 12 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const { createTable, columnTypes, leftovers } = alterHelpers(() => pool);

describe('repack --alter', () => {
  it('changes an int primary key to bigint under a concurrent writer, with a foreign key pointing at it and a view over other columns', async () => {
    const q = await createTable('orders', 20_000);
    // Cascades, so the writer's key changes and deletes keep the references whole.
    await pool.query(`CREATE TABLE public.order_notes (note_id int PRIMARY KEY, order_id int REFERENCES ${q} (id) ON UPDATE CASCADE ON DELETE CASCADE)`);
    await pool.query(`INSERT INTO public.order_notes SELECT g, g FROM generate_series(1, 2000) g`);
    await pool.query(`CREATE VIEW public.order_texts AS SELECT a, b FROM ${q}`);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const started = Date.now();
    const result = await repack(pool, {
      table: q,
      alter: ['ALTER COLUMN id TYPE bigint'],
      switchThreshold: 5,
      applyBatchSize: 50,
      copyChunkPages: 8,
      pausePoint: slow,
    });
    const ended = Date.now();
    await writer.stop();
    const t = result.tables[0]!;
    expect(t.message ?? '').toBe('');
    expect(t.status).toBe('repacked');
    expect(t.swap).toBe('rename');
    expect(writer.errors).toEqual([]);
    expect(writer.commits.filter((c) => c > started && c < ended).length).toBeGreaterThan(10);
    expect(t.log.entries).toBeGreaterThan(0);
    expect(await diffTable(pool, q, writer.expected)).toEqual([]);
    expect(await columnTypes(q)).toEqual({ id: 'bigint', a: 'integer', b: 'text', c: 'jsonb', extra: 'text' });
    expect(t.alter?.find((m) => m.column === 'id')).toMatchObject({ change: 'retyped', oldType: 'integer', newType: 'bigint' });
    // The primary key and the other index came along, valid, on the new column type.
    const { rows: idx } = await pool.query(
      `SELECT indexrelid::regclass::text AS name, indisprimary, indisvalid FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`,
      [q],
    );
    expect(idx.map((i) => [i.name, i.indisprimary, i.indisvalid])).toEqual([
      ['orders_a_idx', false, true],
      ['orders_pkey', true, true],
    ]);
    await pool.query(`INSERT INTO ${q} (id) VALUES (5000000000)`);
    // The foreign key was added again on the new table and validated after the swap.
    const { rows: fk } = await pool.query(
      `SELECT confrelid::regclass::text AS target, convalidated FROM pg_constraint WHERE conrelid = 'public.order_notes'::regclass AND contype = 'f'`,
    );
    expect(fk).toEqual([{ target: 'orders', convalidated: true }]);
    const { rows: orphans } = await pool.query(
      `SELECT count(*)::int AS n FROM public.order_notes n WHERE NOT EXISTS (SELECT 1 FROM ${q} o WHERE o.id = n.order_id)`,
    );
    expect(orphans[0].n).toBe(0);
    await expect(pool.query(`INSERT INTO public.order_notes VALUES (999999, 123456789)`)).rejects.toThrow(/foreign key/);
    const { rows: viewRows } = await pool.query(`SELECT count(*)::int AS n FROM public.order_texts`);
    expect(viewRows[0].n).toBe(writer.expected.size + 1);
    expect(await leftovers()).toEqual([]);
  });

  it('adds a column with a constant default, drops another and sets a new default, under a concurrent writer', async () => {
    const q = await createTable('items', 5_000);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, {
      table: q,
      alter: [`ADD COLUMN "Flag" boolean DEFAULT true NOT NULL`, 'DROP COLUMN extra', 'ALTER COLUMN a SET DEFAULT 40 + 2'],
      switchThreshold: 5,
      applyBatchSize: 50,
      pausePoint: slow,
    });
    await writer.stop();
    const t = result.tables[0]!;
    expect(t.message ?? '').toBe('');
    expect(t.status).toBe('repacked');
    expect(writer.errors).toEqual([]);
    expect(await diffTable(pool, q, writer.expected)).toEqual([]);
    expect(await columnTypes(q)).toEqual({ id: 'integer', a: 'integer', b: 'text', c: 'jsonb', Flag: 'boolean' });
    const { rows } = await pool.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE "Flag")::int AS flagged FROM ${q}`);
    expect(rows[0].n).toBe(writer.expected.size);
    expect(rows[0].flagged).toBe(rows[0].n);
    const { rows: fresh } = await pool.query(`INSERT INTO ${q} (id) VALUES (999999) RETURNING a, "Flag"`);
    expect(fresh[0]).toEqual({ a: 42, Flag: true });
    expect(t.alter?.find((m) => m.column === 'a')).toMatchObject({ change: 'kept', newDefault: '40 + 2' });
    // PostgreSQL 18 names NOT NULL constraints: the added column's is named as on the table, not as on the shadow.
    const { rows: named } = await pool.query(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'n' ORDER BY conname`, [q]);
    const { rows: version } = await pool.query<{ n: number }>("SELECT current_setting('server_version_num')::int AS n");
    expect(named.map((r) => r.conname)).toEqual((version[0]?.n ?? 0) >= 180000 ? ['items_Flag_not_null', 'items_id_not_null'] : []);
    expect(await leftovers()).toEqual([]);
  });

  it('fails a conversion that does not parse with the key of the first bad row, leaving the table intact and nothing behind', async () => {
    await pool.query(`CREATE TABLE public.conv (id int PRIMARY KEY, v text)`);
    await pool.query(`INSERT INTO public.conv SELECT g, CASE WHEN g = 77 THEN 'x77' ELSE g::text END FROM generate_series(1, 2000) g`);
    const result = await repack(pool, { table: 'public.conv', alter: ['ALTER COLUMN v TYPE int USING v::int'] });
    const t = result.tables[0]!;
    expect(t.status).toBe('failed');
    expect(t.code).toBe('alter_conversion_failed');
    expect(t.message).toContain('{"id" : 77}');
    expect(t.message).toContain('x77');
    expect(result.exitCode).toBe(1);
    expect(await columnTypes('public.conv')).toEqual({ id: 'integer', v: 'text' });
    const { rows } = await pool.query(`SELECT count(*)::int AS n, max(v) FILTER (WHERE id = 77) AS bad FROM public.conv`);
    expect(rows[0]).toEqual({ n: 2000, bad: 'x77' });
    expect(await leftovers()).toEqual([]);
  });

  it('fails the log apply on a bad value written during the run, with its key, leaving the table intact and nothing behind', async () => {
    await pool.query(`CREATE TABLE public.conv2 (id int PRIMARY KEY, v text)`);
    await pool.query(`INSERT INTO public.conv2 SELECT g, g::text FROM generate_series(1, 2000) g`);
    const result = await repack(pool, {
      table: 'public.conv2',
      alter: ['ALTER COLUMN v TYPE int USING v::int'],
      pausePoint: async (point) => {
        if (point === 'after-copy') await pool.query(`INSERT INTO public.conv2 VALUES (5001, 'not a number'), (5002, '7')`);
      },
    });
    const t = result.tables[0]!;
    expect(t.status).toBe('failed');
    expect(t.code).toBe('alter_conversion_failed');
    expect(t.message).toContain('{"id" : 5001}');
    expect(t.message).toContain('written during the run');
    expect(await columnTypes('public.conv2')).toEqual({ id: 'integer', v: 'text' });
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM public.conv2`);
    expect(rows[0].n).toBe(2002);
    expect(await leftovers()).toEqual([]);
  });

  it('sets and drops NOT NULL; a NULL where the new definition has NOT NULL fails the copy with its key', async () => {
    await pool.query(`CREATE TABLE public.nn (id int PRIMARY KEY, a int, b text NOT NULL)`);
    await pool.query(`INSERT INTO public.nn SELECT g, g, 'b' FROM generate_series(1, 1000) g`);
    const ok = await repack(pool, { table: 'public.nn', alter: ['ALTER COLUMN a SET NOT NULL', 'ALTER COLUMN b DROP NOT NULL'] });
    expect(ok.tables[0]!.message ?? '').toBe('');
    expect(ok.tables[0]!.status).toBe('repacked');
    const notNull = async (): Promise<Record<string, boolean>> => {
      const { rows } = await pool.query(
        `SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'public.nn'::regclass AND attnum > 0 AND NOT attisdropped`,
      );
      return Object.fromEntries(rows.map((r) => [r.attname, r.attnotnull]));
    };
    expect(await notNull()).toEqual({ id: true, a: true, b: false });
    const { rows: version } = await pool.query<{ n: number }>("SELECT current_setting('server_version_num')::int AS n");
    if ((version[0]?.n ?? 0) >= 180000) {
      // PostgreSQL 18 keeps NOT NULL as named constraints: the new one has the name the server would give it on the table.
      const { rows } = await pool.query(
        `SELECT conname, pg_get_constraintdef(oid) AS def, convalidated FROM pg_constraint WHERE conrelid = 'public.nn'::regclass AND contype = 'n' ORDER BY conname`,
      );
      expect(rows).toEqual([
        { conname: 'nn_a_not_null', def: 'NOT NULL a', convalidated: true },
        { conname: 'nn_id_not_null', def: 'NOT NULL id', convalidated: true },
      ]);
    }
    await pool.query(`UPDATE public.nn SET b = NULL WHERE id = 314`);
    const bad = await repack(pool, { table: 'public.nn', alter: ['ALTER COLUMN b SET NOT NULL'] });
    expect(bad.tables[0]).toMatchObject({ status: 'failed', code: 'alter_conversion_failed' });
    expect(bad.tables[0]!.message).toContain('{"id" : 314}');
    expect(bad.tables[0]!.message).toContain('null value in column "b"');
    expect((await notNull()).b).toBe(false);
    // A NULL written during the run fails the log apply, with its key.
    await pool.query(`UPDATE public.nn SET b = 'b' WHERE id = 314`);
    const late = await repack(pool, {
      table: 'public.nn',
      alter: ['ALTER COLUMN b SET NOT NULL'],
      pausePoint: async (point) => {
        if (point === 'after-copy') await pool.query(`INSERT INTO public.nn VALUES (-7, 1, NULL)`);
      },
    });
    expect(late.tables[0]).toMatchObject({ status: 'failed', code: 'alter_conversion_failed' });
    expect(late.tables[0]!.message).toContain('{"id" : -7}, written during the run: null value in column "b"');
    expect((await notNull()).b).toBe(false);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses before anything is made: a materialized view whose query fails on a retyped column, an unknown type, an unsupported action', async () => {
    await pool.query(`CREATE TABLE public.viewed (id int PRIMARY KEY, v int)`);
    await pool.query(`CREATE MATERIALIZED VIEW public.viewed_v AS SELECT id, v + 1 AS w FROM public.viewed`);
    const viewed = await repack(pool, { table: 'public.viewed', alter: ['ALTER COLUMN v TYPE text'] });
    expect(viewed.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
    expect(viewed.tables[0]!.message).toContain(
      'materialized view public.viewed_v cannot be rebuilt on the new definition (operator does not exist: text + integer)',
    );
    const typo = await repack(pool, { table: 'public.viewed', alter: ['ADD COLUMN n bigintt'] });
    expect(typo.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
    expect(typo.tables[0]!.message).toMatch(/type "bigintt" of .*does not exist/);
    await expect(repack(pool, { table: 'public.viewed', alter: ['ALTER COLUMN v SET STATISTICS 10'] })).rejects.toMatchObject({ code: 'alter_unsupported' });
    expect(await leftovers()).toEqual([]);
    expect(await columnTypes('public.viewed')).toEqual({ id: 'integer', v: 'integer' });
  });

  it('--dry-run prints the old → new mapping and changes nothing', async () => {
    const q = await createTable('planned', 100);
    const before = await columnTypes(q);
    const { rows: oid } = await pool.query(`SELECT relfilenode::int8 AS f FROM pg_class WHERE oid = $1::regclass`, [q]);
    const [plan] = await planRepack(pool, {
      table: q,
      alter: ['ALTER COLUMN id TYPE bigint', `ALTER COLUMN b TYPE varchar(20) USING left(b, 20)`, 'ADD COLUMN note text', 'DROP COLUMN extra'],
    });
    expect(plan!.ok).toBe(true);
    expect(plan!.swap).toBe('rename');
    expect(plan!.alter?.lines).toEqual([
      '"id" integer → "id" bigint',
      '"a" integer → "a" integer',
      '"b" text → "b" character varying(20) USING (left(b, 20))',
      '"c" jsonb → "c" jsonb',
      '(new) → "note" text (its default)',
      '"extra" text → (dropped)',
    ]);
    expect(await columnTypes(q)).toEqual(before);
    const { rows: after } = await pool.query(`SELECT relfilenode::int8 AS f FROM pg_class WHERE oid = $1::regclass`, [q]);
    expect(after[0].f).toBe(oid[0].f);
    expect(await leftovers()).toEqual([]);
    const [bad] = await planRepack(pool, { table: q, alter: ['ALTER COLUMN b TYPE int'] });
    expect(bad!.ok).toBe(false);
    expect(bad!.problems.map((p) => p.code)).toContain('alter_refused');
  });

  it('widens an identity key and converts a column with hostile names, continuing the identity past the copied values', async () => {
    const q = `public."Odd ""T"" ü"`;
    await pool.query(`CREATE TABLE ${q} ("I d" int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "V ""al"" ;" text)`);
    await pool.query(`INSERT INTO ${q} ("V ""al"" ;") SELECT (g * 2)::text FROM generate_series(1, 500) g`);
    const result = await repack(pool, {
      table: q,
      alter: ['ALTER COLUMN "I d" TYPE bigint', `ALTER COLUMN "V ""al"" ;" TYPE int USING "V ""al"" ;"::int + 1`],
    });
    expect(result.tables[0]!.message ?? '').toBe('');
    expect(result.tables[0]!.status).toBe('repacked');
    expect(await columnTypes(q)).toEqual({ 'I d': 'bigint', 'V "al" ;': 'integer' });
    const { rows } = await pool.query(`SELECT sum("V ""al"" ;")::int AS s, count(*)::int AS n FROM ${q}`);
    expect(rows[0]).toEqual({ n: 500, s: 500 * 501 + 500 });
    const { rows: next } = await pool.query(`INSERT INTO ${q} ("V ""al"" ;") VALUES (1) RETURNING "I d"::int AS id`);
    expect(next[0].id).toBe(501);
  });

  it('rewrites the table with its columns in a new order, with a column added and one dropped, under a concurrent writer', async () => {
    const q = await createTable('reorder', 5_000);
    await pool.query(`ALTER TABLE ${q} ADD CONSTRAINT a_small CHECK (a < 1000)`);
    await pool.query(`COMMENT ON COLUMN ${q}.b IS 'the text'`);
    const order = ['id', 'created_at', 'c', 'b', 'a'];
    const alter = ['ADD COLUMN created_at timestamptz DEFAULT now() NOT NULL', 'DROP COLUMN extra'];
    const refused = await repack(pool, { table: q, alter, columnOrder: ['id', 'a', 'nope'] });
    expect(refused.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
    expect(refused.tables[0]!.message).toMatch(/leaves out "b", "c", "created_at"; "nope" is not a column of the new definition/);
    const plans = await planRepack(pool, { table: q, alter, columnOrder: order });
    expect(plans[0]!.alter?.mapping.map((m) => m.column)).toEqual([...order, 'extra']);
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, { table: q, alter, columnOrder: order, switchThreshold: 5, applyBatchSize: 50, pausePoint: slow });
    await writer.stop();
    await expectRepackedUnderWriter(pool, result, writer, q);
    expect(Object.keys(await columnTypes(q))).toEqual(order);
    const { rows } = await pool.query(
      `SELECT (SELECT convalidated FROM pg_constraint WHERE conrelid = $1::regclass AND conname = 'a_small') AS checked,
              col_description($1::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'b')) AS comment,
              (SELECT count(*)::int FROM ${q} WHERE created_at IS NULL) AS nulls`,
      [q],
    );
    expect(rows[0]).toEqual({ checked: true, comment: 'the text', nulls: 0 });
    await expect(pool.query(`INSERT INTO ${q} (id, a) VALUES (900001, 5000)`)).rejects.toThrow(/a_small/);
    expect(await leftovers()).toEqual([]);
  });

  it('moves identity columns, generated columns and the columns they and a statistics object read, and adds generated and identity columns, under a concurrent writer', async () => {
    const q = 'public.moves';
    await pool.query(`CREATE TABLE ${q} (id int GENERATED BY DEFAULT AS IDENTITY (START WITH 10 INCREMENT BY 3 CACHE 2) PRIMARY KEY,
      n bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000 INCREMENT BY 7 MINVALUE 1000 MAXVALUE 100000000 CYCLE),
      a int, b text, c jsonb, twice int GENERATED ALWAYS AS (a * 2) STORED, label text GENERATED ALWAYS AS (upper(b)) STORED)`);
    await pool.query(`INSERT INTO ${q} (a, b) SELECT g % 1000, 'row ' || g FROM generate_series(1, 2000) g`);
    await pool.query(`CREATE STATISTICS public.moves_ab (ndistinct) ON a, b FROM ${q}`);
    await pool.query(`ALTER STATISTICS public.moves_ab SET STATISTICS 321`);
    const sequences = `SELECT a.attname AS col, a.attidentity AS kind, sc.relnamespace::regnamespace::text AS schema, sc.relname AS seq,
        s.seqtypid::regtype::text AS type, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
        FROM pg_attribute a JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
             AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i'
        JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S' JOIN pg_sequence s ON s.seqrelid = sc.oid
       WHERE a.attrelid = $1::regclass ORDER BY 1`;
    const before = (await pool.query(sequences, [q])).rows;
    // Added generated columns too (VIRTUAL ones on PostgreSQL 18): the server computes them in the copy and the apply.
    const { rows: v } = await pool.query(`SELECT current_setting('server_version_num')::int AS n`);
    const virtual = v[0].n >= 180000;
    const alter = [
      'ADD COLUMN score int GENERATED ALWAYS AS (coalesce(a, 0) + 1) STORED NOT NULL',
      'ADD COLUMN serial bigint GENERATED ALWAYS AS IDENTITY (START WITH 50)',
      ...(virtual ? [`ADD COLUMN shout text GENERATED ALWAYS AS (b || '!') VIRTUAL`] : []),
    ];
    const order = ['serial', 'n', 'id', 'b', 'label', 'c', 'a', 'twice', 'score', ...(virtual ? ['shout'] : [])];
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, { table: q, alter, columnOrder: order, switchThreshold: 5, applyBatchSize: 50, pausePoint: slow });
    await writer.stop();
    await expectRepackedUnderWriter(pool, result, writer, q);
    expect(Object.keys(await columnTypes(q))).toEqual(order);
    const after = (await pool.query(sequences, [q])).rows;
    expect(after.filter((r) => r.col !== 'serial')).toEqual(before);
    // The added identity column: its sequence named as on the table, in its schema; a value for every row.
    expect(after.find((r) => r.col === 'serial')).toMatchObject({ kind: 'a', schema: 'public', seq: 'moves_serial_seq', seqstart: '50' });
    const { rows: serials } = await pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT serial)::int AS d, min(serial)::int AS lo, max(serial)::text AS hi FROM ${q}`,
    );
    // Distinct and from the start on (the writer deletes rows, so the first values may be gone).
    expect(serials[0].d).toBe(serials[0].n);
    expect(serials[0].lo).toBeGreaterThanOrEqual(50);
    const { rows: wrong } = await pool.query(
      `SELECT count(*)::int AS n FROM ${q} WHERE twice IS DISTINCT FROM a * 2 OR label IS DISTINCT FROM upper(b) OR score IS DISTINCT FROM coalesce(a, 0) + 1${virtual ? ` OR shout IS DISTINCT FROM b || '!'` : ''}`,
    );
    expect(wrong[0].n).toBe(0);
    // Both sequences continue past every value copied (the writer's own keys start at 100000).
    const { rows: top } = await pool.query(`SELECT max(id) FILTER (WHERE id < 100000) AS id, max(n)::text AS n, count(*)::int AS rows FROM ${q}`);
    const { rows: next } = await pool.query(`INSERT INTO ${q} (a, b) VALUES (7, 'new') RETURNING id, n::text, twice, label, score, serial::text`);
    expect(BigInt(next[0].serial)).toBeGreaterThan(BigInt(serials[0].hi));
    expect(next[0].id).toBeGreaterThan(top[0].id);
    expect(BigInt(next[0].n)).toBeGreaterThan(BigInt(top[0].n));
    expect(next[0]).toMatchObject({ twice: 14, label: 'NEW', score: 8 });
    const { rows: stats } = await pool.query(
      `SELECT stxname AS name, stxstattarget AS target, stxkind::text AS kind, pg_get_statisticsobjdef_columns(oid) AS cols FROM pg_statistic_ext WHERE stxrelid = $1::regclass`,
      [q],
    );
    // The same object: the server lists its columns in their (new) attnum order.
    expect(stats).toEqual([{ name: 'moves_ab', target: 321, kind: '{d}', cols: 'b, a' }]);
    expect(await leftovers()).toEqual([]);
  });

  it('moves a column a generated column before it reads: on PostgreSQL 17+ under a concurrent writer, refused before that', async () => {
    const q = 'public.moves_back';
    const { rows: v } = await pool.query(`SELECT current_setting('server_version_num')::int AS n`);
    const virtual = v[0].n >= 180000 ? `, shout text GENERATED ALWAYS AS (b || '!') VIRTUAL` : '';
    await pool.query(`CREATE TABLE ${q} (id int PRIMARY KEY, twice int GENERATED ALWAYS AS (a * 2) STORED, a int, b text, c jsonb${virtual})`);
    await pool.query(`INSERT INTO ${q} (id, a, b) SELECT g, g % 1000, 'row ' || g FROM generate_series(1, 1000) g`);
    const order = ['id', 'twice', 'c', 'b', 'a', ...(virtual ? ['shout'] : [])];
    if (v[0].n < 170000) {
      const refused = await repack(pool, { table: q, columnOrder: order });
      expect(refused.tables[0]).toMatchObject({ status: 'failed', code: 'alter_refused' });
      expect(refused.tables[0]!.message).toMatch(/generated column "twice" would come before column "a", which it is computed from; this needs PostgreSQL 17/);
      expect(Object.keys(await columnTypes(q))).toEqual(['id', 'twice', 'a', 'b', 'c']);
      expect(await leftovers()).toEqual([]);
      return;
    }
    const writer = startWriter(pool, q, { nextId: 100_000 });
    const result = await repack(pool, { table: q, columnOrder: order, switchThreshold: 5, applyBatchSize: 50, pausePoint: slow });
    await writer.stop();
    await expectRepackedUnderWriter(pool, result, writer, q);
    expect(Object.keys(await columnTypes(q))).toEqual(order);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE twice IS DISTINCT FROM a * 2${virtual ? ` OR shout IS DISTINCT FROM b || '!'` : ''})::int AS wrong,
              (SELECT attgenerated::text FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'twice') AS kind FROM ${q}`,
      [q],
    );
    expect(rows[0]).toMatchObject({ wrong: 0, kind: 's' });
    expect(await leftovers()).toEqual([]);
  });
});

describe('repack --alter as the table owner without superuser', () => {
  it('changes an int key to bigint and drops a column, under a concurrent writer', async () => {
    await pool.query(`CREATE ROLE alter_owner LOGIN`);
    await pool.query(`GRANT CREATE ON SCHEMA public TO alter_owner`);
    await pool.query(`GRANT CREATE ON DATABASE "${db.name}" TO alter_owner`);
    const owner = new pg.Pool({ ...db.config, user: 'alter_owner', max: 6 });
    try {
      await owner.query(`CREATE TABLE public.owned (id int PRIMARY KEY, a int, b text, c jsonb, extra text)`);
      await owner.query(`INSERT INTO public.owned SELECT g, g, 'v' || g, NULL, 'e' FROM generate_series(1, 3000) g`);
      await owner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON public.owned TO PUBLIC`);
      const writer = startWriter(pool, 'public.owned', { nextId: 100_000 });
      // Its own tool schema: the superuser runs above made "pgtools", owned by the superuser.
      const result = await repack(owner, {
        table: 'public.owned',
        alter: ['ALTER COLUMN id TYPE bigint', 'DROP COLUMN extra'],
        toolSchema: 'owner_tools',
        switchThreshold: 5,
        pausePoint: slow,
      });
      await writer.stop();
      expect(result.tables[0]!.message ?? '').toBe('');
      expect(result.tables[0]!).toMatchObject({ status: 'repacked', swap: 'rename' });
      expect(writer.errors).toEqual([]);
      expect(await diffTable(pool, 'public.owned', writer.expected)).toEqual([]);
      expect(await columnTypes('public.owned')).toEqual({ id: 'bigint', a: 'integer', b: 'text', c: 'jsonb' });
      const { rows } = await pool.query(`SELECT relowner::regrole::text AS owner, relacl::text AS acl FROM pg_class WHERE oid = 'public.owned'::regclass`);
      expect(rows[0].owner).toBe('alter_owner');
      expect(rows[0].acl).toContain('=arwd/alter_owner');
      const { rows: left } = await pool.query(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'owner_tools'`,
      );
      expect(left[0].n).toBe(0);
    } finally {
      await owner.end();
    }
  });
});

describe('repack --alter killed at every pause point', () => {
  const alter = ['ALTER COLUMN id TYPE bigint', 'ADD COLUMN z int DEFAULT 3'];
  it.each(PAUSE_POINTS)('killed at %s: the table stays as it was and writable; the next run cleans up and alters it', async (point) => {
    const table = `akill_${point.replace(/-/g, '_')}`;
    await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, a int, b text, c jsonb)`);
    await pool.query(`INSERT INTO ${table} SELECT g, g, 'v' || g, NULL FROM generate_series(1, 2000) g`);
    const writer = await killDuringWrites(pool, db.connectionString, table, point, alter);
    expect(writer.errors).toEqual([]);
    expect(await diffTable(pool, table, writer.expected)).toEqual([]);
    expect(await columnTypes(table)).toEqual({ id: 'integer', a: 'integer', b: 'text', c: 'jsonb' });
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
    expect(await columnTypes(table)).toEqual({ id: 'bigint', a: 'integer', b: 'text', c: 'jsonb', z: 'integer' });
    const { rows } = await pool.query(`SELECT count(*) FILTER (WHERE z IS DISTINCT FROM 3)::int AS n FROM ${table}`);
    expect(rows[0].n).toBe(0);
    expect(await leftovers()).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { PgToolsError, quoteQualified, withTransaction } from '@pgtools/core';
import {
  applyLog,
  applyLogUntil,
  buildApplyDeleteSql,
  buildApplyInsertSql,
  buildApplyPurgeSql,
  buildBatchIdsSql,
  buildDrainLogSql,
  cdcObjectNames,
  countLog,
  createCapture,
  dropCapture,
  findCaptures,
} from '../src/index.js';
import { captureAndCopy, diff, tableOid } from './helpers.js';

let cluster: PgCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'cdc-capture' });
  pool = (await cluster.createDatabase()).pool({ max: 8 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const pub = (name: string) => ({ schema: 'public', name });

async function drain(c: Awaited<ReturnType<typeof captureAndCopy>>, batchSize = 100) {
  return applyLogUntil(pool, {
    objects: c.objects,
    target: c.shadow,
    keyColumns: c.keyColumns,
    columns: c.columns,
    batchSize,
  });
}

describe('capture', () => {
  it('logs inserts, updates (with key changes) and deletes, and replays them exactly', async () => {
    await pool.query('CREATE TABLE basic (id int PRIMARY KEY, v text, n int)');
    await pool.query("INSERT INTO basic SELECT g, 'v' || g, g FROM generate_series(1, 20) g");
    const c = await captureAndCopy(pool, pub('basic'), ['id']);
    await pool.query("INSERT INTO basic VALUES (21, 'new', NULL)");
    await pool.query('UPDATE basic SET n = NULL, v = NULL WHERE id = 2');
    await pool.query('UPDATE basic SET id = 100 WHERE id = 3');
    await pool.query('DELETE FROM basic WHERE id = 4');
    await pool.query('UPDATE basic SET id = -id WHERE id BETWEEN 15 AND 20');
    await pool.query('UPDATE basic SET id = -id + 10 WHERE id < 0');
    expect(await countLog(pool, c.objects)).toBe(1 + 1 + 1 + 1 + 6 + 6);
    const { rows: ops } = await pool.query(
      `SELECT op::text, count(*)::int AS n FROM ${quoteQualified(c.objects.toolSchema, c.objects.logTable)} GROUP BY 1 ORDER BY 1`,
    );
    expect(ops).toEqual([
      { op: 'D', n: 1 },
      { op: 'I', n: 1 },
      { op: 'U', n: 14 },
    ]);
    const stats = await drain(c, 3);
    expect(stats).toMatchObject({ entries: 16, inserts: 1, updates: 14, deletes: 1, batches: 6, stoppedBy: 'below-threshold' });
    expect(await countLog(pool, c.objects)).toBe(0);
    expect(await diff(pool, pub('basic'), c.shadow)).toEqual({ missing: 0, extra: 0, countT: 20, countS: 20 });
  });

  it('replays rows whose non-key columns are NULL (the row IS NOT NULL trap)', async () => {
    await pool.query('CREATE TABLE nulls (id int PRIMARY KEY, a text, b int, c jsonb)');
    await pool.query("INSERT INTO nulls SELECT g, CASE WHEN g % 2 = 0 THEN 'x' END, g, '{}' FROM generate_series(1, 10) g");
    const c = await captureAndCopy(pool, pub('nulls'), ['id']);
    await pool.query('INSERT INTO nulls (id) SELECT g FROM generate_series(11, 30) g');
    await pool.query('UPDATE nulls SET a = NULL, c = NULL WHERE id <= 5');
    await pool.query('UPDATE nulls SET id = id + 1000, b = NULL WHERE id BETWEEN 6 AND 8');
    await pool.query('DELETE FROM nulls WHERE id = 12');
    await drain(c, 7);
    expect(await diff(pool, pub('nulls'), c.shadow)).toEqual({ missing: 0, extra: 0, countT: 29, countS: 29 });
  });

  it('captures changes made with session_replication_role = replica', async () => {
    await pool.query('CREATE TABLE repl (id int PRIMARY KEY, v text)');
    await pool.query("INSERT INTO repl VALUES (1, 'a'), (2, 'b')");
    const c = await captureAndCopy(pool, pub('repl'), ['id']);
    const client = await pool.connect();
    try {
      await client.query("SET session_replication_role = 'replica'");
      await client.query("INSERT INTO repl VALUES (3, 'c')");
      await client.query("UPDATE repl SET v = 'z', id = 10 WHERE id = 1");
      await client.query('DELETE FROM repl WHERE id = 2');
    } finally {
      await client.query('RESET session_replication_role');
      client.release();
    }
    expect(await countLog(pool, c.objects)).toBe(3);
    await drain(c);
    expect(await diff(pool, pub('repl'), c.shadow)).toEqual({ missing: 0, extra: 0, countT: 2, countS: 2 });
  });

  it('applies an entry that commits after later entries were applied (delete by explicit id)', async () => {
    await pool.query('CREATE TABLE late (id int PRIMARY KEY, v text)');
    const c = await captureAndCopy(pool, pub('late'), ['id']);
    const slow = await pool.connect();
    try {
      await slow.query('BEGIN');
      await slow.query("INSERT INTO late VALUES (1, 'slow')"); // gets the lowest log id, not yet committed
      await pool.query("INSERT INTO late VALUES (2, 'fast'), (3, 'fast')");
      // Take a batch while the slow entry is invisible, let it commit, then finish the batch:
      // "DELETE ... WHERE id <= max(batch)" would now remove the slow entry without applying it.
      const { rows } = await pool.query<{ n: number; ids: string }>(buildBatchIdsSql(c.objects), [100]);
      expect(rows[0]!.n).toBe(2);
      await slow.query('COMMIT');
      const parts = { names: c.objects, target: c.shadow, keyColumns: c.keyColumns, columns: c.columns, keyOperators: c.objects.keyOperators };
      const client = await pool.connect();
      try {
        await withTransaction(client, async () => {
          await client.query(buildApplyDeleteSql(parts), [rows[0]!.ids]);
          await client.query(buildApplyInsertSql(parts), [rows[0]!.ids]);
          const purged = await client.query(buildApplyPurgeSql(c.objects), [rows[0]!.ids]);
          expect(purged.rows[0].entries).toBe(2);
        });
      } finally {
        client.release();
      }
      expect(await countLog(pool, c.objects)).toBe(1);
      const stats = await applyLog(pool, { objects: c.objects, target: c.shadow, keyColumns: c.keyColumns, columns: c.columns });
      expect(stats.entries).toBe(1);
      expect(await diff(pool, pub('late'), c.shadow)).toEqual({ missing: 0, extra: 0, countT: 3, countS: 3 });
    } finally {
      slow.release();
    }
  });

  it('fires before user AFTER triggers and RI cascades that change the same row again', async () => {
    await pool.query('CREATE TABLE touch (id int PRIMARY KEY, v text, touched int NOT NULL DEFAULT 0)');
    await pool.query(`CREATE FUNCTION touch_it() RETURNS trigger LANGUAGE plpgsql AS
      'BEGIN UPDATE public.touch SET touched = touched + 1 WHERE id = NEW.id; RETURN NULL; END'`);
    // "A..." sorts before lower-case names such as "pgtools_capture_...".
    await pool.query('CREATE TRIGGER "A_touch" AFTER INSERT ON touch FOR EACH ROW EXECUTE FUNCTION touch_it()');
    await pool.query('CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree (id) ON UPDATE CASCADE, v text)');
    await pool.query("INSERT INTO tree VALUES (1, 1, 'root'), (2, 1, 'child')");
    const ct = await captureAndCopy(pool, pub('touch'), ['id']);
    const cr = await captureAndCopy(pool, pub('tree'), ['id']);
    await pool.query("INSERT INTO touch (id, v) VALUES (1, 'a'), (2, 'b')");
    await pool.query('UPDATE tree SET id = 5 WHERE id = 1'); // the cascade rewrites row 5 itself and row 2
    expect((await pool.query('SELECT touched FROM touch WHERE id = 1')).rows[0].touched).toBe(1);
    expect((await pool.query('SELECT parent FROM tree WHERE id = 5')).rows[0].parent).toBe(5);
    await drain(ct, 1);
    await drain(cr, 1);
    expect(await diff(pool, pub('touch'), ct.shadow)).toEqual({ missing: 0, extra: 0, countT: 2, countS: 2 });
    expect(await diff(pool, pub('tree'), cr.shadow)).toEqual({ missing: 0, extra: 0, countT: 2, countS: 2 });
  });

  it('lets non-owner writers of the table log, and no one else write the log', async () => {
    await pool.query('CREATE TABLE shared_t (id int PRIMARY KEY, v text)');
    await pool.query('CREATE ROLE writer LOGIN');
    await pool.query('CREATE ROLE colwriter LOGIN');
    await pool.query('CREATE ROLE outsider LOGIN');
    await pool.query('GRANT SELECT, INSERT, DELETE ON shared_t TO writer');
    await pool.query('GRANT SELECT, UPDATE (v) ON shared_t TO colwriter');
    await pool.query('GRANT SELECT ON shared_t TO outsider');
    await pool.query("INSERT INTO shared_t VALUES (1, 'x')");
    const c = await captureAndCopy(pool, pub('shared_t'), ['id']);
    const as = async (role: string, sql: string) => {
      const client = await pool.connect();
      try {
        await client.query(`SET ROLE ${role}`);
        return await client.query(sql);
      } finally {
        await client.query('RESET ROLE');
        client.release();
      }
    };
    await as('writer', "INSERT INTO shared_t VALUES (2, 'w')");
    await as('colwriter', "UPDATE shared_t SET v = 'c' WHERE id = 1");
    await as('writer', 'DELETE FROM shared_t WHERE id = 2');
    const log = quoteQualified(c.objects.toolSchema, c.objects.logTable);
    await expect(as('outsider', `INSERT INTO ${log} (op, new_row) VALUES ('I', ROW(9, 'forged'))`)).rejects.toMatchObject({ code: '42501' });
    await expect(as('writer', `SELECT * FROM ${log}`)).rejects.toMatchObject({ code: '42501' });
    await expect(as('writer', `DELETE FROM ${log}`)).rejects.toMatchObject({ code: '42501' });
    expect(await countLog(pool, c.objects)).toBe(3);
    await drain(c);
    expect(await diff(pool, pub('shared_t'), c.shadow)).toEqual({ missing: 0, extra: 0, countT: 1, countS: 1 });
  });

  it('refuses keys the set-based apply cannot replay exactly', async () => {
    await pool.query('CREATE TABLE keys_t (id int, nk int UNIQUE, d int NOT NULL, p int NOT NULL, e int NOT NULL, CONSTRAINT d_key UNIQUE (d) DEFERRABLE)');
    await pool.query('CREATE UNIQUE INDEX keys_t_p ON keys_t (p) WHERE p > 0');
    await pool.query('CREATE UNIQUE INDEX keys_t_e ON keys_t ((e + 1))');
    const oid = await tableOid(pool, 'public', 'keys_t');
    const table = { schema: 'public', name: 'keys_t', oid };
    const attempt = (keyColumns: string[]) => createCapture(pool, { table, keyColumns });
    await expect(attempt(['nk'])).rejects.toMatchObject({ code: 'key_column_nullable' });
    await expect(attempt(['d'])).rejects.toMatchObject({ code: 'unusable_key', message: expect.stringContaining('DEFERRABLE') });
    await expect(attempt(['p'])).rejects.toMatchObject({ code: 'unusable_key' });
    await expect(attempt(['e'])).rejects.toMatchObject({ code: 'unusable_key' });
    await expect(attempt(['nope'])).rejects.toMatchObject({ code: 'key_column_not_found' });
    await expect(createCapture(pool, { table: { ...table, name: 'other' }, keyColumns: ['d'] })).rejects.toBeInstanceOf(PgToolsError);
    const found = await findCaptures(pool);
    expect(found.filter((f) => f.names.tableOid === oid)).toEqual([]);
  });

  it('refuses a second capture, finds leftovers (also of a dropped table) and drops them', async () => {
    await pool.query('CREATE SCHEMA "Odd ""Tool"" schema"');
    const toolSchema = 'Odd "Tool" schema';
    await pool.query('CREATE TABLE keep_t (id int PRIMARY KEY, v text)');
    await pool.query('CREATE TABLE gone_t (id int PRIMARY KEY, v text)');
    const keepOid = await tableOid(pool, 'public', 'keep_t');
    const goneOid = await tableOid(pool, 'public', 'gone_t');
    await createCapture(pool, { table: { schema: 'public', name: 'keep_t', oid: keepOid }, keyColumns: ['id'], toolSchema });
    await createCapture(pool, { table: { schema: 'public', name: 'gone_t', oid: goneOid }, keyColumns: ['id'], toolSchema });
    const again = createCapture(pool, { table: { schema: 'public', name: 'keep_t', oid: keepOid }, keyColumns: ['id'], toolSchema });
    await expect(again).rejects.toBeInstanceOf(PgToolsError);
    await expect(again).rejects.toMatchObject({ code: 'capture_exists' });

    await pool.query('ALTER TABLE keep_t RENAME TO "kept T"');
    await pool.query('DROP TABLE gone_t CASCADE'); // takes the trigger, and the log's row column, with it
    const found = await findCaptures(pool, toolSchema);
    expect(found).toEqual([
      {
        names: cdcObjectNames(Math.min(keepOid, goneOid), toolSchema),
        table: keepOid < goneOid ? pub('kept T') : null,
        hasLogTable: true,
        hasFunction: true,
        hasTrigger: keepOid < goneOid,
      },
      {
        names: cdcObjectNames(Math.max(keepOid, goneOid), toolSchema),
        table: keepOid < goneOid ? null : pub('kept T'),
        hasLogTable: true,
        hasFunction: true,
        hasTrigger: keepOid > goneOid,
      },
    ]);
    for (const f of found) {
      await dropCapture(pool, f.names);
      await dropCapture(pool, f.names); // idempotent
    }
    expect(await findCaptures(pool, toolSchema)).toEqual([]);
    const { rows } = await pool.query(
      `SELECT (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = $1) AS triggers,
              (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $2) AS relations,
              (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $2) AS functions`,
      [keepOid, toolSchema],
    );
    expect(rows[0]).toEqual({ triggers: 0, relations: 0, functions: 0 });
    // The table works without the capture, and a new capture can be made.
    await pool.query('INSERT INTO "kept T" VALUES (1, \'x\')');
    const again2 = await createCapture(pool, { table: { schema: 'public', name: 'kept T', oid: keepOid }, keyColumns: ['id'], toolSchema });
    await dropCapture(pool, again2);
  });

  it("applies inside the caller's transaction, stops at maxBatches, and honours an aborted signal", async () => {
    await pool.query('CREATE TABLE modes (id int PRIMARY KEY, v text)');
    const c = await captureAndCopy(pool, pub('modes'), ['id']);
    await pool.query("INSERT INTO modes SELECT g, 'v' FROM generate_series(1, 10) g");
    const base = { objects: c.objects, target: c.shadow, keyColumns: c.keyColumns, columns: c.columns };
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_mergejoin = off');
      const s = await applyLogUntil(client, { ...base, batchSize: 3, transaction: 'caller' });
      expect(s).toMatchObject({ entries: 10, batches: 4 });
      // The planner settings of the delete step do not leak into the caller's transaction.
      const { rows: planner } = await client.query('SELECT current_setting($1) AS h, current_setting($2) AS m', ['enable_hashjoin', 'enable_mergejoin']);
      expect(planner[0]).toEqual({ h: 'on', m: 'off' });
      await client.query('ROLLBACK'); // undoes both the replay and the purge
    } finally {
      client.release();
    }
    expect(await countLog(pool, c.objects)).toBe(10);
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${quoteQualified(c.shadow.schema, c.shadow.name)}`)).rows[0].n).toBe(0);

    const limited = await applyLogUntil(pool, { ...base, batchSize: 2, maxBatches: 2 });
    expect(limited).toMatchObject({ entries: 4, batches: 2, stoppedBy: 'max-batches' });
    const ctl = new AbortController();
    ctl.abort();
    await expect(applyLog(pool, { ...base, signal: ctl.signal })).rejects.toMatchObject({ code: 'aborted' });
    const seen: number[] = [];
    const rest = await applyLogUntil(pool, { ...base, batchSize: 4, onBatch: (b) => seen.push(b.entries) });
    expect(seen).toEqual([4, 2]);
    expect(rest.entries).toBe(6);
    expect(await diff(pool, pub('modes'), c.shadow)).toEqual({ missing: 0, extra: 0, countT: 10, countS: 10 });
    await pool.query("INSERT INTO modes VALUES (11, 'x')");
    await expect(applyLog(pool, { ...base, target: pub('no_such_shadow') })).rejects.toMatchObject({ code: 'apply_failed', sqlState: '42P01' });
    expect(await countLog(pool, c.objects)).toBe(1); // rolled back, nothing lost
  });

  it('drains the whole log in one multi-statement round trip (the swap lock case)', async () => {
    await pool.query('CREATE TABLE drained (id int PRIMARY KEY, v text)');
    await pool.query("INSERT INTO drained SELECT g, 'a' FROM generate_series(1, 20) g");
    const c = await captureAndCopy(pool, pub('drained'), ['id']);
    await pool.query("UPDATE drained SET v = 'b' WHERE id <= 5");
    await pool.query('UPDATE drained SET id = id + 100 WHERE id BETWEEN 6 AND 8');
    await pool.query('DELETE FROM drained WHERE id BETWEEN 9 AND 12');
    await pool.query("INSERT INTO drained VALUES (50, NULL), (51, 'n')");
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('LOCK TABLE drained IN ACCESS EXCLUSIVE MODE');
      const statements = buildDrainLogSql({
        names: c.objects,
        target: c.shadow,
        keyColumns: c.keyColumns,
        columns: c.columns,
        keyOperators: c.objects.keyOperators,
      });
      const out = await client.query(statements.join(';\n'));
      const results = Array.isArray(out) ? out : [out];
      expect(results).toHaveLength(statements.length);
      expect(results.at(-1)!.rows[0]).toEqual({ entries: 14, inserts: 2, updates: 8, deletes: 4 });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await countLog(pool, c.objects)).toBe(0);
    expect(await diff(pool, pub('drained'), c.shadow)).toEqual({ missing: 0, extra: 0, countT: 18, countS: 18 });
  });

  it('captures a partition written through its parent, rows moving in and out included', async () => {
    await pool.query('CREATE TABLE parted (id int, part int, v text, PRIMARY KEY (id, part)) PARTITION BY LIST (part)');
    await pool.query('CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1)');
    await pool.query('CREATE TABLE parted_2 PARTITION OF parted FOR VALUES IN (2)');
    await pool.query("INSERT INTO parted SELECT g, 1 + g % 2, 'v' FROM generate_series(1, 20) g");
    const c = await captureAndCopy(pool, pub('parted_1'), ['id', 'part']);
    await pool.query("INSERT INTO parted VALUES (100, 1, 'new'), (101, 2, 'other')");
    await pool.query('UPDATE parted SET part = 2 WHERE id IN (2, 4)'); // leave parted_1
    await pool.query('UPDATE parted SET part = 1 WHERE id IN (3, 5)'); // enter parted_1
    await pool.query('UPDATE parted SET v = NULL, id = id + 1000 WHERE id IN (6, 7)');
    await pool.query('DELETE FROM parted WHERE id = 8');
    await drain(c, 2);
    expect(await diff(pool, pub('parted_1'), c.shadow)).toEqual({ missing: 0, extra: 0, countT: 10, countS: 10 });
  });
});

import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import {
  buildApplyDeleteSql,
  buildApplyInsertSql,
  buildApplyPurgeSql,
  buildBatchIdsSql,
  buildCaptureFunctionSql,
  buildCountLogSql,
  buildDrainLogSql,
  buildCreateLogTableSql,
  buildCreateSchemaSql,
  buildCreateTriggerSql,
  buildDropCaptureSql,
  buildGrantSql,
  buildLogCommentSql,
  cdcObjectNames,
  operatorSql,
  tableOidFromName,
} from '../src/index.js';

const hostileSchema = `My "Schema"; DROP`;
const hostileTable = `Tab'le "x" 日本`;
const hostileKey = `Key "Col"`;
const names = cdcObjectNames(16384, `tool "S" ü`);
const eq = operatorSql('pg_catalog', '=');
const parts = {
  names,
  target: { schema: names.toolSchema, name: 'table_16384' },
  keyColumns: [hostileKey, 'b'],
  columns: [hostileKey, 'b', `v"al`],
  keyOperators: [eq, eq],
};

describe('names', () => {
  it('derives every name from the OID, and reads the OID back', () => {
    expect(cdcObjectNames(16384)).toEqual({
      tableOid: 16384,
      toolSchema: 'pgtools',
      logTable: 'log_16384',
      triggerName: '!pgtools_capture_16384',
      functionName: 'capture_16384',
    });
    for (const n of ['log_16384', 'capture_16384', '!pgtools_capture_16384']) expect(tableOidFromName(n)).toBe(16384);
    for (const n of ['log_', 'log_0', 'log_12a', 'orders', 'pgtools_capture_1', 'log_99999999999']) expect(tableOidFromName(n)).toBeUndefined();
  });

  it('sorts the trigger before digits, letters (RI_ConstraintTrigger_*) and underscores', () => {
    const trg = Buffer.from(cdcObjectNames(1).triggerName);
    for (const other of ['0trigger', 'A_touch', 'RI_ConstraintTrigger_a_1', '_audit', 'audit', 'zz']) {
      expect(Buffer.compare(trg, Buffer.from(other))).toBe(-1);
    }
  });

  it('refuses bad OIDs and over-long tool schemas', () => {
    for (const oid of [0, -1, 1.5, 2 ** 32, Number.NaN]) expect(() => cdcObjectNames(oid)).toThrow(PgToolsError);
    expect(() => cdcObjectNames(1, 'x'.repeat(64))).toThrow(PgToolsError);
  });
});

describe('capture SQL', () => {
  it('quotes every identifier of the log table, function, trigger, grants and drops', () => {
    const log = buildCreateLogTableSql(names, { schema: hostileSchema, name: hostileTable }, [
      { name: hostileKey, type: 'text', collation: { schema: 'pg_catalog', name: 'C' } },
      { name: 'b', type: 'integer' },
    ]);
    expect(log).toContain('CREATE UNLOGGED TABLE "tool ""S"" ü"."log_16384"');
    expect(log).toContain('"old_key_1" text COLLATE "pg_catalog"."C"');
    expect(log).toContain('"old_key_2" integer,');
    expect(log).toContain(`new_row "My ""Schema""; DROP"."Tab'le ""x"" 日本"`);
    expect(log).toContain('autovacuum_enabled = false');
    expect(log).toMatch(/id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY/);

    const fn = buildCaptureFunctionSql(names, [hostileKey, 'b']);
    expect(fn).toContain('CREATE FUNCTION "tool ""S"" ü"."capture_16384"() RETURNS trigger');
    expect(fn).toContain('SECURITY INVOKER');
    expect(fn).toContain('SET search_path = pg_catalog, pg_temp');
    // The body is one string literal: quotes inside it are doubled once more.
    expect(fn).toContain(`OLD."Key ""Col""", OLD."b"`);
    expect(fn).toContain(`VALUES (''U'', OLD."Key ""Col""", OLD."b", NEW)`);

    const [create, enable] = buildCreateTriggerSql(names, { schema: hostileSchema, name: hostileTable });
    expect(create).toBe(
      `CREATE TRIGGER "!pgtools_capture_16384" AFTER INSERT OR UPDATE OR DELETE ON "My ""Schema""; DROP"."Tab'le ""x"" 日本" FOR EACH ROW EXECUTE FUNCTION "tool ""S"" ü"."capture_16384"()`,
    );
    expect(enable).toBe(`ALTER TABLE "My ""Schema""; DROP"."Tab'le ""x"" 日本" ENABLE ALWAYS TRIGGER "!pgtools_capture_16384"`);
    expect(buildCreateSchemaSql(hostileSchema)).toBe('CREATE SCHEMA IF NOT EXISTS "My ""Schema""; DROP"');
    expect(buildGrantSql(names, ['PUBLIC', `ro"le`])).toEqual([
      'GRANT USAGE ON SCHEMA "tool ""S"" ü" TO PUBLIC, "ro""le"',
      'GRANT INSERT ON "tool ""S"" ü"."log_16384" TO PUBLIC, "ro""le"',
    ]);
    expect(buildGrantSql(names, [])).toEqual([]);
    expect(buildLogCommentSql(names, { schema: hostileSchema, name: `it's` }, ['id'])).toContain(`"name":"it''s"`);
    expect(buildDropCaptureSql(names, { schema: hostileSchema, name: hostileTable })).toEqual([
      `DROP TRIGGER IF EXISTS "!pgtools_capture_16384" ON "My ""Schema""; DROP"."Tab'le ""x"" 日本"`,
      'DROP FUNCTION IF EXISTS "tool ""S"" ü"."capture_16384"()',
      'DROP TABLE IF EXISTS "tool ""S"" ü"."log_16384"',
    ]);
    expect(buildDropCaptureSql(names)).toHaveLength(2);
  });

  it('refuses an empty key', () => {
    expect(() => buildCaptureFunctionSql(names, [])).toThrow(PgToolsError);
    expect(() => buildCreateLogTableSql(names, { schema: 'a', name: 'b' }, [])).toThrow(PgToolsError);
  });
});

describe('apply SQL', () => {
  it('selects the batch by id order with a parameter for its size', () => {
    expect(buildBatchIdsSql(names)).toContain('FROM "tool ""S"" ü"."log_16384" AS l ORDER BY l.id LIMIT $1');
  });

  it('deletes touched keys with the given operators, old and new keys alike', () => {
    const sql = buildApplyDeleteSql(parts);
    expect(sql).toContain('DELETE FROM "tool ""S"" ü"."table_16384" AS s USING (');
    expect(sql).toContain(`(l.new_row)."Key ""Col""" AS "k1", (l.new_row)."b" AS "k2"`);
    expect(sql).toContain(`l."old_key_1" AS "k1", l."old_key_2" AS "k2"`);
    expect(sql).toContain(`s."Key ""Col""" OPERATOR("pg_catalog".=) k."k1" AND s."b" OPERATOR("pg_catalog".=) k."k2"`);
    expect(sql).toContain('l.id = ANY ($1::bigint[])');
    expect(sql).not.toMatch(/id <=/);
  });

  it('inserts the latest image per key, chosen by an explicit flag (never image IS NOT NULL)', () => {
    const sql = buildApplyInsertSql(parts);
    expect(sql).toContain(`INSERT INTO "tool ""S"" ü"."table_16384" ("Key ""Col""", "b", "v""al")`);
    expect(sql).toContain(`SELECT (w.image)."Key ""Col""", (w.image)."b", (w.image)."v""al" FROM (`);
    expect(sql).toContain('ORDER BY e."k1", e."k2", e.id DESC, e.has_image DESC');
    expect(sql).toContain('WHERE w.has_image');
    expect(sql).not.toMatch(/IS NOT NULL/i);
  });

  it('inserts OVERRIDING SYSTEM VALUE into a target with identity columns GENERATED ALWAYS, in batches and in the drain', () => {
    const always = { ...parts, overridingSystemValue: true };
    const head = `INSERT INTO "tool ""S"" ü"."table_16384" ("Key ""Col""", "b", "v""al") OVERRIDING SYSTEM VALUE\nSELECT (w.image)`;
    expect(buildApplyInsertSql(always)).toContain(head);
    expect(buildDrainLogSql(always)[3]).toContain(head);
    expect(buildApplyInsertSql(parts)).not.toContain('OVERRIDING');
    expect(buildApplyInsertSql({ ...parts, overridingSystemValue: false })).toBe(buildApplyInsertSql(parts));
  });

  it('purges by explicit id and counts per operation', () => {
    const sql = buildApplyPurgeSql(names);
    expect(sql).toContain('DELETE FROM "tool ""S"" ü"."log_16384" AS l WHERE ');
    expect(sql).toContain('l.id = ANY ($1::bigint[]) RETURNING l.op');
    expect(buildCountLogSql(names)).toBe('SELECT count(*)::bigint AS n FROM "tool ""S"" ü"."log_16384"');
  });

  it('finds a batch through the log key: its first and last id bound a range, the explicit list decides', () => {
    for (const sql of [buildApplyDeleteSql(parts), buildApplyInsertSql(parts), buildApplyPurgeSql(names)]) {
      expect(sql).toContain('l.id BETWEEN ($1::bigint[])[1] AND ($1::bigint[])[cardinality($1::bigint[])] AND l.id = ANY ($1::bigint[])');
    }
  });

  it('drains the whole log without parameters, index probes forced, counts last', () => {
    const statements = buildDrainLogSql(parts);
    expect(statements.slice(0, 2)).toEqual(['SET LOCAL enable_hashjoin = off', 'SET LOCAL enable_mergejoin = off']);
    expect(statements[2]).toBe(buildApplyDeleteSql(parts, 'all'));
    expect(statements[3]).toBe(buildApplyInsertSql(parts, 'all'));
    expect(statements[4]).toBe(buildApplyPurgeSql(names, 'all'));
    for (const sql of statements) expect(sql).not.toContain('$1');
    expect(statements[4]).toContain('DELETE FROM "tool ""S"" ü"."log_16384" AS l WHERE true RETURNING l.op');
    expect(statements[4]).toMatch(/AS entries/);
  });

  it('maps logged rows onto a changed target: same-named columns through the expanded image, expressions on the old row, cast keys', () => {
    const mapped = {
      ...parts,
      columns: [hostileKey, 'b', `n"ew`],
      columnSources: [{ column: hostileKey }, { column: 'b' }, { expression: `"v""al"::int + 1` }],
      keyCasts: ['bigint', null],
    };
    const insert = buildApplyInsertSql(mapped);
    expect(insert).toContain(`INSERT INTO "tool ""S"" ü"."table_16384" ("Key ""Col""", "b", "n""ew")`);
    // The image is expanded alone in its FROM, so an expression's bare names can only be the old row's columns.
    expect(insert).toContain(`SELECT o."Key ""Col""", o."b", ("v""al"::int + 1) FROM (SELECT (w.image).* FROM (`);
    expect(insert).toContain(') AS w WHERE w.has_image) AS o');
    expect(insert).not.toContain('(w.image)."');
    const del = buildApplyDeleteSql(mapped);
    expect(del).toContain(`s."Key ""Col""" OPERATOR("pg_catalog".=) CAST(k."k1" AS bigint) AND s."b" OPERATOR("pg_catalog".=) k."k2"`);
    const drain = buildDrainLogSql(mapped);
    expect(drain[2]).toBe(buildApplyDeleteSql(mapped, 'all'));
    expect(drain[3]).toBe(buildApplyInsertSql(mapped, 'all'));
    // Without a mapping the statements are exactly the plain repack's.
    const { columnSources: _sources, keyCasts: _casts, ...unmapped } = mapped;
    expect(buildApplyInsertSql({ ...unmapped, columns: parts.columns })).toBe(buildApplyInsertSql(parts));
  });

  it('refuses a mapping of the wrong length, a key not taken from its logged column, and key casts of the wrong length', () => {
    expect(() => buildApplyInsertSql({ ...parts, columnSources: [{ column: hostileKey }] })).toThrow(PgToolsError);
    const keyFromExpression = [{ expression: '1' }, { column: 'b' }, { column: `v"al` }];
    expect(() => buildApplyInsertSql({ ...parts, columnSources: keyFromExpression })).toThrow(/must come from the logged column/);
    const keyRenamed = [{ column: 'b' }, { column: 'b' }, { column: `v"al` }];
    expect(() => buildApplyDeleteSql({ ...parts, columnSources: keyRenamed })).toThrow(PgToolsError);
    expect(() => buildApplyDeleteSql({ ...parts, keyCasts: ['bigint'] })).toThrow(PgToolsError);
  });

  it('refuses inconsistent parts and non-operators', () => {
    expect(() => buildApplyInsertSql({ ...parts, keyOperators: [eq] })).toThrow(PgToolsError);
    expect(() => buildApplyInsertSql({ ...parts, columns: ['b', 'v'] })).toThrow(PgToolsError);
    expect(() => buildApplyDeleteSql({ ...parts, columns: [hostileKey, 'b', 'b'] })).toThrow(PgToolsError);
    expect(() => buildApplyDeleteSql({ ...parts, keyColumns: [], keyOperators: [] })).toThrow(PgToolsError);
    expect(operatorSql('my ops', '===')).toBe('OPERATOR("my ops".===)');
    for (const bad of ['', '=) OR true --', 'eq', '= ;']) expect(() => operatorSql('pg_catalog', bad)).toThrow(PgToolsError);
  });
});

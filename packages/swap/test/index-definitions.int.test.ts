import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { makeTempDir, serverUser, startPostgres, type PgCluster, type TempDir } from '@pgtools/testkit';
import { quoteIdent, quoteLiteral, quoteQualified } from '@pgtools/core';
import { shadowIndexDefinitions, shadowIndexName } from '../src/index.js';

let cluster: PgCluster;
let pool: pg.Pool;
let tablespaceDir: TempDir;

const schema = 'sch "ema".x';
const table = 'we"ird Tab';
const shadowSchema = 'shadow schema';
const shadowTable = 'table "copy"';
const ts = 'fast "disk"';

beforeAll(async () => {
  cluster = await startPostgres({ name: 'swap-indexdefs' });
  pool = (await cluster.createDatabase()).pool();
  tablespaceDir = await makeTempDir('swap-ts', serverUser());
  await pool.query(`CREATE TABLESPACE ${quoteIdent(ts)} LOCATION ${quoteLiteral(tablespaceDir.path)}`);
});
afterAll(async () => {
  await cluster?.destroy();
  tablespaceDir?.remove();
});

describe('shadowIndexDefinitions', () => {
  it('reproduces every kind of index exactly on hostile names', async () => {
    const T = quoteQualified(schema, table);
    const S = quoteQualified(shadowSchema, shadowTable);
    await pool.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    await pool.query(`CREATE SCHEMA ${quoteIdent(shadowSchema)}`);
    await pool.query(`CREATE TABLE ${T} ("Id" int PRIMARY KEY, "the code" text, "x""y" int, gone int, note text COLLATE "C", amount numeric)`);
    await pool.query(`ALTER TABLE ${T} DROP COLUMN gone`);
    const indexes: Array<[string, string]> = [
      ['partial "idx"', `CREATE INDEX ${quoteIdent('partial "idx"')} ON ${T} ("x""y") WHERE "x""y" > 10 AND note IS NOT NULL`],
      ['expr.idx', `CREATE INDEX ${quoteIdent('expr.idx')} ON ${T} (lower("the code"), ("x""y" * 2))`],
      ['include idx', `CREATE UNIQUE INDEX ${quoteIdent('include idx')} ON ${T} ("the code") INCLUDE (amount, note)`],
      ['desc', `CREATE INDEX ${quoteIdent('desc')} ON ${T} ("x""y" DESC NULLS LAST, amount NULLS FIRST)`],
      ['pattern', `CREATE INDEX pattern ON ${T} ("the code" text_pattern_ops)`],
      ['collated', `CREATE INDEX collated ON ${T} (note COLLATE "POSIX")`],
      ['ff', `CREATE INDEX ff ON ${T} (amount) WITH (fillfactor = 70)`],
      ['on ts', `CREATE INDEX ${quoteIdent('on ts')} ON ${T} (note) TABLESPACE ${quoteIdent(ts)} WHERE amount > 0`],
      ['hash idx', `CREATE INDEX ${quoteIdent('hash idx')} ON ${T} USING hash ("the code")`],
      ['nnd', `CREATE UNIQUE INDEX nnd ON ${T} (amount) NULLS NOT DISTINCT`],
    ];
    for (const [, sql] of indexes) await pool.query(sql);
    await pool.query(`INSERT INTO ${T} SELECT g, 'Code' || g, g, 'n' || g, g FROM generate_series(1, 100) g`);
    await pool.query(`CREATE TABLE ${S} AS SELECT "Id", "the code", "x""y", NULL::int AS ph, note, amount FROM ${T}`);
    await pool.query(`ALTER TABLE ${S} DROP COLUMN ph`);

    // The session default must not move copies of indexes that live in the database default tablespace.
    const client = await pool.connect();
    try {
      await client.query(`SET default_tablespace = ${quoteIdent(ts)}`);
      const defs = await shadowIndexDefinitions(client, { original: { schema, name: table }, shadow: { schema: shadowSchema, name: shadowTable } });
      expect(defs.map((d) => d.originalIndex.name).sort()).toEqual([...indexes.map(([n]) => n), `${table}_pkey`].sort());
      for (const d of defs) {
        expect(d.shadowIndexName).toBe(shadowIndexName(d.originalIndex.oid));
        expect(d.shadowIndexName).toBe(`index_${d.originalIndex.oid}`);
        await client.query(d.sql);
      }
      const pk = defs.find((d) => d.isPrimary)!;
      expect(pk).toMatchObject({ isUnique: true, constraintName: `${table}_pkey`, constraintType: 'p', tablespace: null });
      expect(defs.find((d) => d.originalIndex.name === 'on ts')!.tablespace).toBe(ts);
      expect(defs.find((d) => d.originalIndex.name === 'include idx')!).toMatchObject({ isUnique: true, isPrimary: false });

      // Each copy deparses to the original's definition with only the names changed, in the same tablespace, with the same options.
      const { rows } = await client.query(
        `SELECT pg_get_indexdef(o.oid) AS orig, pg_get_indexdef(s.oid) AS copy, o.reltablespace = s.reltablespace AS same_ts,
                s.reltablespace AS copy_ts, o.reloptions IS NOT DISTINCT FROM s.reloptions AS same_opts, o.relname AS name,
                'INDEX ' || quote_ident(o.relname) || ' ON ' || quote_ident($4) || '.' || quote_ident($5) || ' USING ' AS oprefix,
                'INDEX ' || quote_ident(s.relname) || ' ON ' || quote_ident($6) || '.' || quote_ident($7) || ' USING ' AS sprefix
           FROM unnest($1::oid[], $2::text[]) AS p(orig, copy)
           JOIN pg_class o ON o.oid = p.orig
           JOIN pg_class s ON s.relname = p.copy AND s.relnamespace = $3::regnamespace`,
        [defs.map((d) => d.originalIndex.oid), defs.map((d) => d.shadowIndexName), quoteIdent(shadowSchema), schema, table, shadowSchema, shadowTable],
      );
      expect(rows).toHaveLength(defs.length);
      for (const r of rows) {
        expect(r.copy).toContain(r.sprefix);
        expect(r.copy.replace(r.sprefix, r.oprefix)).toBe(r.orig);
        expect(r.same_ts).toBe(true);
        expect(r.same_opts).toBe(true);
      }
      expect(rows.find((r) => r.name === 'ff')!.copy).toContain(`WITH (fillfactor='70')`);
      expect(rows.find((r) => r.name === 'on ts')!.copy_ts).not.toBe(0);
      expect(rows.find((r) => r.name === 'ff')!.copy_ts).toBe(0);

      // A tablespace override moves every copy.
      const moved = await shadowIndexDefinitions(client, {
        original: { schema, name: table },
        shadow: { schema: shadowSchema, name: shadowTable },
        tablespace: null,
      });
      expect(moved.find((d) => d.originalIndex.name === 'on ts')!.sql).toContain('TABLESPACE "pg_default" WHERE');
    } finally {
      client.release();
    }
  });

  it('skips invalid indexes', async () => {
    await pool.query('CREATE TABLE public.dup (id int, v int)');
    await pool.query('INSERT INTO public.dup VALUES (1, 1), (2, 1)');
    await expect(pool.query('CREATE UNIQUE INDEX CONCURRENTLY dup_v ON public.dup (v)')).rejects.toThrow();
    await pool.query('CREATE TABLE public.dup_s (id int, v int)');
    const defs = await shadowIndexDefinitions(pool, { original: { schema: 'public', name: 'dup' }, shadow: { schema: 'public', name: 'dup_s' } });
    expect(defs).toEqual([]);
  });
});

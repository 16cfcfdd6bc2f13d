import type pg from 'pg';
import { quoteIdent, quoteQualified } from '@pgtools/core';
import { shadowIndexDefinitions, type IndexPair, type RelationName } from '../src/index.js';

/**
 * Builds a catalog-swap shadow the way the repack does: CTAS listing the original's columns in attnum order with
 * NULL placeholders for dropped columns, copy, drop the placeholders, then the index copies.
 */
export async function buildCatalogShadow(client: pg.ClientBase, original: RelationName, shadow: RelationName): Promise<IndexPair[]> {
  const { rows } = await client.query<{ attnum: number; attname: string; attisdropped: boolean }>(
    `SELECT a.attnum, a.attname, a.attisdropped FROM pg_attribute a
      WHERE a.attrelid = (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2)
        AND a.attnum > 0 ORDER BY a.attnum`,
    [original.schema, original.name],
  );
  const select = rows.map((r) => (r.attisdropped ? `NULL::integer AS ${quoteIdent(`placeholder_${r.attnum}`)}` : quoteIdent(r.attname))).join(', ');
  const S = quoteQualified(shadow.schema, shadow.name);
  const T = quoteQualified(original.schema, original.name);
  await client.query(`CREATE TABLE ${S} AS SELECT ${select} FROM ONLY ${T} WITH NO DATA`);
  await client.query(`INSERT INTO ${S} SELECT ${select} FROM ONLY ${T}`);
  for (const r of rows.filter((x) => x.attisdropped)) {
    await client.query(`ALTER TABLE ${S} DROP COLUMN ${quoteIdent(`placeholder_${r.attnum}`)}`);
  }
  const defs = await shadowIndexDefinitions(client, { original, shadow });
  for (const d of defs) await client.query(d.sql);
  return defs.map((d) => ({ original: d.originalIndex.oid, shadow: { schema: shadow.schema, name: d.shadowIndexName } }));
}

/** md5 over the whole content in key order, so two tables can be compared. */
export async function contentMd5(client: pg.ClientBase | pg.Pool, table: string, orderBy: string): Promise<{ md5: string; count: number }> {
  const { rows } = await client.query<{ md5: string; count: string }>(
    `SELECT md5(COALESCE(string_agg(t::text, E'\\n' ORDER BY ${orderBy}), '')) AS md5, count(*) AS count FROM ${table} t`,
  );
  return { md5: rows[0]!.md5, count: Number(rows[0]!.count) };
}

import { PgToolsError, quoteIdent, type Queryable } from '@pgtools/core';

/** A foreign key from or to the table over a retyped column: both sides' columns with their types as the server prints them. */
export interface RetypedForeignKey {
  name: string;
  /** The referencing and the referenced table, as regclass prints them. */
  referencing: string;
  referenced: string;
  /** Per column, in the key's order: its name, the same again when it is a column of the table being altered (else null), its type. */
  from: Array<{ column: string; own: string | null; type: string }>;
  to: Array<{ column: string; own: string | null; type: string }>;
}

/**
 * The foreign keys from or to the table (a self-reference is both) that use a retyped column. Reads only.
 */
export async function readRetypedForeignKeys(client: Queryable, tableOid: number, retyped: readonly string[]): Promise<RetypedForeignKey[]> {
  if (retyped.length === 0) return [];
  const side = (key: string, rel: string) =>
    `ARRAY(SELECT pg_catalog.json_build_object('column', a.attname, 'own', CASE WHEN con.${rel} = $1::int8::oid THEN a.attname END, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod))
             FROM pg_catalog.unnest(con.${key}) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.${rel} AND a.attnum = k.attnum ORDER BY k.n)`;
  const { rows } = await client.query<{ name: string; referencing: string; referenced: string; from: RetypedForeignKey['from']; to: RetypedForeignKey['to'] }>(
    `SELECT con.conname AS name, con.conrelid::pg_catalog.regclass::text AS referencing, con.confrelid::pg_catalog.regclass::text AS referenced,
            ${side('conkey', 'conrelid')} AS from, ${side('confkey', 'confrelid')} AS to
       FROM pg_catalog.pg_constraint con
      WHERE con.contype = 'f' AND (con.conrelid = $1::int8::oid OR con.confrelid = $1::int8::oid)
      ORDER BY con.conrelid, con.conname`,
    [tableOid],
  );
  return rows.filter((fk) => [...fk.from, ...fk.to].some((c) => c.own !== null && retyped.includes(c.own)));
}

/**
 * The statements that ask the server whether a foreign key can be made between the new types: two
 * empty temporary stand-ins with the two sides' column types (the table's columns take their new
 * types from `newTypes`), a unique index on the referenced one as the foreign key needs, and the
 * foreign key. Type texts are the server's own (format_type). Pure.
 *
 * @example
 * ```ts
 * foreignKeyTrialSql(fk, new Map([['id', 'bigint']]), 1); // ['CREATE TEMPORARY TABLE pgtools_fk_to_1 ("c1" bigint)', ...]
 * ```
 */
export function foreignKeyTrialSql(fk: RetypedForeignKey, newTypes: ReadonlyMap<string, string>, n: number): string[] {
  const type = (c: { own: string | null; type: string }) => (c.own === null ? c.type : (newTypes.get(c.own) ?? c.type));
  // The columns keep their names, so that the server's reason names them.
  const cols = (list: RetypedForeignKey['from']) => list.map((c) => quoteIdent(c.column)).join(', ');
  const table = (name: string, list: RetypedForeignKey['from']) =>
    `CREATE TEMPORARY TABLE ${quoteIdent(name)} (${list.map((c) => `${quoteIdent(c.column)} ${type(c)}`).join(', ')}) ON COMMIT DROP`;
  const to = `pgtools_fk_to_${n}`;
  const from = `pgtools_fk_from_${n}`;
  return [
    table(to, fk.to),
    `CREATE UNIQUE INDEX ON pg_temp.${quoteIdent(to)} (${cols(fk.to)})`,
    table(from, fk.from),
    `ALTER TABLE pg_temp.${quoteIdent(from)} ADD FOREIGN KEY (${cols(fk.from)}) REFERENCES pg_temp.${quoteIdent(to)} (${cols(fk.to)})`,
  ];
}

/**
 * In the probe's transaction (rolled back): asks the server, for each foreign key over a retyped
 * column, whether it accepts it between the new types (the rename swap adds it again NOT VALID and
 * validates it after its commit). Refuses (`alter_refused`) naming the first it does not accept.
 */
export async function tryForeignKeys(
  client: Queryable,
  fks: readonly RetypedForeignKey[],
  newTypes: ReadonlyMap<string, string>,
  display: string,
): Promise<void> {
  for (const [i, fk] of fks.entries()) {
    try {
      for (const sql of foreignKeyTrialSql(fk, newTypes, i + 1)) await client.query(sql);
    } catch (err) {
      throw new PgToolsError(
        'alter_refused',
        `--alter on ${display}: foreign key ${quoteIdent(fk.name)} of ${fk.referencing} referencing ${fk.referenced} cannot be made again on the new types ` +
          `(${reason(err)}); change the other side's type too (in its own run) or drop the foreign key first; nothing was changed`,
        { cause: err },
      );
    }
  }
}

/** The server's message with its detail (which says which columns and types do not go together). */
function reason(err: unknown): string {
  const e = err as { message?: string; detail?: string };
  return [e.message ?? String(err), e.detail].filter((x) => x !== undefined && x !== '').join(': ');
}

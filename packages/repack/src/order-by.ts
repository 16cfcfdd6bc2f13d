import { PgToolsError, quoteIdent, quoteQualified, type Queryable } from '@pgtools/core';
import type { OrderByTerm } from './options.js';
import type { TableInfo } from './table-info.js';

/**
 * Parses `--order-by` text: `col [ASC|DESC] [NULLS FIRST|LAST], ...`. A bare name is folded to lower
 * case as PostgreSQL does; a double-quoted name is taken as written. Anything else is refused: the
 * text is never pasted into SQL.
 *
 * @example
 * ```ts
 * import { parseOrderBy } from '@pgtools/repack';
 * parseOrderBy('created_at DESC NULLS LAST, "Id"');
 * // [{ column: 'created_at', descending: true, nulls: 'last' }, { column: 'Id' }]
 * ```
 */
export function parseOrderBy(text: string): OrderByTerm[] {
  const terms: OrderByTerm[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new PgToolsError('invalid_order_by', `cannot read --order-by "${text}": ${why}`, {
      hint: 'give column names, each optionally followed by ASC or DESC and NULLS FIRST or NULLS LAST, separated by commas',
    });
  };
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const word = (): string | undefined => {
    skipSpace();
    const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(text.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  for (;;) {
    skipSpace();
    let column: string;
    if (text[i] === '"') {
      let j = i + 1;
      let name = '';
      for (;;) {
        if (j >= text.length) fail('unterminated quoted name');
        if (text[j] === '"') {
          if (text[j + 1] === '"') {
            name += '"';
            j += 2;
            continue;
          }
          break;
        }
        name += text[j];
        j++;
      }
      if (name === '') fail('empty quoted name');
      column = name;
      i = j + 1;
    } else {
      const w = word();
      if (w === undefined) fail(i >= text.length ? 'a column name is missing' : `unexpected "${text.slice(i, i + 10)}"`);
      column = w!.toLowerCase();
    }
    const term: OrderByTerm = { column };
    let w = word();
    if (w && /^(asc|desc)$/i.test(w)) {
      if (w.toLowerCase() === 'desc') term.descending = true;
      w = word();
    }
    if (w && /^nulls$/i.test(w)) {
      const which = word()?.toLowerCase();
      if (which !== 'first' && which !== 'last') fail('NULLS must be followed by FIRST or LAST');
      term.nulls = which as 'first' | 'last';
      w = word();
    }
    if (w !== undefined) fail(`unexpected "${w}" after column ${column}`);
    terms.push(term);
    skipSpace();
    if (i >= text.length) break;
    if (text[i] !== ',') fail(`unexpected "${text.slice(i, i + 10)}"`);
    i++;
  }
  return terms;
}

/** The ORDER BY clause the copy uses, and where it came from; undefined: no ordering. */
export interface CopyOrder {
  sql: string;
  source: 'order-by' | 'cluster-index';
}

/**
 * Checks `--order-by` terms against the table's live columns and builds the ORDER BY list with
 * every column quoted by us.
 *
 * @example
 * ```ts
 * const order = orderByClause(info, parseOrderBy('a DESC, b'));
 * // '"a" DESC, "b"'
 * ```
 */
export function orderByClause(info: TableInfo, terms: readonly OrderByTerm[]): string {
  if (terms.length === 0) throw new PgToolsError('invalid_order_by', 'an empty --order-by');
  const live = info.columns.filter((c) => !c.dropped);
  return terms
    .map((t) => {
      const col = live.find((c) => c.name === t.column);
      if (!col) {
        const near = live.filter((c) => c.name.toLowerCase() === t.column.toLowerCase()).map((c) => quoteIdent(c.name));
        throw new PgToolsError(
          'invalid_order_by',
          `--order-by: table ${info.display} has no column ${quoteIdent(t.column)}${near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : ''}`,
          near.length > 0 ? { hint: `did you mean ${near.join(', ')}?` } : {},
        );
      }
      return `${quoteIdent(col.name)}${t.descending ? ' DESC' : ''}${t.nulls ? ` NULLS ${t.nulls.toUpperCase()}` : ''}`;
    })
    .join(', ');
}

/**
 * The order of the table's CLUSTER index (btree, `indisclustered`), from the server's own
 * rendering of each key column (expressions included), with its direction, NULLS placement and
 * collation; undefined when the table has none.
 *
 * @example
 * ```ts
 * import { clusterIndexOrder } from '@pgtools/repack';
 * console.log(await clusterIndexOrder(client, tableOid)); // e.g. 'customer_id, created_at DESC'
 * ```
 */
export async function clusterIndexOrder(client: Queryable, tableOid: number): Promise<string | undefined> {
  const { rows } = await client.query<{ expr: string; opt: number; coll_schema: string | null; coll_name: string | null }>(
    `SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::int, true) AS expr, i.indoption[k.ord - 1]::int AS opt,
            CASE WHEN i.indcollation[k.ord - 1] <> 0 AND i.indcollation[k.ord - 1] IS DISTINCT FROM a.attcollation
                 THEN cn.nspname END AS coll_schema,
            CASE WHEN i.indcollation[k.ord - 1] <> 0 AND i.indcollation[k.ord - 1] IS DISTINCT FROM a.attcollation
                 THEN co.collname END AS coll_name
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_catalog.pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
       LEFT JOIN pg_catalog.pg_collation co ON co.oid = i.indcollation[k.ord - 1]
       LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
      WHERE i.indrelid = $1 AND i.indisclustered AND i.indisvalid AND k.ord <= i.indnkeyatts
      ORDER BY k.ord`,
    [tableOid],
  );
  if (rows.length === 0) return undefined;
  // indoption bit 0: DESC; bit 1: NULLS FIRST (btree's defaults are ASC NULLS LAST, DESC NULLS FIRST).
  return rows
    .map((r) => {
      const desc = (r.opt & 1) !== 0;
      const nullsFirst = (r.opt & 2) !== 0;
      const collate = r.coll_name ? ` COLLATE ${quoteQualified(r.coll_schema ?? 'pg_catalog', r.coll_name)}` : '';
      // The expression text is the server's own deparse, not user input.
      const expr = /^[A-Za-z_][A-Za-z0-9_$]*$|^".*"$/.test(r.expr) ? r.expr : `(${r.expr})`;
      return `${expr}${collate}${desc ? ' DESC' : ''}${nullsFirst !== desc ? (nullsFirst ? ' NULLS FIRST' : ' NULLS LAST') : ''}`;
    })
    .join(', ');
}

/** Decides the copy's order: explicit terms, else the CLUSTER index, unless ordering is off. */
export async function copyOrder(client: Queryable, info: TableInfo, orderBy: string | OrderByTerm[] | false | undefined): Promise<CopyOrder | undefined> {
  if (orderBy === false) return undefined;
  if (orderBy !== undefined) {
    const terms = typeof orderBy === 'string' ? parseOrderBy(orderBy) : orderBy;
    return { sql: orderByClause(info, terms), source: 'order-by' };
  }
  const cluster = await clusterIndexOrder(client, info.oid);
  return cluster ? { sql: cluster, source: 'cluster-index' } : undefined;
}

import { quoteIdent, quoteLiteral, quoteQualified, type Queryable } from '@pgtools/core';
import { indexDefinitionParts } from '@pgtools/swap';
import type { MatviewFacts } from './matview-facts.js';

/**
 * Names and statements of a materialized view's rebuild after the rename swap. The replacement is
 * `<tool schema>.matview_<old matview OID>` (made in the swap's transaction, so a later run finds
 * it after a kill), its indexes `mvindex_<old index OID>`; at the switch the old matview is first
 * renamed `pgtools_old_<its OID>` (the statement that takes its ACCESS EXCLUSIVE lock).
 */

/** The replacement of the materialized view `matviewOid`, in the tool schema until the switch. */
export function replacementName(matviewOid: number): string {
  return `matview_${matviewOid}`;
}

/** The replacement's copy of the old matview's index `indexOid`, until the switch gives it the old name. */
export function replacementIndexName(indexOid: number): string {
  return `mvindex_${indexOid}`;
}

/** The old matview's name at the switch, between its lock and its drop. */
export function oldMatviewName(matviewOid: number): string {
  return `pgtools_old_${matviewOid}`;
}

/**
 * `CREATE MATERIALIZED VIEW <tool>.matview_<oid> USING am WITH (options) TABLESPACE ts AS <query> WITH NO DATA`:
 * no query runs; the query's names (schema-qualified) resolve now, in the swap's transaction, to the new table. Pure.
 *
 * @example
 * ```ts
 * createReplacementSql('pgtools', { oid: 16400, def: ' SELECT t.id FROM public.t;', reloptions: [], tablespace: null, accessMethod: 'heap', ... });
 * // 'CREATE MATERIALIZED VIEW pgtools.matview_16400 USING heap AS SELECT t.id FROM public.t WITH NO DATA'
 * ```
 */
export function createReplacementSql(toolSchema: string, m: Pick<MatviewFacts, 'oid' | 'def' | 'reloptions' | 'tablespace' | 'accessMethod'>): string {
  const using = m.accessMethod !== null ? ` USING ${quoteIdent(m.accessMethod)}` : '';
  const options = m.reloptions.map((entry) => {
    const eq = entry.indexOf('=');
    return eq < 0 ? `${quoteIdent(entry)} = 'true'` : `${quoteIdent(entry.slice(0, eq))} = ${quoteLiteral(entry.slice(eq + 1))}`;
  });
  const withClause = options.length > 0 ? ` WITH (${options.join(', ')})` : '';
  const tablespace = m.tablespace !== null ? ` TABLESPACE ${quoteIdent(m.tablespace)}` : '';
  const query = m.def.trim().replace(/;$/, '');
  return `CREATE MATERIALIZED VIEW ${quoteQualified(toolSchema, replacementName(m.oid))}${using}${withClause}${tablespace} AS ${query} WITH NO DATA`;
}

/** One index of the old matview and the statement building its copy on the replacement. */
export interface MatviewIndex {
  oid: number;
  name: string;
  /** `CREATE [UNIQUE] INDEX mvindex_<oid> ON <replacement> USING ...`. */
  sql: string;
}

/**
 * The valid indexes of the old matview, each with the statement that builds it on the replacement:
 * the text of pg_get_indexdef (under a pg_catalog search path) with only its leading
 * `CREATE ... INDEX name ON table USING ` replaced (a mismatch fails loudly), as for the table's indexes.
 */
export async function readMatviewIndexes(client: Queryable, matviewOid: number, replacement: { schema: string; name: string }): Promise<MatviewIndex[]> {
  const { rows } = await client.query<{
    oid: string;
    schema: string;
    name: string;
    def: string;
    prefix: string;
    where_suffix: string | null;
    tablespace: string | null;
  }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, pg_catalog.pg_get_indexdef(c.oid) AS def,
            'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || pg_catalog.quote_ident(c.relname)
              || ' ON ' || pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.relname) || ' USING ' AS prefix,
            CASE WHEN i.indpred IS NULL THEN NULL ELSE ' WHERE ' || pg_catalog.pg_get_expr(i.indpred, i.indrelid) END AS where_suffix,
            ts.spcname AS tablespace
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_class t ON t.oid = i.indrelid JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
       LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace
      WHERE i.indrelid = $1::int8::oid AND i.indisvalid AND i.indisready AND i.indislive
      ORDER BY c.oid`,
    [matviewOid],
  );
  return rows.map((r) => {
    const { body, where } = indexDefinitionParts(r);
    const unique = r.prefix.startsWith('CREATE UNIQUE ') ? 'UNIQUE ' : '';
    const tablespace = r.tablespace !== null ? ` TABLESPACE ${quoteIdent(r.tablespace)}` : '';
    const oid = Number(r.oid);
    return {
      oid,
      name: r.name,
      sql: `CREATE ${unique}INDEX ${quoteIdent(replacementIndexName(oid))} ON ${quoteQualified(replacement.schema, replacement.name)} USING ${body}${tablespace}${where}`,
    };
  });
}

import { displayName, PgToolsError, quoteIdent, quoteQualified, type Queryable } from '@pgtools/core';
import { loadTable, withCatalogSearchPath } from './catalog.js';
import type { RelationName } from './types.js';

/** One index of the original table and the statement that builds its copy on the shadow table. */
export interface ShadowIndexDefinition {
  originalIndex: { schema: string; name: string; oid: number };
  /** `index_<original index OID>`, created in the shadow table's schema. */
  shadowIndexName: string;
  /** `CREATE [UNIQUE] INDEX "index_<oid>" ON <shadow> USING ... TABLESPACE ...`, ready to run (add CONCURRENTLY yourself if wanted). */
  sql: string;
  /** The tablespace the copy is built in (the original's unless overridden); null means the database's default. */
  tablespace: string | null;
  isPrimary: boolean;
  isUnique: boolean;
  /** The primary key, unique or exclusion constraint the original index backs. */
  constraintName?: string;
  constraintType?: 'p' | 'u' | 'x';
}

export interface ShadowIndexDefinitionsOptions {
  original: RelationName;
  shadow: RelationName;
  /** Build every copy in this tablespace instead of the original's (`--moveidx`); null: the database default. */
  tablespace?: string | null;
}

/** The deterministic name of an index copy: `index_<original index OID>`. */
export function shadowIndexName(originalIndexOid: number): string {
  return `index_${originalIndexOid}`;
}

/**
 * Statements that rebuild every valid index of `original` on `shadow`: unique, partial, expression, INCLUDE,
 * operator classes, collations, sort order, storage parameters and tablespace exactly as the original.
 * The text comes from `pg_get_indexdef` under a `pg_catalog` search path; only the leading
 * `CREATE ... INDEX <name> ON <table> USING ` part, computed by the server the same way, is replaced,
 * and a mismatch fails loudly. The tablespace, which `pg_get_indexdef` leaves out, is always written explicitly
 * (the database default by name when the original has none), so the session's `default_tablespace` cannot move the copy.
 *
 * @example
 * ```ts
 * import { shadowIndexDefinitions } from '@pgtools/swap';
 * const defs = await shadowIndexDefinitions(client, {
 *   original: { schema: 'public', name: 'orders' },
 *   shadow: { schema: 'pgtools', name: 'table_16385' },
 * });
 * for (const def of defs) await client.query(def.sql);
 * ```
 */
export async function shadowIndexDefinitions(client: Queryable, options: ShadowIndexDefinitionsOptions): Promise<ShadowIndexDefinition[]> {
  const original = await loadTable(client, options.original, 'original');
  const shadow = await loadTable(client, options.shadow, 'shadow');
  return withCatalogSearchPath(client, async () => {
    const { rows } = await client.query<{
      oid: number;
      schema: string;
      name: string;
      def: string;
      prefix: string;
      where_suffix: string | null;
      tablespace: string | null;
      db_tablespace: string;
      indisprimary: boolean;
      indisunique: boolean;
      conname: string | null;
      contype: string | null;
    }>(
      `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, pg_catalog.pg_get_indexdef(c.oid) AS def,
              'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || pg_catalog.quote_ident(c.relname)
                || ' ON ' || CASE WHEN c.relkind = 'I' THEN 'ONLY ' ELSE '' END
                || pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.relname) || ' USING ' AS prefix,
              CASE WHEN i.indpred IS NULL THEN NULL ELSE ' WHERE ' || pg_catalog.pg_get_expr(i.indpred, i.indrelid) END AS where_suffix,
              ts.spcname AS tablespace,
              (SELECT dts.spcname FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace dts ON dts.oid = d.dattablespace
                WHERE d.datname = pg_catalog.current_database()) AS db_tablespace,
              i.indisprimary, i.indisunique, con.conname, con.contype::text AS contype
         FROM pg_catalog.pg_index i
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
         JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
         LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace
         LEFT JOIN pg_catalog.pg_constraint con
                ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
        WHERE i.indrelid = $1::int8::oid AND i.indisvalid AND i.indisready AND i.indislive
        ORDER BY c.oid`,
      [original.oid],
    );
    return rows.map((row): ShadowIndexDefinition => {
      const { body, where: whereClause } = indexDefinitionParts(row);
      const oid = Number(row.oid);
      const name = shadowIndexName(oid);
      const target = options.tablespace === undefined ? row.tablespace : options.tablespace;
      // TABLESPACE goes before WHERE in CREATE INDEX; naming the database default keeps default_tablespace out of it.
      const tablespaceClause = ` TABLESPACE ${quoteIdent(target ?? row.db_tablespace)}`;
      const sql =
        `CREATE ${row.indisunique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(name)} ON ${quoteQualified(shadow.schema, shadow.name)} USING ` +
        `${body}${tablespaceClause}${whereClause}`;
      const def: ShadowIndexDefinition = {
        originalIndex: { schema: row.schema, name: row.name, oid },
        shadowIndexName: name,
        sql,
        tablespace: target ?? null,
        isPrimary: row.indisprimary,
        isUnique: row.indisunique,
      };
      if (row.conname !== null) def.constraintName = row.conname;
      if (row.contype === 'p' || row.contype === 'u' || row.contype === 'x') def.constraintType = row.contype;
      return def;
    });
  });
}

/**
 * The parts of an index's pg_get_indexdef text (read under a pg_catalog search path) that another
 * relation's copy of it keeps: what follows `prefix` (the leading `CREATE [UNIQUE] INDEX name ON
 * table USING `) up to the predicate, and the predicate (` WHERE ...`, or ''). A text that does not
 * have that shape fails loudly (`index_definition_unexpected`) instead of building a different index.
 *
 * @example
 * ```ts
 * indexDefinitionParts({ schema: 'public', name: 'i', def: 'CREATE INDEX i ON public.t USING btree (a) WHERE (a > 0)',
 *   prefix: 'CREATE INDEX i ON public.t USING ', where_suffix: ' WHERE (a > 0)' });
 * // { body: 'btree (a)', where: ' WHERE (a > 0)' }
 * ```
 */
export function indexDefinitionParts(row: { schema: string; name: string; def: string; prefix: string; where_suffix: string | null }): {
  body: string;
  where: string;
} {
  const index = displayName(row.schema, row.name);
  if (!row.def.startsWith(row.prefix)) {
    throw new PgToolsError(
      'index_definition_unexpected',
      `pg_get_indexdef of ${index} does not start with the expected ${JSON.stringify(row.prefix)}: ${JSON.stringify(row.def)}`,
    );
  }
  const body = row.def.slice(row.prefix.length);
  if (row.where_suffix === null) return { body, where: '' };
  if (!body.endsWith(row.where_suffix)) {
    throw new PgToolsError(
      'index_definition_unexpected',
      `pg_get_indexdef of ${index} does not end with its predicate ${JSON.stringify(row.where_suffix)}: ${JSON.stringify(row.def)}`,
    );
  }
  return { body: body.slice(0, body.length - row.where_suffix.length), where: row.where_suffix };
}

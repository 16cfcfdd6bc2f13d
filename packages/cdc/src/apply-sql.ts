import { PgToolsError, quoteIdent, quoteQualified } from '@pgtools/core';
import { oldKeyColumn } from './capture-sql.js';
import type { CdcNames, ColumnSource, RelationName } from './types.js';

/** Parts every apply statement needs. `keyOperators[i]` compares key column i (see `operatorSql`). */
export interface ApplySqlParts {
  names: CdcNames;
  target: RelationName;
  keyColumns: string[];
  /** Columns written into the target, in any order; must include the key columns. */
  columns: string[];
  keyOperators: string[];
  /**
   * The target has identity columns GENERATED ALWAYS among `columns` (a rename-mode shadow): the
   * insert step says OVERRIDING SYSTEM VALUE so the rows keep their values.
   */
  overridingSystemValue?: boolean;
  /**
   * Parallel to `columns`, when the target's columns are not the logged table's (an online schema
   * change): how each is computed from a logged row image. Absent: every column is the image's column
   * of the same name.
   */
  columnSources?: readonly ColumnSource[];
  /**
   * Parallel to `keyColumns`: a type the logged keys are cast to before they are compared with the
   * target's key (whose type changed), or null. SQL text the caller has validated as a type name.
   */
  keyCasts?: ReadonlyArray<string | null>;
}

/**
 * An equality operator as SQL, qualified so it never depends on the search_path:
 * `OPERATOR("pg_catalog".=)`. Operator names cannot be quoted, so they are checked instead.
 *
 * @example
 * ```ts
 * import { operatorSql } from '@pgtools/cdc';
 * operatorSql('pg_catalog', '='); // => OPERATOR("pg_catalog".=)
 * ```
 */
export function operatorSql(schema: string, name: string): string {
  if (!/^[+\-*/<>=~!@#%^&|`?]{1,63}$/.test(name)) {
    throw new PgToolsError('invalid_argument', `not an operator name: ${JSON.stringify(name)}`);
  }
  return `OPERATOR(${quoteIdent(schema)}.${name})`;
}

function check(parts: ApplySqlParts): void {
  const { keyColumns, columns, keyOperators } = parts;
  if (keyColumns.length === 0) throw new PgToolsError('invalid_argument', 'at least one key column is needed');
  if (keyOperators.length !== keyColumns.length) {
    throw new PgToolsError('invalid_argument', 'one equality operator per key column is needed');
  }
  for (const k of keyColumns) {
    if (!columns.includes(k)) throw new PgToolsError('invalid_argument', `key column ${JSON.stringify(k)} is not in the column list`);
  }
  if (new Set(columns).size !== columns.length) throw new PgToolsError('invalid_argument', 'the column list has duplicates');
  const { columnSources, keyCasts } = parts;
  if (columnSources !== undefined) {
    if (columnSources.length !== columns.length) throw new PgToolsError('invalid_argument', 'one column source per column is needed');
    for (const k of keyColumns) {
      const source = columnSources[columns.indexOf(k)];
      // The delete step finds rows by the logged key: the target's key must be that value.
      if (!source || !('column' in source) || source.column !== k) {
        throw new PgToolsError('invalid_argument', `key column ${JSON.stringify(k)} must come from the logged column of the same name`);
      }
    }
  }
  if (keyCasts !== undefined && keyCasts.length !== keyColumns.length) throw new PgToolsError('invalid_argument', 'one key cast per key column is needed');
}

/**
 * The ids of the next batch, oldest first, as a `bigint[]` literal (`$1` = batch size).
 * Ids are taken by explicit value so later steps touch exactly these entries: an entry with a lower
 * id can still commit after this (ids are assigned when the trigger fires, not at commit).
 *
 * @example
 * ```ts
 * import { buildBatchIdsSql, cdcObjectNames } from '@pgtools/cdc';
 * const { rows } = await client.query(buildBatchIdsSql(cdcObjectNames(16384)), [1000]);
 * ```
 */
export function buildBatchIdsSql(names: CdcNames): string {
  const log = quoteQualified(names.toolSchema, names.logTable);
  return `SELECT count(*)::int AS n, coalesce(array_agg(b.id ORDER BY b.id), '{}')::text AS ids FROM (SELECT l.id FROM ${log} AS l ORDER BY l.id LIMIT $1) AS b`;
}

/**
 * The batch's entries (`$1`: their ids, ascending). The explicit list decides membership; the range
 * between its first and last id only lets the log's primary key find them, where a filter alone
 * would read the whole log, dead rows of earlier batches included, once per statement.
 */
const BATCH_FILTER = 'l.id BETWEEN ($1::bigint[])[1] AND ($1::bigint[])[cardinality($1::bigint[])] AND l.id = ANY ($1::bigint[])';

/**
 * Which log entries a statement applies: `'batch'`, the ids in `$1`; `'all'`, the whole log, with no
 * parameter, for a moment when no writer can add entries (ACCESS EXCLUSIVE held on the table, so
 * every transaction that wrote to it has ended).
 */
export type ApplyScope = 'batch' | 'all';

const scopeFilter = (scope: ApplyScope): string => (scope === 'all' ? 'true' : BATCH_FILTER);

/** Every key a batch touches: old keys of updates and deletes, keys of the new images. */
function touchedKeys(parts: ApplySqlParts, withImages: boolean, scope: ApplyScope): string {
  const log = quoteQualified(parts.names.toolSchema, parts.names.logTable);
  const alias = (i: number): string => quoteIdent(`k${i + 1}`);
  const oldKeys = parts.keyColumns.map((_, i) => `l.${quoteIdent(oldKeyColumn(i))} AS ${alias(i)}`).join(', ');
  const newKeys = parts.keyColumns.map((k, i) => `(l.new_row).${quoteIdent(k)} AS ${alias(i)}`).join(', ');
  const imgOld = withImages ? 'l.id, false AS has_image, NULL AS image, ' : '';
  const imgNew = withImages ? 'l.id, true AS has_image, l.new_row AS image, ' : '';
  return [
    `SELECT ${imgNew}${newKeys} FROM ${log} AS l WHERE ${scopeFilter(scope)} AND l.op <> 'D'`,
    'UNION ALL',
    `SELECT ${imgOld}${oldKeys} FROM ${log} AS l WHERE ${scopeFilter(scope)} AND l.op <> 'I'`,
  ].join('\n');
}

/**
 * Step (a): delete from the target every key the batch touches (`$1` = ids). Keys are compared with
 * the key index's own equality operators, in SQL.
 *
 * @example
 * ```ts
 * import { buildApplyDeleteSql, cdcObjectNames } from '@pgtools/cdc';
 * const sql = buildApplyDeleteSql({ names: cdcObjectNames(16384), target: { schema: 'pgtools', name: 'table_16384' },
 *   keyColumns: ['id'], columns: ['id', 'v'], keyOperators: ['OPERATOR("pg_catalog".=)'] });
 * ```
 */
export function buildApplyDeleteSql(parts: ApplySqlParts, scope: ApplyScope = 'batch'): string {
  check(parts);
  const cond = parts.keyColumns
    .map((k, i) => {
      const logged = `k.${quoteIdent(`k${i + 1}`)}`;
      const cast = parts.keyCasts?.[i];
      return `s.${quoteIdent(k)} ${parts.keyOperators[i]!} ${cast ? `CAST(${logged} AS ${cast})` : logged}`;
    })
    .join(' AND ');
  return [`DELETE FROM ${quoteQualified(parts.target.schema, parts.target.name)} AS s USING (`, touchedKeys(parts, false, scope), `) AS k WHERE ${cond}`].join(
    '\n',
  );
}

/**
 * Step (b): per touched key, insert the image of the latest entry touching it, when that entry's
 * image carries the key (`$1` = ids). Ties within one UPDATE entry (old key = new key) go to the
 * image. The image flag is an explicit column: `image IS NOT NULL` would be false for any row
 * with a NULL column.
 *
 * @example
 * ```ts
 * import { buildApplyInsertSql, cdcObjectNames } from '@pgtools/cdc';
 * const sql = buildApplyInsertSql({ names: cdcObjectNames(16384), target: { schema: 'pgtools', name: 'table_16384' },
 *   keyColumns: ['id'], columns: ['id', 'v'], keyOperators: ['OPERATOR("pg_catalog".=)'] });
 * ```
 */
export function buildApplyInsertSql(parts: ApplySqlParts, scope: ApplyScope = 'batch'): string {
  check(parts);
  const keys = parts.keyColumns.map((_, i) => `e.${quoteIdent(`k${i + 1}`)}`).join(', ');
  const cols = parts.columns.map((c) => quoteIdent(c)).join(', ');
  const insert = `INSERT INTO ${quoteQualified(parts.target.schema, parts.target.name)} (${cols})${parts.overridingSystemValue ? ' OVERRIDING SYSTEM VALUE' : ''}`;
  const latest = [
    `  SELECT DISTINCT ON (${keys}) e.has_image, e.image FROM (`,
    touchedKeys(parts, true, scope),
    `  ) AS e ORDER BY ${keys}, e.id DESC, e.has_image DESC`,
  ];
  const sources = parts.columnSources;
  if (sources === undefined) {
    const vals = parts.columns.map((c) => `(w.image).${quoteIdent(c)}`).join(', ');
    return [insert, `SELECT ${vals} FROM (`, ...latest, ') AS w WHERE w.has_image'].join('\n');
  }
  // The image expanded into its columns, alone in its FROM: an expression's bare names are the old row's columns.
  const vals = sources.map((s) => ('column' in s ? `o.${quoteIdent(s.column)}` : `(${s.expression})`)).join(', ');
  return [insert, `SELECT ${vals} FROM (SELECT (w.image).* FROM (`, ...latest, ') AS w WHERE w.has_image) AS o'].join('\n');
}

/**
 * Step (c): delete the applied entries by explicit id (`$1` = ids) and count them per operation.
 *
 * @example
 * ```ts
 * import { buildApplyPurgeSql, cdcObjectNames } from '@pgtools/cdc';
 * const { rows } = await client.query(buildApplyPurgeSql(cdcObjectNames(16384)), ['{1,2,3}']);
 * ```
 */
export function buildApplyPurgeSql(names: CdcNames, scope: ApplyScope = 'batch'): string {
  const log = quoteQualified(names.toolSchema, names.logTable);
  return [
    `WITH d AS (DELETE FROM ${log} AS l WHERE ${scopeFilter(scope)} RETURNING l.op)`,
    "SELECT count(*)::int AS entries, (count(*) FILTER (WHERE op = 'I'))::int AS inserts,",
    "  (count(*) FILTER (WHERE op = 'U'))::int AS updates, (count(*) FILTER (WHERE op = 'D'))::int AS deletes FROM d",
  ].join('\n');
}

/**
 * Makes the delete step probe the target's key index for the rest of the transaction: the shadow
 * has no statistics and a batch looks big next to it, so the planner would hash the whole shadow.
 */
export const INDEX_PROBES_LOCAL = ['SET LOCAL enable_hashjoin = off', 'SET LOCAL enable_mergejoin = off'];

/**
 * The whole log applied at once, as statements without parameters, so a caller holding ACCESS
 * EXCLUSIVE on the table can send them in one multi-statement round trip together with its own
 * (the swap). The first two set hash and merge joins off until the end of the caller's transaction
 * (see `applyLog`: the delete step probes the key index instead of hashing the whole target); the
 * last returns one row of counts (`entries`, `inserts`, `updates`, `deletes`) like a batch's purge.
 *
 * @example
 * ```ts
 * import { buildDrainLogSql, cdcObjectNames } from '@pgtools/cdc';
 * const statements = buildDrainLogSql({ names: cdcObjectNames(16384), target: { schema: 'pgtools', name: 'table_16384' },
 *   keyColumns: ['id'], columns: ['id', 'v'], keyOperators: ['OPERATOR("pg_catalog".=)'] });
 * const results = await client.query(statements.join(';\n')); // inside the locking transaction
 * ```
 */
export function buildDrainLogSql(parts: ApplySqlParts): string[] {
  return [...INDEX_PROBES_LOCAL, buildApplyDeleteSql(parts, 'all'), buildApplyInsertSql(parts, 'all'), buildApplyPurgeSql(parts.names, 'all')];
}

/**
 * Number of entries in the log.
 *
 * @example
 * ```ts
 * import { buildCountLogSql, cdcObjectNames } from '@pgtools/cdc';
 * buildCountLogSql(cdcObjectNames(16384)); // => SELECT count(*)::bigint AS n FROM "pgtools"."log_16384"
 * ```
 */
export function buildCountLogSql(names: CdcNames): string {
  return `SELECT count(*)::bigint AS n FROM ${quoteQualified(names.toolSchema, names.logTable)}`;
}

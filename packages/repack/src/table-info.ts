import { displayName, parseQualifiedName, PgToolsError, type Queryable } from '@pgtools/core';

/** A table as the user names it: `"public.orders"` or `{ schema, name }`. */
export type TableRef = string | { schema: string; name: string };

export interface ColumnInfo {
  attnum: number;
  name: string;
  /** `format_type` of the column; undefined for dropped columns. */
  type: string | undefined;
  dropped: boolean;
  notNull: boolean;
  /** 's' for a stored generated column. */
  generated: boolean;
  /** A virtual generated column (PostgreSQL 18+, attgenerated 'v'): computed on read, NULL in the heap, never copied. */
  virtual: boolean;
  identity: boolean;
}

export interface IndexInfo {
  oid: number;
  name: string;
  definition: string;
  isPrimary: boolean;
  isUnique: boolean;
  /** false when the uniqueness is checked at commit (DEFERRABLE). */
  isImmediate: boolean;
  isValid: boolean;
  isPartial: boolean;
  hasExpressions: boolean;
  isClustered: boolean;
  /** Key columns (not INCLUDE columns), in index order; null entries for expressions. */
  keyColumns: Array<string | null>;
  keyColumnsNotNull: boolean;
  accessMethod: string;
  tablespace: string | null;
  sizeBytes: number;
}

export interface TriggerInfo {
  name: string;
  enabled: string;
  isInternal: boolean;
}

export interface TableInfo {
  oid: number;
  schema: string;
  name: string;
  /** `schema.name` for messages. */
  display: string;
  /** 'r' table, 'p' partitioned, 'm' matview, 'v' view, 'f' foreign... */
  relkind: string;
  /** 'p' permanent, 'u' unlogged, 't' temporary. */
  persistence: string;
  owner: string;
  tablespace: string | null;
  reloptions: string[];
  hasToast: boolean;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  heapBytes: number;
  totalBytes: number;
  estimatedRows: number;
  columns: ColumnInfo[];
  indexes: IndexInfo[];
  triggers: TriggerInfo[];
  /** Leaf partitions, for a partitioned table. */
  leafPartitions: Array<{ schema: string; name: string }>;
  /** Is this table itself a partition? */
  isPartition: boolean;
  /** Has inheritance children or parents (not partitions). */
  hasInheritance: boolean;
}

/** Resolves a user-given table reference to its OID, or throws 'table_not_found' with suggestions. */
export async function resolveTable(client: Queryable, ref: TableRef): Promise<{ oid: number; schema: string; name: string }> {
  const parsed = typeof ref === 'string' ? parseQualifiedName(ref) : ref;
  const { rows } = await client.query<{ oid: number; schema: string; name: string }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = $2
        AND ($1::text IS NULL AND pg_table_is_visible(c.oid) OR n.nspname = $1)
        AND c.relkind IN ('r', 'p', 'm', 'v', 'f', 'i', 'I', 'S', 'c', 't')
      ORDER BY n.nspname = $1 DESC
      LIMIT 1`,
    [parsed.schema ?? null, parsed.name],
  );
  const row = rows[0];
  if (row) return { oid: Number(row.oid), schema: row.schema, name: row.name };
  // Near misses: same name elsewhere (search_path), or different case.
  const { rows: near } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND (lower(c.relname) = lower($1) OR strpos(lower(c.relname), lower($1)) > 0)
      ORDER BY n.nspname, c.relname LIMIT 5`,
    [parsed.name],
  );
  const shown = displayName(parsed.schema, parsed.name);
  const hint = near.length > 0 ? `did you mean ${near.map((r) => displayName(r.schema, r.name)).join(', ')}?` : undefined;
  throw new PgToolsError('table_not_found', `table ${shown} does not exist${hint ? `; ${hint}` : ''}`, hint ? { hint } : {});
}

/** Reads everything the repack needs to know about a table, in a few catalog queries. */
export async function inspectTable(client: Queryable, ref: TableRef): Promise<TableInfo> {
  const { oid } = await resolveTable(client, ref);
  const { rows: tableRows } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind, c.relpersistence, pg_get_userbyid(c.relowner) AS owner,
            ts.spcname AS tablespace, coalesce(c.reloptions, '{}') AS reloptions, c.reltoastrelid <> 0 AS has_toast,
            c.relrowsecurity, c.relforcerowsecurity, c.relispartition,
            pg_relation_size(c.oid) AS heap_bytes, pg_total_relation_size(c.oid) AS total_bytes,
            greatest(c.reltuples, 0)::int8 AS reltuples,
            EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                     WHERE (i.inhrelid = c.oid OR i.inhparent = c.oid) AND p.relkind <> 'p' AND NOT c.relispartition) AS has_inheritance
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
      WHERE c.oid = $1`,
    [oid],
  );
  const t = tableRows[0];
  if (!t) throw new PgToolsError('table_not_found', `table with OID ${oid} disappeared while it was being inspected`);
  const { rows: columns } = await client.query(
    `SELECT a.attnum, a.attname AS name, CASE WHEN a.attisdropped THEN NULL ELSE format_type(a.atttypid, a.atttypmod) END AS type,
            a.attisdropped AS dropped, a.attnotnull AS not_null, a.attgenerated = 's' AS generated,
            a.attgenerated = 'v' AS virtual, a.attidentity <> '' AS identity
       FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 ORDER BY a.attnum`,
    [oid],
  );
  const { rows: indexes } = await client.query(
    `SELECT i.indexrelid::int8 AS oid, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
            i.indisprimary AS is_primary, i.indisunique AS is_unique, i.indimmediate AS is_immediate,
            i.indisvalid AND i.indisready AND i.indislive AS is_valid, i.indpred IS NOT NULL AS is_partial,
            i.indexprs IS NOT NULL AS has_expressions, i.indisclustered AS is_clustered, am.amname AS access_method,
            ts.spcname AS tablespace, pg_relation_size(i.indexrelid) AS size_bytes,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS key_columns,
            coalesce((SELECT bool_and(coalesce(a.attnotnull, false)) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   WHERE k.ord <= i.indnkeyatts), false) AS key_not_null
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_am am ON am.oid = ic.relam
       LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
      WHERE i.indrelid = $1
      ORDER BY i.indisprimary DESC, ic.relname`,
    [oid],
  );
  const { rows: triggers } = await client.query(
    `SELECT tgname AS name, tgenabled AS enabled, tgisinternal AS is_internal FROM pg_trigger WHERE tgrelid = $1 ORDER BY tgname`,
    [oid],
  );
  let leafPartitions: Array<{ schema: string; name: string }> = [];
  if (t.relkind === 'p') {
    const { rows } = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM pg_partition_tree($1::regclass) p JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE p.isleaf AND c.relkind = 'r' ORDER BY n.nspname, c.relname`,
      [oid],
    );
    leafPartitions = rows;
  }
  return {
    oid,
    schema: t.schema,
    name: t.name,
    display: displayName(t.schema, t.name),
    relkind: t.relkind,
    persistence: t.relpersistence,
    owner: t.owner,
    tablespace: t.tablespace,
    reloptions: t.reloptions,
    hasToast: t.has_toast,
    rowSecurity: t.relrowsecurity,
    forceRowSecurity: t.relforcerowsecurity,
    heapBytes: Number(t.heap_bytes),
    totalBytes: Number(t.total_bytes),
    estimatedRows: Number(t.reltuples),
    isPartition: t.relispartition,
    hasInheritance: t.has_inheritance,
    columns: columns.map((c) => ({
      attnum: c.attnum,
      name: c.name,
      type: c.type ?? undefined,
      dropped: c.dropped,
      notNull: c.not_null,
      generated: c.generated,
      virtual: c.virtual,
      identity: c.identity,
    })),
    indexes: indexes.map((i) => ({
      oid: Number(i.oid),
      name: i.name,
      definition: i.definition,
      isPrimary: i.is_primary,
      isUnique: i.is_unique,
      isImmediate: i.is_immediate,
      isValid: i.is_valid,
      isPartial: i.is_partial,
      hasExpressions: i.has_expressions,
      isClustered: i.is_clustered,
      keyColumns: i.key_columns,
      keyColumnsNotNull: i.key_not_null,
      accessMethod: i.access_method,
      tablespace: i.tablespace,
      sizeBytes: Number(i.size_bytes),
    })),
    triggers: triggers.map((r) => ({ name: r.name, enabled: r.enabled, isInternal: r.is_internal })),
    leafPartitions,
  };
}

import { PgToolsError, wrapPgError, type Queryable } from '@pgtools/core';
import { operatorSql } from './apply-sql.js';
import type { KeyColumnDef } from './capture-sql.js';
import type { RelationName } from './types.js';

/** What the catalog says about a table's replay key. */
export interface ResolvedKey {
  /** The table under its current name. */
  table: RelationName;
  /** The unique index whose key columns are the key. */
  indexName: string;
  columns: KeyColumnDef[];
  /** Per key column, the index's own equality operator as SQL (`OPERATOR("pg_catalog".=)`). */
  operators: string[];
}

const TABLE_SQL = `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`;

const COLUMNS_SQL = `SELECT a.attname AS name, a.attnotnull AS notnull, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
  cn.nspname AS coll_schema, co.collname AS coll_name
FROM pg_catalog.pg_attribute a
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY ($2::name[])`;

// Unique, non-partial, expression-free indexes with their key columns (not INCLUDE ones) and,
// per key column, the equality operator of the index's operator class.
const INDEXES_SQL = `SELECT ic.relname AS name, i.indimmediate AS immediate, i.indisvalid AND i.indisready AS valid,
  ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS cols,
  ARRAY(SELECT o.oprname::text FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS k(opclass, ord)
        JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass
        JOIN pg_catalog.pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
             AND ao.amoprighttype = oc.opcintype AND ao.amopstrategy = 3 AND ao.amopmethod = oc.opcmethod
        JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
        WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS op_names,
  ARRAY(SELECT n.nspname::text FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS k(opclass, ord)
        JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass
        JOIN pg_catalog.pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
             AND ao.amoprighttype = oc.opcintype AND ao.amopstrategy = 3 AND ao.amopmethod = oc.opcmethod
        JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
        JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
        WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS op_schemas
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = $1::oid AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY i.indisprimary DESC, ic.relname`;

interface IndexRow {
  name: string;
  immediate: boolean;
  valid: boolean;
  cols: string[];
  op_names: string[];
  op_schemas: string[];
}

/**
 * Checks that `keyColumns` are the key columns (in index order) of a valid, immediate
 * (not DEFERRABLE), non-partial unique index on the table, all NOT NULL: the set-based apply is
 * exact only for such a key. Returns the column types and the index's equality operators.
 * Throws `table_not_found`, `key_column_not_found`, `key_column_nullable` or `unusable_key`.
 *
 * @example
 * ```ts
 * import { resolveKey } from '@pgtools/cdc';
 * const key = await resolveKey(client, 16384, ['id']);
 * console.log(key.indexName, key.operators); // orders_pkey [ 'OPERATOR("pg_catalog".=)' ]
 * ```
 */
export async function resolveKey(client: Queryable, tableOid: number, keyColumns: string[]): Promise<ResolvedKey> {
  if (keyColumns.length === 0) throw new PgToolsError('invalid_argument', 'at least one key column is needed');
  if (new Set(keyColumns).size !== keyColumns.length) throw new PgToolsError('invalid_argument', 'key columns repeat');
  try {
    const t = await client.query<{ schema: string; name: string; relkind: string }>(TABLE_SQL, [tableOid]);
    const tableRow = t.rows[0];
    if (!tableRow) throw new PgToolsError('table_not_found', `no table with OID ${tableOid}`);
    const table: RelationName = { schema: tableRow.schema, name: tableRow.name };
    const shown = `${JSON.stringify(table.schema)}.${JSON.stringify(table.name)}`;

    const c = await client.query<{ name: string; notnull: boolean; type: string; coll_schema: string | null; coll_name: string | null }>(COLUMNS_SQL, [
      tableOid,
      keyColumns,
    ]);
    const columns: KeyColumnDef[] = [];
    for (const k of keyColumns) {
      const row = c.rows.find((r) => r.name === k);
      if (!row) throw new PgToolsError('key_column_not_found', `table ${shown} has no column ${JSON.stringify(k)}`);
      if (!row.notnull) {
        throw new PgToolsError('key_column_nullable', `key column ${JSON.stringify(k)} of ${shown} is nullable; no exact replay exists for a nullable key`);
      }
      columns.push({
        name: k,
        type: row.type,
        collation: row.coll_schema !== null && row.coll_name !== null ? { schema: row.coll_schema, name: row.coll_name } : undefined,
      });
    }

    const idx = await client.query<IndexRow>(INDEXES_SQL, [tableOid]);
    const same = idx.rows.filter((r) => r.cols.length === keyColumns.length && r.cols.every((col, i) => col === keyColumns[i]));
    const usable = same.find((r) => r.valid && r.immediate && r.op_names.length === keyColumns.length);
    if (!usable) {
      const why = same.some((r) => !r.immediate)
        ? 'the only unique index on them is DEFERRABLE (replayed key changes would be lost)'
        : same.length > 0
          ? 'the unique index on them is not valid'
          : 'no unique, non-partial index has exactly these key columns in this order';
      throw new PgToolsError('unusable_key', `cannot use (${keyColumns.map((k) => JSON.stringify(k)).join(', ')}) as the key of ${shown}: ${why}`);
    }
    return {
      table,
      indexName: usable.name,
      columns,
      operators: usable.op_names.map((op, i) => operatorSql(usable.op_schemas[i]!, op)),
    };
  } catch (err) {
    throw wrapPgError(err, 'catalog_query_failed', `reading the key of table OID ${tableOid}`);
  }
}

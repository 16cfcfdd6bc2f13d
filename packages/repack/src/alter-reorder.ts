import { PgToolsError, quoteIdent, quoteLiteral, quoteQualified, type Queryable } from '@pgtools/core';

/** One live column of the (empty) shadow, as `reorderStatements` re-creates it. */
export interface ReorderColumn {
  attnum: number;
  name: string;
  /** `format_type`. */
  type: string;
  /** Quoted `schema.collation` when not the type's default. */
  collation: string | null;
  default: string | null;
  notNull: boolean;
  identity: boolean;
  generated: boolean;
  /** `p`, `e`, `m`, `x` when not the type's default. */
  storage: string | null;
  /** `p` (pglz), `l` (lz4) when set. */
  compression: string | null;
  comment: string | null;
  /** What else uses the column and cannot be re-created here (a generated column, a statistics object), as the server describes it. */
  usedBy: string[];
}

/** A CHECK constraint of the shadow on columns that move: dropped and added again around the move. */
export interface ReorderCheck {
  name: string;
  def: string;
  comment: string | null;
  attnums: number[];
}

const STORAGE: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
const COMPRESSION: Record<string, string> = { p: 'pglz', l: 'lz4' };

/**
 * The statements that put the (empty) shadow's live columns in `order`: the columns from the first
 * one out of place on are dropped and added again in order, with their type, collation, default,
 * NOT NULL, storage, compression and comment, and the CHECK constraints on them dropped before and
 * added again after (same names and definitions). Refuses (`alter_refused`) to move an identity or
 * generated column or one that a generated column or statistics object uses. Pure; [] when the
 * order is already right.
 */
export function reorderStatements(
  table: string,
  columns: readonly ReorderColumn[],
  checks: readonly ReorderCheck[],
  order: readonly string[],
  display: string,
): string[] {
  const first = columns.findIndex((c, i) => c.name !== order[i]);
  if (first < 0) return [];
  const moving = order.slice(first).map((name) => {
    const c = columns.find((x) => x.name === name);
    if (!c)
      throw new PgToolsError(
        'alter_refused',
        `--column-order on ${display}: ${JSON.stringify(name)} is not a column of the new definition; nothing was changed`,
      );
    const why = c.identity ? 'an identity column' : c.generated ? 'a generated column' : c.usedBy.length > 0 ? `used by ${c.usedBy.join(', ')}` : undefined;
    if (why !== undefined) {
      throw new PgToolsError(
        'alter_refused',
        `--column-order on ${display}: column ${JSON.stringify(name)} would move but is ${why}, which cannot be moved yet; keep it in place (the columns before the first moved one stay as they are); nothing was changed`,
      );
    }
    return c;
  });
  const moved = new Set(moving.map((c) => c.attnum));
  const affected = checks.filter((k) => k.attnums.some((n) => moved.has(n)));
  const out: string[] = [];
  out.push(
    `ALTER TABLE ${table} ${[...affected.map((k) => `DROP CONSTRAINT ${quoteIdent(k.name)}`), ...moving.map((c) => `DROP COLUMN ${quoteIdent(c.name)}`)].join(', ')}`,
  );
  const add = moving.map(
    (c) =>
      `ADD COLUMN ${quoteIdent(c.name)} ${c.type}${c.collation === null ? '' : ` COLLATE ${c.collation}`}` +
      `${c.default === null ? '' : ` DEFAULT ${c.default}`}${c.notNull ? ' NOT NULL' : ''}`,
  );
  const attributes = moving.flatMap((c) => [
    ...(c.storage !== null && STORAGE[c.storage] ? [`ALTER COLUMN ${quoteIdent(c.name)} SET STORAGE ${STORAGE[c.storage]}`] : []),
    ...(c.compression !== null && COMPRESSION[c.compression] ? [`ALTER COLUMN ${quoteIdent(c.name)} SET COMPRESSION ${COMPRESSION[c.compression]}`] : []),
  ]);
  out.push(`ALTER TABLE ${table} ${[...add, ...attributes, ...affected.map((k) => `ADD CONSTRAINT ${quoteIdent(k.name)} ${k.def}`)].join(', ')}`);
  for (const c of moving) if (c.comment !== null) out.push(`COMMENT ON COLUMN ${table}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment)}`);
  for (const k of affected) if (k.comment !== null) out.push(`COMMENT ON CONSTRAINT ${quoteIdent(k.name)} ON ${table} IS ${quoteLiteral(k.comment)}`);
  return out;
}

/** Reads the shadow's columns and CHECK constraints and runs {@link reorderStatements} on it (empty: nothing is rewritten). */
export async function reorderShadow(client: Queryable, shadow: { schema: string; name: string }, order: readonly string[], display: string): Promise<void> {
  const table = quoteQualified(shadow.schema, shadow.name);
  const { rows: columns } = await client.query<ReorderColumn>(
    `SELECT a.attnum::int AS attnum, a.attname::text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attcollation <> t.typcollation THEN pg_catalog.format('%I.%I', cn.nspname, co.collname) END AS collation,
            CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END AS default,
            a.attnotnull AS "notNull", a.attidentity <> '' AS identity, a.attgenerated <> '' AS generated,
            CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
            NULLIF(a.attcompression::text, '') AS compression,
            pg_catalog.col_description(a.attrelid, a.attnum) AS comment,
            ARRAY(SELECT pg_catalog.pg_describe_object(dep.classid, dep.objid, dep.objsubid) FROM pg_catalog.pg_depend dep
                   WHERE dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum
                     AND (dep.classid = 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass
                          OR dep.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef x WHERE x.oid = dep.objid AND x.adnum = a.attnum))
                   ORDER BY 1) AS "usedBy"
       FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  );
  const { rows: checks } = await client.query<ReorderCheck>(
    `SELECT conname::text AS name, pg_catalog.pg_get_constraintdef(oid) AS def, pg_catalog.obj_description(oid, 'pg_constraint') AS comment,
            COALESCE(conkey::int[], '{}') AS attnums
       FROM pg_catalog.pg_constraint WHERE conrelid = $1::pg_catalog.regclass AND contype = 'c' ORDER BY oid`,
    [table],
  );
  for (const sql of reorderStatements(table, columns, checks, order, display)) await client.query(sql);
}

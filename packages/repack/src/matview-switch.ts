import { quoteIdent, quoteLiteral, quoteQualified, type Queryable } from '@pgtools/core';
import { aclSteps, type RenameAclEntry } from '@pgtools/swap';
import { oldMatviewName, replacementIndexName } from './matview-sql.js';

/**
 * What the switch carries over from the old materialized view to its replacement, read by OID in
 * the switch's transaction once the old one is locked (so nothing changes in between).
 */
export interface MatviewSwitchFacts {
  /** The old matview's name before the switch renamed it away. */
  schema: string;
  name: string;
  owner: string;
  currentUser: string;
  aclIsNull: boolean;
  grants: RenameAclEntry[];
  columnGrants: Array<RenameAclEntry & { column: string }>;
  /** Grantees the replacement has now (from default privileges at its creation): cleared first. */
  replacementGrantees: Array<string | null>;
  comment: string | null;
  columns: Array<{ name: string; comment: string | null; statTarget: number | null }>;
  indexes: Array<{ oid: number; name: string; comment: string | null; clustered: boolean }>;
}

const ACL = (source: string): string =>
  `CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee)::text END AS grantee, x.privilege_type AS privilege, x.is_grantable AS grantable FROM ${source}`;

/**
 * Reads {@link MatviewSwitchFacts} of the old matview `oid` (named `schema.name` until the switch)
 * and the replacement `replacementOid`. One query at a time on the client.
 */
export async function readSwitchFacts(
  client: Queryable,
  oid: number,
  replacementOid: number,
  was: { schema: string; name: string },
): Promise<MatviewSwitchFacts> {
  const { rows: head } = await client.query<{ owner: string; me: string; acl_is_null: boolean; comment: string | null }>(
    `SELECT pg_catalog.pg_get_userbyid(c.relowner)::text AS owner, current_user::text AS me, c.relacl IS NULL AS acl_is_null,
            pg_catalog.obj_description(c.oid, 'pg_class') AS comment
       FROM pg_catalog.pg_class c WHERE c.oid = $1::int8::oid`,
    [oid],
  );
  const { rows: grants } = await client.query<RenameAclEntry>(
    `SELECT ${ACL('pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) AS x')} WHERE c.oid = $1::int8::oid`,
    [oid],
  );
  const { rows: replacementAcl } = await client.query<RenameAclEntry>(
    `SELECT ${ACL('pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) AS x')} WHERE c.oid = $1::int8::oid`,
    [replacementOid],
  );
  const { rows: columnGrants } = await client.query<RenameAclEntry & { column: string }>(
    `SELECT a.attname AS column, ${ACL('pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) AS x')}
      WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND a.attacl IS NOT NULL ORDER BY a.attnum`,
    [oid],
  );
  // PostgreSQL 17 stores no statistics target as NULL, earlier versions as -1.
  const { rows: columns } = await client.query<{ name: string; comment: string | null; target: number | null }>(
    `SELECT a.attname AS name, pg_catalog.col_description(a.attrelid, a.attnum) AS comment,
            CASE WHEN a.attstattarget IS NULL OR a.attstattarget < 0 THEN NULL ELSE a.attstattarget::int END AS target
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  const { rows: indexes } = await client.query<{ oid: string; name: string; comment: string | null; clustered: boolean }>(
    `SELECT c.oid::int8 AS oid, c.relname AS name, pg_catalog.obj_description(c.oid, 'pg_class') AS comment, i.indisclustered AS clustered
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = $1::int8::oid AND i.indisvalid ORDER BY c.oid`,
    [oid],
  );
  const h = head[0];
  return {
    schema: was.schema,
    name: was.name,
    owner: h?.owner ?? '',
    currentUser: h?.me ?? '',
    aclIsNull: h?.acl_is_null ?? true,
    grants,
    columnGrants,
    replacementGrantees: [...new Set(replacementAcl.map((g) => g.grantee))],
    comment: h?.comment ?? null,
    columns: columns.map((c) => ({ name: c.name, comment: c.comment, statTarget: c.target })),
    indexes: indexes.map((i) => ({ oid: Number(i.oid), name: i.name, comment: i.comment, clustered: i.clustered })),
  };
}

/**
 * The switch, after the old matview was renamed `pgtools_old_<oid>` under ACCESS EXCLUSIVE: drop
 * it, move the replacement (`replacement`, in the tool schema) into its schema under its name, give
 * its indexes the old names, then owner, grants, comments (matview, columns, indexes), statistics
 * targets and CLUSTER mark. Only the replacement's indexes in `built` (old index OIDs) are renamed.
 * Pure.
 *
 * @example
 * ```ts
 * matviewSwitchSql(16400, { schema: 'pgtools', name: 'matview_16400' }, facts, new Set([16410]));
 * // ['DROP MATERIALIZED VIEW "public"."pgtools_old_16400"', 'ALTER MATERIALIZED VIEW "pgtools"."matview_16400" SET SCHEMA "public"', ...]
 * ```
 */
export function matviewSwitchSql(oid: number, replacement: { schema: string; name: string }, f: MatviewSwitchFacts, built: ReadonlySet<number>): string[] {
  const out: string[] = [`DROP MATERIALIZED VIEW ${quoteQualified(f.schema, oldMatviewName(oid))}`];
  if (replacement.schema !== f.schema)
    out.push(`ALTER MATERIALIZED VIEW ${quoteQualified(replacement.schema, replacement.name)} SET SCHEMA ${quoteIdent(f.schema)}`);
  out.push(`ALTER MATERIALIZED VIEW ${quoteQualified(f.schema, replacement.name)} RENAME TO ${quoteIdent(f.name)}`);
  const M = quoteQualified(f.schema, f.name);
  for (const i of f.indexes) {
    if (built.has(i.oid)) out.push(`ALTER INDEX ${quoteQualified(f.schema, replacementIndexName(i.oid))} RENAME TO ${quoteIdent(i.name)}`);
  }
  if (f.owner !== f.currentUser) out.push(`ALTER MATERIALIZED VIEW ${M} OWNER TO ${quoteIdent(f.owner)}`);
  aclSteps((_name, sql) => out.push(sql), {
    target: M,
    owner: f.owner,
    current: f.replacementGrantees.filter((g) => g !== f.owner),
    aclIsNull: f.aclIsNull,
    grants: f.grants,
    columnGrants: f.columnGrants,
  });
  if (f.comment !== null) out.push(`COMMENT ON MATERIALIZED VIEW ${M} IS ${quoteLiteral(f.comment)}`);
  for (const c of f.columns) {
    if (c.comment !== null) out.push(`COMMENT ON COLUMN ${M}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment)}`);
    if (c.statTarget !== null) out.push(`ALTER MATERIALIZED VIEW ${M} ALTER COLUMN ${quoteIdent(c.name)} SET STATISTICS ${c.statTarget}`);
  }
  for (const i of f.indexes) {
    if (!built.has(i.oid)) continue;
    if (i.comment !== null) out.push(`COMMENT ON INDEX ${quoteQualified(f.schema, i.name)} IS ${quoteLiteral(i.comment)}`);
    if (i.clustered) out.push(`ALTER MATERIALIZED VIEW ${M} CLUSTER ON ${quoteIdent(i.name)}`);
  }
  return out;
}

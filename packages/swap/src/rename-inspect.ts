import type { Queryable } from '@pgtools/core';
import type { TableInfo } from './catalog.js';

/**
 * Everything attached to the original table's OID that the rename swap must rebuild on the new table,
 * captured as server-deparsed text under a pg_catalog search path (every user object qualified), plus the
 * reasons it cannot be done. Captured before any rename: the texts name the table as schema.name, which
 * resolves to the new table once it has taken that name.
 */
export interface RenameInventory {
  blockers: string[];
  triggers: Array<{ name: string; def: string; enabled: string; comment: string | null }>;
  foreignKeysOut: Array<{ name: string; def: string; validated: boolean; comment: string | null }>;
  foreignKeysIn: Array<{ schema: string; table: string; name: string; def: string; validated: boolean; comment: string | null }>;
  checks: Array<{ name: string; def: string }>;
  constraintComments: Array<{ name: string; comment: string }>;
  policies: Array<{ name: string; permissive: boolean; cmd: string; roles: string[]; qual: string | null; withCheck: string | null; comment: string | null }>;
  views: Array<{ schema: string; name: string; def: string; reloptions: string[] }>;
  publications: Array<{ name: string; columns: string[] | null; filter: string | null }>;
  tableGrants: AclEntry[];
  tableAclIsNull: boolean;
  columnGrants: Array<AclEntry & { column: string }>;
  serialSequences: Array<{ oid: number; schema: string; name: string; column: string }>;
  identitySequences: Array<{ oid: number; schema: string; name: string; column: string }>;
  statistics: Array<{ oid: number; schema: string; name: string; shape: string; target: number; comment: string | null }>;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  replicaIdentity: string;
  replicaIdentityIndex: number | null;
  clusterIndex: number | null;
  tableComment: string | null;
  columns: Array<{ name: string; comment: string | null; statTarget: number; options: string[] }>;
  indexDetails: Array<{ oid: number; comment: string | null; statTargets: Array<{ position: number; target: number }> }>;
}

export interface AclEntry {
  /** null: PUBLIC. */
  grantee: string | null;
  privilege: string;
  grantable: boolean;
}

/** Reads the inventory; call it with the search path pinned to pg_catalog. */
export async function inspectForRename(
  client: Queryable,
  t: TableInfo,
  excludeTriggers: ReadonlySet<string>,
  ignoreRelations: ReadonlySet<number> = new Set(),
): Promise<RenameInventory> {
  const oid = [t.oid];
  const blockers: string[] = [];
  const q = async <R extends Record<string, unknown>>(sql: string, params: unknown[] = oid): Promise<R[]> =>
    (await client.query<R>(sql, params)).rows;

  if (t.isPartition) blockers.push('the table is a partition');
  if (t.ofType !== 0) blockers.push('the table is a typed table (CREATE TABLE ... OF type)');
  for (const r of await q<{ d: string }>(
    `SELECT CASE WHEN i.inhrelid = $1::int8::oid THEN 'the table inherits from ' || i.inhparent::regclass::text
                 ELSE 'table ' || i.inhrelid::regclass::text || ' inherits from the table' END AS d
       FROM pg_catalog.pg_inherits i WHERE i.inhrelid = $1::int8::oid OR i.inhparent = $1::int8::oid`,
  )) blockers.push(r.d);
  for (const r of await q<{ d: string }>(
    `SELECT 'the table belongs to ' || pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) AS d
       FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = $1::int8::oid AND d.deptype = 'e'`,
  )) blockers.push(r.d);
  for (const r of await q<{ d: string }>(
    `SELECT 'the table is replicated into by subscription ' || pg_catalog.quote_ident(s.subname) AS d
       FROM pg_catalog.pg_subscription_rel sr JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid
      WHERE sr.srrelid = $1::int8::oid`,
  )) blockers.push(r.d);

  // Every catalog row that depends on the table, its indexes or its row type: what is not recognised
  // below as something this module rebuilds makes the swap refuse, so nothing is silently left on the old OID.
  const deps = await q<{
    classid: string; objid: number; deptype: string; what: string; relkind: string | null; relowned: boolean | null;
    con_rel: number | null; con_frel: number | null; contype: string | null; tg_rel: number | null; tg_internal: boolean | null;
    rw_class: number | null; rw_relkind: string | null; rw_name: string | null; rw_owned: boolean | null; pol_rel: number | null;
    stx_rel: number | null; pr_rel: number | null; pub_owned: boolean | null; pub_name: string | null; ad_rel: number | null;
    ref_is_type: boolean; con_owned: boolean | null;
  }>(
    `WITH refs AS (
       SELECT 'pg_catalog.pg_class'::regclass AS cls, $1::int8::oid AS oid
       UNION ALL SELECT 'pg_catalog.pg_class'::regclass, i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = $1::int8::oid
       UNION ALL SELECT 'pg_catalog.pg_type'::regclass, c.reltype FROM pg_catalog.pg_class c WHERE c.oid = $1::int8::oid
       UNION ALL SELECT 'pg_catalog.pg_type'::regclass, ty.typarray FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_type ty ON ty.oid = c.reltype WHERE c.oid = $1::int8::oid AND ty.typarray <> 0
     )
     SELECT DISTINCT d.classid::regclass::text AS classid, d.objid::int8 AS objid, d.deptype::text AS deptype,
            pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS what,
            c.relkind::text AS relkind, pg_catalog.pg_has_role(c.relowner, 'USAGE') AS relowned,
            con.conrelid::int8 AS con_rel, con.confrelid::int8 AS con_frel, con.contype::text AS contype,
            pg_catalog.pg_has_role(cr.relowner, 'USAGE') AS con_owned,
            tg.tgrelid::int8 AS tg_rel, tg.tgisinternal AS tg_internal,
            rw.ev_class::int8 AS rw_class, rc.relkind::text AS rw_relkind,
            pg_catalog.quote_ident(rn.nspname) || '.' || pg_catalog.quote_ident(rc.relname) AS rw_name,
            pg_catalog.pg_has_role(rc.relowner, 'USAGE') AS rw_owned,
            pol.polrelid::int8 AS pol_rel, stx.stxrelid::int8 AS stx_rel,
            pr.prrelid::int8 AS pr_rel, pg_catalog.pg_has_role(pub.pubowner, 'USAGE') AS pub_owned, pub.pubname AS pub_name,
            ad.adrelid::int8 AS ad_rel, r.cls = 'pg_catalog.pg_type'::regclass AS ref_is_type
       FROM refs r
       JOIN pg_catalog.pg_depend d ON d.refclassid = r.cls AND d.refobjid = r.oid
       LEFT JOIN pg_catalog.pg_class c ON d.classid = 'pg_catalog.pg_class'::regclass AND c.oid = d.objid
       LEFT JOIN pg_catalog.pg_constraint con ON d.classid = 'pg_catalog.pg_constraint'::regclass AND con.oid = d.objid
       LEFT JOIN pg_catalog.pg_class cr ON cr.oid = con.conrelid
       LEFT JOIN pg_catalog.pg_trigger tg ON d.classid = 'pg_catalog.pg_trigger'::regclass AND tg.oid = d.objid
       LEFT JOIN pg_catalog.pg_rewrite rw ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND rw.oid = d.objid
       LEFT JOIN pg_catalog.pg_class rc ON rc.oid = rw.ev_class
       LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
       LEFT JOIN pg_catalog.pg_policy pol ON d.classid = 'pg_catalog.pg_policy'::regclass AND pol.oid = d.objid
       LEFT JOIN pg_catalog.pg_statistic_ext stx ON d.classid = 'pg_catalog.pg_statistic_ext'::regclass AND stx.oid = d.objid
       LEFT JOIN pg_catalog.pg_publication_rel pr ON d.classid = 'pg_catalog.pg_publication_rel'::regclass AND pr.oid = d.objid
       LEFT JOIN pg_catalog.pg_publication pub ON pub.oid = pr.prpubid
       LEFT JOIN pg_catalog.pg_attrdef ad ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND ad.oid = d.objid
      WHERE d.deptype <> 'e'`,
  );
  const self = t.oid;
  for (const d of deps) {
    const objid = Number(d.objid);
    // The caller's own helper tables (the repack's change log keeps rows of the table's type) go away before the swap.
    if (d.classid === 'pg_class' && ignoreRelations.has(objid)) continue;
    if (d.ref_is_type) {
      // The row type's own array type and the table itself are internal; anything else uses the row type.
      if (d.classid === 'pg_type' || (d.classid === 'pg_class' && objid === self)) continue;
      blockers.push(`${d.what} uses the table's row type`);
      continue;
    }
    switch (d.classid) {
      case 'pg_type':
        if (objid === t.rowTypeOid) continue;
        break;
      case 'pg_class':
        if (d.relkind === 'i' || d.relkind === 't' || d.relkind === 'S') continue;
        break;
      case 'pg_attrdef':
        if (Number(d.ad_rel) === self) continue;
        break;
      case 'pg_constraint':
        if (Number(d.con_rel) === self && d.contype !== 'x') continue;
        if (d.contype === 'x') {
          blockers.push(`${d.what} is an exclusion constraint (not supported by the rename swap)`);
          continue;
        }
        if (d.contype === 'f' && Number(d.con_frel) === self) {
          if (d.con_owned !== true) blockers.push(`${d.what} references the table and the current role does not own its table`);
          continue;
        }
        break;
      case 'pg_trigger':
        if (Number(d.tg_rel) === self) continue;
        break;
      case 'pg_rewrite':
        if (d.rw_relkind === 'v' && Number(d.rw_class) !== self) {
          if (d.rw_owned !== true) blockers.push(`view ${d.rw_name ?? '?'} reads the table and the current role does not own it`);
          continue;
        }
        if (d.rw_relkind === 'm') {
          blockers.push(`materialized view ${d.rw_name ?? '?'} reads the table (not supported by the rename swap)`);
          continue;
        }
        if (Number(d.rw_class) === self) {
          blockers.push(`${d.what} is a rule on the table (not supported by the rename swap)`);
          continue;
        }
        break;
      case 'pg_policy':
        if (Number(d.pol_rel) === self) continue;
        break;
      case 'pg_statistic_ext':
        if (Number(d.stx_rel) === self) continue;
        break;
      case 'pg_publication_rel':
        if (Number(d.pr_rel) === self) {
          if (d.pub_owned !== true) blockers.push(`publication ${JSON.stringify(d.pub_name)} lists the table and the current role does not own it`);
          continue;
        }
        break;
      default:
        break;
    }
    blockers.push(`${d.what} depends on the table (${d.classid}, not moved by the rename swap)`);
  }

  const triggers = (
    await q<{ name: string; def: string; enabled: string; comment: string | null }>(
      `SELECT tg.tgname AS name, pg_catalog.pg_get_triggerdef(tg.oid) AS def, tg.tgenabled::text AS enabled,
              pg_catalog.obj_description(tg.oid, 'pg_trigger') AS comment
         FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = $1::int8::oid AND NOT tg.tgisinternal ORDER BY tg.tgname`,
    )
  ).filter((tg) => !excludeTriggers.has(tg.name));

  const constraints = await q<{
    name: string; def: string; contype: string; validated: boolean; conrelid: number; schema: string; table: string; comment: string | null;
  }>(
    `SELECT con.conname AS name, pg_catalog.pg_get_constraintdef(con.oid) AS def, con.contype::text AS contype,
            con.convalidated AS validated, con.conrelid::int8 AS conrelid, n.nspname AS schema, c.relname AS table,
            pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
       FROM pg_catalog.pg_constraint con
       JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE con.conrelid = $1::int8::oid OR (con.confrelid = $1::int8::oid AND con.contype = 'f')
      ORDER BY con.conname`,
  );
  const own = constraints.filter((c) => Number(c.conrelid) === self);
  const foreignKeysOut = own.filter((c) => c.contype === 'f').map((c) => ({ name: c.name, def: c.def, validated: c.validated, comment: c.comment }));
  const foreignKeysIn = constraints
    .filter((c) => Number(c.conrelid) !== self)
    .map((c) => ({ schema: c.schema, table: c.table, name: c.name, def: c.def, validated: c.validated, comment: c.comment }));
  const checks = own.filter((c) => c.contype === 'c').map((c) => ({ name: c.name, def: c.def }));
  const constraintComments = own
    .filter((c) => c.comment !== null && c.contype !== 'f')
    .map((c) => ({ name: c.name, comment: c.comment as string }));

  const policies = (
    await q<{ name: string; permissive: boolean; cmd: string; roles: string[]; qual: string | null; with_check: string | null; comment: string | null }>(
      `SELECT p.polname AS name, p.polpermissive AS permissive, p.polcmd::text AS cmd,
              ARRAY(SELECT CASE WHEN r = 0 THEN '' ELSE pg_catalog.pg_get_userbyid(r)::text END FROM pg_catalog.unnest(p.polroles) AS r) AS roles,
              pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual, pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
              pg_catalog.obj_description(p.oid, 'pg_policy') AS comment
         FROM pg_catalog.pg_policy p WHERE p.polrelid = $1::int8::oid ORDER BY p.polname`,
    )
  ).map((p) => ({ name: p.name, permissive: p.permissive, cmd: p.cmd, roles: p.roles, qual: p.qual, withCheck: p.with_check, comment: p.comment }));

  const views = await q<{ schema: string; name: string; def: string; reloptions: string[] }>(
    `SELECT DISTINCT n.nspname AS schema, c.relname AS name, pg_catalog.pg_get_viewdef(c.oid) AS def,
            COALESCE(c.reloptions, '{}') AS reloptions
       FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
       JOIN pg_catalog.pg_class c ON c.oid = rw.ev_class
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
        AND d.refobjid = $1::int8::oid AND c.relkind = 'v' AND c.oid <> $1::int8::oid`,
  );

  const publications = await q<{ name: string; columns: string[] | null; filter: string | null }>(
    `SELECT p.pubname AS name,
            CASE WHEN pr.prattrs IS NULL THEN NULL ELSE ARRAY(
              SELECT a.attname::text FROM pg_catalog.unnest(pr.prattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k.attnum ORDER BY k.ord) END AS columns,
            pg_catalog.pg_get_expr(pr.prqual, pr.prrelid) AS filter
       FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
      WHERE pr.prrelid = $1::int8::oid ORDER BY p.pubname`,
  );

  const aclSql = (source: string) =>
    `SELECT CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee) END AS grantee,
            x.privilege_type AS privilege, x.is_grantable AS grantable
       FROM ${source}, pg_catalog.aclexplode(acl) AS x`;
  const tableGrants = await q<AclEntry & Record<string, unknown>>(
    aclSql('(SELECT c.relacl AS acl FROM pg_catalog.pg_class c WHERE c.oid = $1::int8::oid) s'),
  );
  const aclNull = await q<{ n: boolean }>('SELECT c.relacl IS NULL AS n FROM pg_catalog.pg_class c WHERE c.oid = $1::int8::oid');
  const columnGrants = await q<AclEntry & { column: string } & Record<string, unknown>>(
    `SELECT a.attname AS column, CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee) END AS grantee,
            x.privilege_type AS privilege, x.is_grantable AS grantable
       FROM pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) AS x
      WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
      ORDER BY a.attnum`,
  );

  const sequences = await q<{ oid: number; schema: string; name: string; column: string; deptype: string }>(
    `SELECT s.oid::int8 AS oid, n.nspname AS schema, s.relname AS name, a.attname AS column, d.deptype::text AS deptype
       FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
        AND d.refobjid = $1::int8::oid AND d.deptype IN ('a', 'i')
      ORDER BY a.attnum`,
  );
  const toSeq = (s: (typeof sequences)[number]) => ({ oid: Number(s.oid), schema: s.schema, name: s.name, column: s.column });

  const statistics = await q<{ oid: number; schema: string; name: string; shape: string; target: number; comment: string | null }>(
    statisticsSql,
  );

  const flags = await q<{
    relrowsecurity: boolean; relforcerowsecurity: boolean; relreplident: string; ri_index: number | null; cl_index: number | null; comment: string | null;
  }>(
    `SELECT c.relrowsecurity, c.relforcerowsecurity, c.relreplident::text AS relreplident,
            (SELECT i.indexrelid::int8 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS ri_index,
            (SELECT i.indexrelid::int8 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisclustered) AS cl_index,
            pg_catalog.obj_description(c.oid, 'pg_class') AS comment
       FROM pg_catalog.pg_class c WHERE c.oid = $1::int8::oid`,
  );
  const f = flags[0]!;
  const columns = await q<{ name: string; comment: string | null; stat_target: number; options: string[] }>(
    `SELECT a.attname AS name, pg_catalog.col_description(a.attrelid, a.attnum) AS comment, a.attstattarget AS stat_target,
            COALESCE(a.attoptions, '{}') AS options
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
  );
  const indexDetails = await q<{ oid: number; comment: string | null; stat_targets: Array<{ position: number; target: number }> }>(
    `SELECT i.indexrelid::int8 AS oid, pg_catalog.obj_description(i.indexrelid, 'pg_class') AS comment,
            COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_object('position', a.attnum, 'target', a.attstattarget))
                        FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0), '[]') AS stat_targets
       FROM pg_catalog.pg_index i WHERE i.indrelid = $1::int8::oid`,
  );

  return {
    blockers,
    triggers,
    foreignKeysOut,
    foreignKeysIn,
    checks,
    constraintComments,
    policies,
    views,
    publications,
    tableGrants: tableGrants.map((g) => ({ grantee: g.grantee, privilege: g.privilege, grantable: g.grantable })),
    tableAclIsNull: aclNull[0]?.n ?? true,
    columnGrants,
    serialSequences: sequences.filter((s) => s.deptype === 'a').map(toSeq),
    identitySequences: sequences.filter((s) => s.deptype === 'i').map(toSeq),
    statistics: statistics.map((s) => ({ ...s, oid: Number(s.oid) })),
    rowSecurity: f.relrowsecurity,
    forceRowSecurity: f.relforcerowsecurity,
    replicaIdentity: f.relreplident,
    replicaIdentityIndex: f.ri_index === null ? null : Number(f.ri_index),
    clusterIndex: f.cl_index === null ? null : Number(f.cl_index),
    tableComment: f.comment,
    columns: columns.map((c) => ({ name: c.name, comment: c.comment, statTarget: c.stat_target, options: c.options })),
    indexDetails: indexDetails.map((d) => ({ oid: Number(d.oid), comment: d.comment, statTargets: d.stat_targets })),
  };
}

/** Extended statistics of a table with a name-free shape to pair the original's objects with the shadow's. */
export const statisticsSql = `
    SELECT s.oid::int8 AS oid, n.nspname AS schema, s.stxname AS name,
           pg_catalog.concat_ws(' | ', s.stxkind::text,
             (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ',' ORDER BY a.attname)
                FROM pg_catalog.pg_attribute a WHERE a.attrelid = s.stxrelid AND a.attnum = ANY (s.stxkeys::int2[])),
             pg_catalog.pg_get_statisticsobjdef_expressions(s.oid)::text) AS shape,
           s.stxstattarget AS target, pg_catalog.obj_description(s.oid, 'pg_statistic_ext') AS comment
      FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
     WHERE s.stxrelid = $1::int8::oid ORDER BY s.oid`;

import type { Queryable } from '@pgtools/core';
import type { TableInfo } from './catalog.js';
import type { AclEntry, PartitionFacts, RenameDependent, RenameTableFacts, StatObject } from './rename-facts.js';
import { readDependentViews } from './rename-views.js';

/**
 * Reads everything attached to the table that the rename swap must rebuild or refuse (see
 * {@link RenameTableFacts}); call it with the search path pinned to pg_catalog. It only reads:
 * what cannot be moved is decided by renameBlockers. `viewTree: false` leaves the view tree out
 * (for a caller in a long transaction that recreates no views: reading it locks every view).
 */
export async function readRenameTableFacts(client: Queryable, t: TableInfo, options: { viewTree?: boolean } = {}): Promise<RenameTableFacts> {
  const oid = [t.oid];
  const q = async <R extends Record<string, unknown>>(sql: string, params: unknown[] = oid): Promise<R[]> => (await client.query<R>(sql, params)).rows;

  const inheritance = await q<{ role: 'child' | 'parent'; other: string }>(
    `SELECT CASE WHEN i.inhrelid = $1::int8::oid THEN 'child' ELSE 'parent' END AS role,
            CASE WHEN i.inhrelid = $1::int8::oid THEN i.inhparent ELSE i.inhrelid END::regclass::text AS other
       FROM pg_catalog.pg_inherits i WHERE i.inhrelid = $1::int8::oid OR i.inhparent = $1::int8::oid`,
  );
  const partition = t.isPartition ? await readPartition(client, t.oid) : null;
  const extensions = await q<{ d: string }>(
    `SELECT pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) AS d
       FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = $1::int8::oid AND d.deptype = 'e'`,
  );
  const subscriptions = await q<{ d: string }>(
    `SELECT pg_catalog.quote_ident(s.subname) AS d
       FROM pg_catalog.pg_subscription_rel sr JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid
      WHERE sr.srrelid = $1::int8::oid`,
  );

  // Every catalog row that depends on the table, its indexes or its row type: what renameBlockers does not
  // recognise as something the swap rebuilds makes it refuse, so nothing is silently left on the old OID.
  const deps = await q<{
    classid: string;
    objid: number;
    deptype: string;
    what: string;
    relkind: string | null;
    relowned: boolean | null;
    con_rel: number | null;
    con_frel: number | null;
    contype: string | null;
    tg_rel: number | null;
    tg_internal: boolean | null;
    rw_class: number | null;
    rw_relkind: string | null;
    rw_name: string | null;
    rw_owned: boolean | null;
    pol_rel: number | null;
    stx_rel: number | null;
    pr_rel: number | null;
    pub_owned: boolean | null;
    pub_name: string | null;
    ad_rel: number | null;
    ref_is_type: boolean;
    con_owned: boolean | null;
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
  const dependents: RenameDependent[] = deps.map((d) => ({
    classid: d.classid,
    objid: Number(d.objid),
    deptype: d.deptype,
    what: d.what,
    relkind: d.relkind,
    conRel: numOrNull(d.con_rel),
    conFrel: numOrNull(d.con_frel),
    contype: d.contype,
    conOwned: d.con_owned,
    tgRel: numOrNull(d.tg_rel),
    rwClass: numOrNull(d.rw_class),
    rwRelkind: d.rw_relkind,
    rwName: d.rw_name,
    rwOwned: d.rw_owned,
    polRel: numOrNull(d.pol_rel),
    stxRel: numOrNull(d.stx_rel),
    prRel: numOrNull(d.pr_rel),
    pubOwned: d.pub_owned,
    pubName: d.pub_name,
    adRel: numOrNull(d.ad_rel),
    refIsType: d.ref_is_type,
  }));
  const self = t.oid;

  const triggers = await q<{ name: string; def: string; enabled: string; comment: string | null; inherited: boolean }>(
    `SELECT tg.tgname AS name, pg_catalog.pg_get_triggerdef(tg.oid) AS def, tg.tgenabled::text AS enabled, tg.tgparentid <> 0 AS inherited,
            pg_catalog.obj_description(tg.oid, 'pg_trigger') AS comment
       FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = $1::int8::oid AND NOT tg.tgisinternal ORDER BY tg.tgname`,
  );

  const constraints = await q<{
    name: string;
    def: string;
    contype: string;
    validated: boolean;
    conrelid: number;
    schema: string;
    table: string;
    comment: string | null;
    column: string | null;
    inherited: boolean;
  }>(
    `SELECT con.conname AS name, pg_catalog.pg_get_constraintdef(con.oid) AS def, con.contype::text AS contype,
            (SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = con.conrelid AND a.attnum = con.conkey[1]) AS column,
            con.convalidated AS validated, con.conrelid::int8 AS conrelid, n.nspname AS schema, c.relname AS table, con.conparentid <> 0 AS inherited,
            pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
       FROM pg_catalog.pg_constraint con
       JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE con.conrelid = $1::int8::oid OR (con.confrelid = $1::int8::oid AND con.contype = 'f')
      ORDER BY con.conname`,
  );
  const own = constraints.filter((c) => Number(c.conrelid) === self);
  const foreignKeysOut = own
    .filter((c) => c.contype === 'f')
    .map((c) => ({ name: c.name, def: c.def, validated: c.validated, comment: c.comment, inherited: c.inherited }));
  const foreignKeysIn = constraints
    .filter((c) => Number(c.conrelid) !== self)
    .map((c) => ({ schema: c.schema, table: c.table, name: c.name, def: c.def, validated: c.validated, comment: c.comment, inherited: c.inherited }));
  const checks = own.filter((c) => c.contype === 'c').map((c) => ({ name: c.name, def: c.def, validated: c.validated }));
  const notNulls = own.filter((c) => c.contype === 'n').map((c) => ({ name: c.name, column: c.column ?? '', def: c.def, validated: c.validated }));
  const constraintComments = own.filter((c) => c.comment !== null && c.contype !== 'f').map((c) => ({ name: c.name, comment: c.comment as string }));

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

  // pg_get_viewdef locks each view until the transaction ends: only read the whole tree when it is wanted.
  const viewTree = options.viewTree === false ? [] : await readDependentViews(client, t.oid);

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
  const tableGrants = await q<AclEntry & Record<string, unknown>>(aclSql('(SELECT c.relacl AS acl FROM pg_catalog.pg_class c WHERE c.oid = $1::int8::oid) s'));
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

  const statistics = await readStatistics(client, t.oid);

  const flags = await q<{
    relrowsecurity: boolean;
    relforcerowsecurity: boolean;
    relreplident: string;
    ri_index: number | null;
    cl_index: number | null;
    comment: string | null;
  }>(
    `SELECT c.relrowsecurity, c.relforcerowsecurity, c.relreplident::text AS relreplident,
            (SELECT i.indexrelid::int8 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS ri_index,
            (SELECT i.indexrelid::int8 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisclustered) AS cl_index,
            pg_catalog.obj_description(c.oid, 'pg_class') AS comment
       FROM pg_catalog.pg_class c WHERE c.oid = $1::int8::oid`,
  );
  const f = flags[0]!;
  const columns = await q<{ name: string; comment: string | null; stat_target: number | null; options: string[] }>(
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
    table: t,
    inheritance,
    partition,
    extensions: extensions.map((r) => r.d),
    subscriptions: subscriptions.map((r) => r.d),
    dependents,
    triggers,
    foreignKeysOut,
    foreignKeysIn,
    checks,
    notNulls,
    constraintComments,
    policies,
    views,
    viewTree,
    publications,
    tableGrants: tableGrants.map((g) => ({ grantee: g.grantee, privilege: g.privilege, grantable: g.grantable })),
    tableAclIsNull: aclNull[0]?.n ?? true,
    columnGrants: columnGrants.map((g) => ({ column: g.column, grantee: g.grantee, privilege: g.privilege, grantable: g.grantable })),
    serialSequences: sequences.filter((s) => s.deptype === 'a').map(toSeq),
    identitySequences: sequences.filter((s) => s.deptype === 'i').map(toSeq),
    statistics,
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

/** A partition's parent, bound, partition constraint, the parent's default partition and the partitioned indexes its indexes belong to. */
async function readPartition(client: Queryable, oid: number): Promise<PartitionFacts | null> {
  const { rows } = await client.query<{
    parent_oid: number;
    parent_schema: string;
    parent_name: string;
    parent_owned: boolean;
    bound: string;
    constraint: string | null;
    other_default: string | null;
    index_parents: Array<{ index: number; parent: string }>;
  }>(
    `SELECT p.oid::int8 AS parent_oid, pn.nspname AS parent_schema, p.relname AS parent_name, pg_catalog.pg_has_role(p.relowner, 'USAGE') AS parent_owned,
            pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound, pg_catalog.pg_get_partition_constraintdef(c.oid) AS constraint,
            (SELECT pg_catalog.quote_ident(dn.nspname) || '.' || pg_catalog.quote_ident(d.relname)
               FROM pg_catalog.pg_partitioned_table pt JOIN pg_catalog.pg_class d ON d.oid = pt.partdefid
               JOIN pg_catalog.pg_namespace dn ON dn.oid = d.relnamespace
              WHERE pt.partrelid = p.oid AND pt.partdefid <> c.oid) AS other_default,
            COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_object('index', ii.inhrelid::int8,
                        'parent', pg_catalog.quote_ident(xn.nspname) || '.' || pg_catalog.quote_ident(x.relname)) ORDER BY ii.inhrelid)
                        FROM pg_catalog.pg_index i JOIN pg_catalog.pg_inherits ii ON ii.inhrelid = i.indexrelid
                        JOIN pg_catalog.pg_class x ON x.oid = ii.inhparent JOIN pg_catalog.pg_namespace xn ON xn.oid = x.relnamespace
                       WHERE i.indrelid = c.oid), '[]') AS index_parents
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_inherits inh ON inh.inhrelid = c.oid
       JOIN pg_catalog.pg_class p ON p.oid = inh.inhparent
       JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
      WHERE c.oid = $1::int8::oid AND c.relispartition`,
    [oid],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    parentOid: Number(r.parent_oid),
    parentSchema: r.parent_schema,
    parentName: r.parent_name,
    parentOwned: r.parent_owned,
    bound: r.bound,
    constraint: r.constraint,
    otherDefault: r.other_default,
    indexParents: r.index_parents.map((x) => ({ index: Number(x.index), parent: x.parent })),
  };
}

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** Extended statistics of a table with a name-free shape to pair the original's objects with the shadow's. */
export async function readStatistics(client: Queryable, tableOid: number): Promise<StatObject[]> {
  const { rows } = await client.query<StatObject>(statisticsSql, [tableOid]);
  return rows.map((r) => ({ oid: Number(r.oid), schema: r.schema, name: r.name, shape: r.shape, target: r.target, comment: r.comment }));
}

const statisticsSql = `
    SELECT s.oid::int8 AS oid, n.nspname AS schema, s.stxname AS name,
           pg_catalog.concat_ws(' | ', s.stxkind::text,
             (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ',' ORDER BY a.attname)
                FROM pg_catalog.pg_attribute a WHERE a.attrelid = s.stxrelid AND a.attnum = ANY (s.stxkeys::int2[])),
             pg_catalog.pg_get_statisticsobjdef_expressions(s.oid)::text) AS shape,
           s.stxstattarget AS target, pg_catalog.obj_description(s.oid, 'pg_statistic_ext') AS comment
      FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
     WHERE s.stxrelid = $1::int8::oid ORDER BY s.oid`;

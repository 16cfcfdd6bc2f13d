import { displayName, quoteIdent, quoteLiteral, quoteQualified, type Queryable } from '@pgtools/core';
import { aclSteps } from './acl-steps.js';
import { createViewSql } from './reloptions.js';
import type { AclEntry, ColumnChanges, DependentView, RenameStepName } from './rename-facts.js';
import type { StepContext } from './rename-step-context.js';

export type { DependentView } from './rename-facts.js';

/**
 * Whether the rename swap drops and recreates the views over the table instead of re-binding them
 * with CREATE OR REPLACE: a retyped column may change a view's column types, which CREATE OR
 * REPLACE VIEW refuses (and so may a whole-row reference, which pg_depend records on no column).
 */
export function recreatesViews(changes: ColumnChanges | undefined): boolean {
  return (changes?.retyped.length ?? 0) > 0;
}

/**
 * Reads every view that reads the table, directly or through other views, in an order where a view
 * comes after every view it reads (by the longest path from the table). Definitions are printed
 * under the current search path. Reading them takes ACCESS SHARE on each view until the transaction
 * ends: call it in autocommit or in a transaction that ends soon.
 */
export async function readDependentViews(client: Queryable, tableOid: number): Promise<DependentView[]> {
  const { rows: views } = await client.query<{
    oid: string;
    schema: string;
    name: string;
    def: string;
    reloptions: string[];
    owner: string;
    owned: boolean;
    acl_is_null: boolean;
    comment: string | null;
  }>(
    `WITH RECURSIVE tree(oid, depth) AS (
       SELECT rw.ev_class, 1 FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid JOIN pg_catalog.pg_class c ON c.oid = rw.ev_class
        WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
          AND d.refobjid = $1::int8::oid AND rw.ev_class <> $1::int8::oid AND c.relkind = 'v'
       UNION
       SELECT rw.ev_class, t.depth + 1 FROM tree t
         JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = t.oid
                                    AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
         JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid JOIN pg_catalog.pg_class c ON c.oid = rw.ev_class
        WHERE rw.ev_class <> t.oid AND c.relkind = 'v')
     SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, pg_catalog.pg_get_viewdef(c.oid) AS def,
            COALESCE(c.reloptions, '{}') AS reloptions, pg_catalog.pg_get_userbyid(c.relowner)::text AS owner,
            pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owned, c.relacl IS NULL AS acl_is_null,
            pg_catalog.obj_description(c.oid, 'pg_class') AS comment
       FROM (SELECT t.oid, max(t.depth) AS depth FROM tree t GROUP BY t.oid) t
       JOIN pg_catalog.pg_class c ON c.oid = t.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      ORDER BY t.depth, c.oid`,
    [tableOid],
  );
  if (views.length === 0) return [];
  const oids = views.map((v) => v.oid);
  const acl = (source: string) =>
    `CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee)::text END AS grantee, x.privilege_type AS privilege, x.is_grantable AS grantable
       FROM ${source}`;
  // One query at a time on a client.
  const { rows: grants } = await client.query<AclEntry & { view: string }>(
    `SELECT c.oid::int8 AS view, ${acl('pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) AS x')} WHERE c.oid = ANY ($1::int8[]::oid[])`,
    [oids],
  );
  const { rows: columnGrants } = await client.query<AclEntry & { view: string; column: string }>(
    `SELECT a.attrelid::int8 AS view, a.attname AS column, ${acl('pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) AS x')}
      WHERE a.attrelid = ANY ($1::int8[]::oid[]) AND a.attnum > 0 AND a.attacl IS NOT NULL ORDER BY a.attnum`,
    [oids],
  );
  const { rows: defaults } = await client.query<{ view: string; grantee: string | null }>(
    `SELECT DISTINCT c.oid::int8 AS view, CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee)::text END AS grantee
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_default_acl da ON da.defaclobjtype = 'r' AND da.defaclnamespace IN (0, c.relnamespace)
                                        AND da.defaclrole = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user),
            pg_catalog.aclexplode(da.defaclacl) AS x
      WHERE c.oid = ANY ($1::int8[]::oid[])`,
    [oids],
  );
  const { rows: columns } = await client.query<{ view: string; name: string; comment: string | null; default: string | null }>(
    `SELECT a.attrelid::int8 AS view, a.attname AS name, pg_catalog.col_description(a.attrelid, a.attnum) AS comment,
            pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS default
       FROM pg_catalog.pg_attribute a
       LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      WHERE a.attrelid = ANY ($1::int8[]::oid[]) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oids],
  );
  // What depends on each view, its row type or that type's array type, but its own rule, row type and column defaults.
  const { rows: dependents } = await client.query<{ view: string; what: string; kind: DependentView['dependents'][number]['kind']; relation: string | null }>(
    `WITH refs AS (
       SELECT c.oid AS view, 'pg_catalog.pg_class'::pg_catalog.regclass AS cls, c.oid AS oid FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::int8[]::oid[])
       UNION ALL SELECT c.oid, 'pg_catalog.pg_type'::pg_catalog.regclass, c.reltype FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::int8[]::oid[])
       UNION ALL SELECT c.oid, 'pg_catalog.pg_type'::pg_catalog.regclass, ty.typarray FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_type ty ON ty.oid = c.reltype WHERE c.oid = ANY ($1::int8[]::oid[]) AND ty.typarray <> 0)
     SELECT DISTINCT r.view::int8 AS view, pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS what,
            CASE WHEN rw.oid IS NULL THEN CASE WHEN d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN 'trigger' ELSE 'other' END
                 WHEN rw.rulename <> '_RETURN' THEN 'rule' WHEN rc.relkind = 'm' THEN 'materialized view' WHEN rc.relkind = 'v' THEN 'view' ELSE 'other' END AS kind,
            rw.ev_class::int8 AS relation
       FROM refs r
       JOIN pg_catalog.pg_depend d ON d.refclassid = r.cls AND d.refobjid = r.oid
       LEFT JOIN pg_catalog.pg_rewrite rw ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND rw.oid = d.objid
       LEFT JOIN pg_catalog.pg_class rc ON rc.oid = rw.ev_class
      WHERE NOT (rw.oid IS NOT NULL AND rw.ev_class = r.view AND rw.rulename = '_RETURN')
        AND NOT (d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass)
        AND NOT (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = r.view)
        AND NOT (d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                 AND EXISTS (SELECT FROM pg_catalog.pg_attrdef ad WHERE ad.oid = d.objid AND ad.adrelid = r.view))
      ORDER BY 1, 2`,
    [oids],
  );
  const of = <R extends { view: string }>(list: R[], oid: string) => list.filter((r) => String(r.view) === String(oid));
  return views.map((v) => ({
    oid: Number(v.oid),
    schema: v.schema,
    name: v.name,
    def: v.def,
    reloptions: v.reloptions,
    owner: v.owner,
    owned: v.owned,
    aclIsNull: v.acl_is_null,
    grants: of(grants, v.oid).map((g) => ({ grantee: g.grantee, privilege: g.privilege, grantable: g.grantable })),
    columnGrants: of(columnGrants, v.oid).map((g) => ({ column: g.column, grantee: g.grantee, privilege: g.privilege, grantable: g.grantable })),
    defaultGrantees: of(defaults, v.oid).map((d) => d.grantee),
    comment: v.comment,
    columns: of(columns, v.oid).map((c) => ({ name: c.name, comment: c.comment, default: c.default })),
    dependents: of(dependents, v.oid).map((d) => ({ what: d.what, kind: d.kind, relation: d.relation === null ? null : Number(d.relation) })),
  }));
}

/**
 * Why the views over the table cannot be dropped and created again (empty when they can): a view
 * the current role does not own, and anything but another view of the tree that depends on one
 * (a materialized view would run its query under the swap's lock; rules, triggers, functions of its
 * row type would be lost). Pure.
 */
export function viewTreeBlockers(views: readonly DependentView[]): string[] {
  const tree = new Set(views.map((v) => v.oid));
  const blockers: string[] = [];
  for (const v of views) {
    const name = `view ${displayName(v.schema, v.name)}`;
    if (!v.owned) blockers.push(`${name} reads the table and the current role does not own it (recreating it needs its owner)`);
    // Another session's temporary view: no other session can create relations in its schema.
    if (/^pg_temp_\d+$/.test(v.schema)) blockers.push(`${name} is a temporary view of another session (it cannot be recreated)`);
    for (const d of v.dependents) {
      if (d.kind === 'view' && d.relation !== null && tree.has(d.relation)) continue;
      if (d.kind === 'materialized view') {
        blockers.push(
          `${d.what.replace(/^rule _RETURN on /, '')} reads ${name}: recreating it would run its query under the swap's lock; drop it before the run and create it again after`,
        );
      } else {
        blockers.push(`${d.what} depends on ${name}, which must be recreated (not supported: drop it before the run and create it again after)`);
      }
    }
  }
  return blockers;
}

/**
 * Drops every view of the tree (dependents first) and creates it again on the new table, in an
 * order where each comes after the views it reads: the definition with its options, then its
 * owner, column defaults, ACL (clearing what default privileges gave), column grants and comments.
 * Pure; throws `rename_swap_failed` for a privilege it does not know (aclSteps).
 */
export function recreateViewSteps(ctx: StepContext): void {
  ctx.moved.views.push(...viewTreeSteps(ctx.attached.viewTree, ctx.facts.role.name, ctx.swap));
}

/**
 * The statements of {@link recreateViewSteps} for a list of views from {@link readDependentViews},
 * each passed to `add` (the role is the one that will run them: a view it creates is its own until
 * given back to its owner). Returns the views' names. Pure.
 *
 * @example
 * ```ts
 * const sql: string[] = [];
 * viewTreeSteps(await readDependentViews(client, tableOid), 'app', (_, s) => sql.push(s));
 * ```
 */
export function viewTreeSteps(views: readonly DependentView[], role: string, add: (name: RenameStepName, sql: string) => void): string[] {
  const done: string[] = [];
  for (const v of [...views].reverse()) add('view', `DROP VIEW ${quoteQualified(v.schema, v.name)}`);
  for (const v of views) {
    const V = quoteQualified(v.schema, v.name);
    add('view', createViewSql('CREATE VIEW', V, v.reloptions, v.def));
    if (v.owner !== role) add('owner', `ALTER VIEW ${V} OWNER TO ${quoteIdent(v.owner)}`);
    for (const c of v.columns) {
      if (c.default !== null) add('view', `ALTER VIEW ${V} ALTER COLUMN ${quoteIdent(c.name)} SET DEFAULT ${c.default}`);
    }
    aclSteps(add, { target: V, owner: v.owner, current: v.defaultGrantees, aclIsNull: v.aclIsNull, grants: v.grants, columnGrants: v.columnGrants });
    if (v.comment !== null) add('comment', `COMMENT ON VIEW ${V} IS ${quoteLiteral(v.comment)}`);
    for (const c of v.columns) {
      if (c.comment !== null) add('comment', `COMMENT ON COLUMN ${V}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment)}`);
    }
    done.push(displayName(v.schema, v.name));
  }
  return done;
}

import { displayName, PgToolsError, type Queryable } from '@pgtools/core';
import { withSearchPath } from '@pgtools/swap';

/**
 * The materialized views reading a table directly, as the rename swap leaves them: on the old
 * table, which is kept until each is rebuilt on the new one (phases/matviews.ts). What is read
 * before the swap: what the replacement is created from (in the swap's transaction, WITH NO DATA)
 * and what would keep the old one from being dropped.
 */
export interface MatviewFacts {
  oid: number;
  schema: string;
  name: string;
  /** The query, printed with every name schema-qualified (pg_catalog first in the search path). */
  def: string;
  reloptions: string[];
  /** null: the database's default tablespace. */
  tablespace: string | null;
  accessMethod: string | null;
  owner: string;
  /** The current role is a member of its owner (it may drop it and create its replacement). */
  owned: boolean;
  /** The current role may create in its schema (the replacement moves there). */
  canCreate: boolean;
  /** What depends on it (but its own rule, row type, indexes and TOAST table): it would be lost with it. */
  dependents: string[];
}

/**
 * Reads the materialized views whose query reads the table (pg_depend through their `_RETURN`
 * rules), by OID. Printing a definition takes ACCESS SHARE on the matview until the transaction
 * ends: call it in autocommit.
 */
export async function readMatviews(client: Queryable, tableOid: number): Promise<MatviewFacts[]> {
  const { rows } = await withSearchPath(client, 'pg_catalog, pg_temp', { local: false }, () =>
    client.query<{
      oid: string;
      schema: string;
      name: string;
      def: string;
      reloptions: string[];
      tablespace: string | null;
      am: string | null;
      owner: string;
      owned: boolean;
      can_create: boolean;
    }>(
      `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, pg_catalog.pg_get_viewdef(c.oid) AS def,
              COALESCE(c.reloptions, '{}') AS reloptions, ts.spcname AS tablespace, am.amname AS am,
              pg_catalog.pg_get_userbyid(c.relowner)::text AS owner, pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owned,
              pg_catalog.has_schema_privilege(c.relnamespace, 'CREATE') AS can_create
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace
         LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
        WHERE c.relkind = 'm' AND c.oid IN (
              SELECT rw.ev_class FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
               WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                 AND d.refobjid = $1::int8::oid)
        ORDER BY c.oid`,
      [tableOid],
    ),
  );
  if (rows.length === 0) return [];
  // Described with every name schema-qualified, whatever the caller's search path.
  const dependents = await withSearchPath(client, 'pg_catalog, pg_temp', { local: false }, () =>
    readDependents(
      client,
      rows.map((r) => Number(r.oid)),
    ),
  );
  return rows.map((r) => ({
    oid: Number(r.oid),
    schema: r.schema,
    name: r.name,
    def: r.def,
    reloptions: r.reloptions,
    tablespace: r.tablespace,
    accessMethod: r.am,
    owner: r.owner,
    owned: r.owned,
    canCreate: r.can_create,
    dependents: dependents.filter((d) => d.mv === Number(r.oid)).map((d) => d.what),
  }));
}

/** What depends on each matview, its row type or that type's array type, but its own rule, its indexes and TOAST table. */
async function readDependents(client: Queryable, oids: number[]): Promise<Array<{ mv: number; what: string }>> {
  const { rows } = await client.query<{ mv: string; what: string }>(
    `WITH refs AS (
       SELECT c.oid AS mv, 'pg_catalog.pg_class'::pg_catalog.regclass AS cls, c.oid AS obj FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::int8[]::oid[])
       UNION ALL SELECT c.oid, 'pg_catalog.pg_type'::pg_catalog.regclass, c.reltype FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::int8[]::oid[])
       UNION ALL SELECT c.oid, 'pg_catalog.pg_type'::pg_catalog.regclass, ty.typarray FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_type ty ON ty.oid = c.reltype WHERE c.oid = ANY ($1::int8[]::oid[]) AND ty.typarray <> 0)
     SELECT DISTINCT r.mv::int8 AS mv, pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS what
       FROM refs r
       JOIN pg_catalog.pg_depend d ON d.refclassid = r.cls AND d.refobjid = r.obj
       LEFT JOIN pg_catalog.pg_rewrite rw ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND rw.oid = d.objid
      WHERE NOT (rw.oid IS NOT NULL AND rw.ev_class = r.mv)
        AND d.classid <> 'pg_catalog.pg_type'::pg_catalog.regclass
        AND NOT (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                 AND EXISTS (SELECT FROM pg_catalog.pg_class x WHERE x.oid = d.objid AND (x.oid = r.mv OR x.relkind IN ('i', 't'))))
      ORDER BY 1, 2`,
    [oids],
  );
  return rows.map((r) => ({ mv: Number(r.mv), what: r.what }));
}

/**
 * Why the materialized views over the table cannot be rebuilt on the new table after the rename
 * swap (empty: they can). Each names the matview, why, and what to do. Pure.
 */
export function matviewBlockers(matviews: readonly MatviewFacts[]): string[] {
  const out: string[] = [];
  for (const m of matviews) {
    const name = `materialized view ${displayName(m.schema, m.name)}`;
    if (!m.owned) {
      out.push(
        `${name} reads the table and the current role does not own it (rebuilding it needs its owner: run as its owner or a member of ${JSON.stringify(m.owner)})`,
      );
    }
    if (m.owned && !m.canCreate)
      out.push(`${name} reads the table and the current role may not create in its schema (GRANT CREATE ON SCHEMA ${JSON.stringify(m.schema)})`);
    for (const d of m.dependents) {
      out.push(
        `${d.replace(/^rule _RETURN on /, '')} depends on ${name}, which is rebuilt on the new table (not supported: drop it before the run and create it again after)`,
      );
    }
  }
  return out;
}

/**
 * The materialized views when {@link matviewBlockers} finds nothing; otherwise the refusal
 * (`rename_swap_unsupported`), naming each, why, and what to do.
 */
export function refuseMatviews(display: string, matviews: MatviewFacts[]): MatviewFacts[] {
  const blockers = matviewBlockers(matviews);
  if (blockers.length === 0) return matviews;
  throw new PgToolsError(
    'rename_swap_unsupported',
    `the rename swap of ${display} rebuilds the materialized views over it on the new table, which cannot be done: ${blockers.join('; ')}; nothing was changed`,
  );
}

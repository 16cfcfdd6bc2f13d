import { quoteQualified, type Queryable } from '@pgtools/core';
import { withSearchPath } from '@pgtools/swap';
import { reorderStatements, type ReorderCheck, type ReorderColumn, type ReorderStatistics } from './alter-reorder-sql.js';

const columnsSql = `
    SELECT a.attnum::int AS attnum, a.attname::text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
           CASE WHEN a.attcollation <> t.typcollation THEN pg_catalog.format('%I.%I', cn.nspname, co.collname) END AS collation,
           CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END AS default,
           a.attnotnull AS "notNull", a.attidentity::text AS identity, a.attgenerated::text AS generated,
           CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END AS expression,
           ARRAY(SELECT DISTINCT dep.refobjsubid::int FROM pg_catalog.pg_depend dep
                  WHERE a.attgenerated <> '' AND dep.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND dep.objid = d.oid
                    AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.refobjid = a.attrelid
                    AND dep.refobjsubid > 0 AND dep.refobjsubid <> a.attnum ORDER BY 1) AS uses,
           (SELECT pg_catalog.json_build_object('schema', sn.nspname, 'name', sc.relname,
                     'start', sq.seqstart::text, 'increment', sq.seqincrement::text, 'min', sq.seqmin::text, 'max', sq.seqmax::text,
                     'cache', sq.seqcache::text, 'cycle', sq.seqcycle)
              FROM pg_catalog.pg_depend dep JOIN pg_catalog.pg_class sc ON sc.oid = dep.objid AND sc.relkind = 'S'
              JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace JOIN pg_catalog.pg_sequence sq ON sq.seqrelid = sc.oid
             WHERE a.attidentity <> '' AND dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
               AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.refobjid = a.attrelid
               AND dep.refobjsubid = a.attnum AND dep.deptype = 'i') AS sequence,
           CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
           NULLIF(a.attcompression::text, '') AS compression,
           pg_catalog.col_description(a.attrelid, a.attnum) AS comment
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;

const checksSql = `
    SELECT conname::text AS name, pg_catalog.pg_get_constraintdef(oid) AS def, pg_catalog.obj_description(oid, 'pg_constraint') AS comment,
           COALESCE(conkey::int[], '{}') AS attnums
      FROM pg_catalog.pg_constraint WHERE conrelid = $1::pg_catalog.regclass AND contype = 'c' ORDER BY oid`;

const statisticsSql = `
    SELECT pg_catalog.format('%I.%I', n.nspname, s.stxname) AS name, pg_catalog.pg_get_statisticsobjdef_columns(s.oid) AS columns,
           ARRAY(SELECT k::text FROM pg_catalog.unnest(s.stxkind) k) AS kinds, s.stxstattarget::int AS target,
           pg_catalog.obj_description(s.oid, 'pg_statistic_ext') AS comment,
           ARRAY(SELECT DISTINCT dep.refobjsubid::int FROM pg_catalog.pg_depend dep
                  WHERE dep.classid = 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass AND dep.objid = s.oid
                    AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.refobjid = s.stxrelid AND dep.refobjsubid > 0
                  ORDER BY 1) AS attnums
      FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
     WHERE s.stxrelid = $1::pg_catalog.regclass ORDER BY s.oid`;

/**
 * Reads the shadow's columns, CHECK constraints and statistics objects and runs
 * {@link reorderStatements} on it (empty: nothing is rewritten). Expressions are read and written
 * with only pg_catalog on the search path, so that they come out schema-qualified.
 */
export async function reorderShadow(client: Queryable, shadow: { schema: string; name: string }, order: readonly string[], display: string): Promise<void> {
  const table = quoteQualified(shadow.schema, shadow.name);
  await withSearchPath(client, 'pg_catalog, pg_temp', { local: true }, async () => {
    const { rows: columns } = await client.query<ReorderColumn>(columnsSql, [table]);
    const { rows: checks } = await client.query<ReorderCheck>(checksSql, [table]);
    const { rows: statistics } = await client.query<ReorderStatistics>(statisticsSql, [table]);
    const { rows: version } = await client.query<{ n: number }>("SELECT pg_catalog.current_setting('server_version_num')::int AS n");
    const setExpression = (version[0]?.n ?? 0) >= 170000;
    for (const sql of reorderStatements(table, columns, checks, order, display, { statistics, setExpression })) await client.query(sql);
  });
}

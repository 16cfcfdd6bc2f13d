import { quoteLiteral } from '@pgtools/core';
import { accessExclusiveCheck, oidLiteral, SWAP_CHECK_STATE, type TableInfo } from './catalog.js';

/**
 * One text that changes whenever something the rename swap moves, or names in its statements,
 * changes: the table's own row (name, owner, ACL, options, RLS, replica identity, partition bound),
 * its parents and their default partitions, the partitioned indexes its indexes belong to, its columns
 * (ACLs, statistics targets, options), every object depending on it, its indexes or its row and
 * array types (described by name, so renaming a sequence, a view or a publication counts), the
 * indexes' names and statistics targets, constraint, trigger and policy definitions as the server
 * prints them (referenced tables, functions and role names included), views' (and views over
 * them) query trees, options, ACLs, comments and column defaults, publication membership, statistics objects and every comment on them. It takes no lock
 * (pg_get_viewdef would lock each view until the caller's transaction ends).
 */
export function fingerprintSql(tableOid: number): string {
  const t = oidLiteral(tableOid);
  return `WITH RECURSIVE objs AS (
      SELECT ${t} AS oid
      UNION ALL SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = ${t}
      UNION ALL SELECT con.oid FROM pg_catalog.pg_constraint con WHERE con.conrelid = ${t} OR con.confrelid = ${t}
      UNION ALL SELECT tg.oid FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = ${t}
      UNION ALL SELECT pol.oid FROM pg_catalog.pg_policy pol WHERE pol.polrelid = ${t}
      UNION ALL SELECT st.oid FROM pg_catalog.pg_statistic_ext st WHERE st.stxrelid = ${t}),
    refs AS (
      SELECT o.oid FROM objs o
      UNION ALL SELECT c.reltype FROM pg_catalog.pg_class c WHERE c.oid = ${t}
      UNION ALL SELECT ty.typarray FROM pg_catalog.pg_class c JOIN pg_catalog.pg_type ty ON ty.oid = c.reltype WHERE c.oid = ${t}),
    deps AS (
      SELECT d.* FROM pg_catalog.pg_depend d WHERE d.refobjid IN (SELECT r.oid FROM refs r)),
    views(oid) AS (
      SELECT rw.ev_class FROM deps d JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
       WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
      UNION
      -- Views over those views: an online schema change drops and recreates them too.
      SELECT rw.ev_class FROM views v
        JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = v.oid
                                   AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
        JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid)
    SELECT pg_catalog.md5(pg_catalog.concat_ws(' | ',
      (SELECT pg_catalog.concat_ws(',', c.relname, c.relnamespace, c.relowner, c.relacl, c.reloptions, c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.reltype,
                                   (SELECT tc.reloptions FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid),
                                   c.relispartition, pg_catalog.pg_get_expr(c.relpartbound, c.oid))
         FROM pg_catalog.pg_class c WHERE c.oid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', i.inhparent, pt.partdefid), ';' ORDER BY i.inhparent)
         FROM pg_catalog.pg_inherits i LEFT JOIN pg_catalog.pg_partitioned_table pt ON pt.partrelid = i.inhparent WHERE i.inhrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', ii.inhrelid, ii.inhparent), ';' ORDER BY ii.inhrelid)
         FROM pg_catalog.pg_inherits ii JOIN pg_catalog.pg_index i ON i.indexrelid = ii.inhrelid WHERE i.indrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', a.attrelid, a.attnum, a.attname, a.attacl, a.attstattarget, a.attoptions), ';' ORDER BY a.attrelid, a.attnum)
         FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = ${t} OR a.attrelid IN (SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = ${t})),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', d.classid, d.objid, d.objsubid, d.refobjid, d.refobjsubid, d.deptype,
                                                         pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)), ';'
                                    ORDER BY d.classid, d.objid, d.objsubid, d.refobjid, d.refobjsubid)
         FROM deps d),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', i.indexrelid, ic.relname, i.indisclustered, i.indisreplident, i.indisvalid), ';' ORDER BY i.indexrelid)
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', tg.oid, tg.tgenabled, pg_catalog.pg_get_triggerdef(tg.oid)), ';' ORDER BY tg.oid)
         FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = ${t} AND NOT tg.tgisinternal),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', con.oid, con.conname, con.convalidated, con.conrelid::pg_catalog.regclass,
                                                         pg_catalog.pg_get_constraintdef(con.oid)), ';' ORDER BY con.oid)
         FROM pg_catalog.pg_constraint con WHERE con.conrelid = ${t} OR con.confrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', pol.oid, pol.polname, pol.polpermissive, pol.polcmd, pol.polroles::pg_catalog.regrole[],
                                                         pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid)), ';' ORDER BY pol.oid)
         FROM pg_catalog.pg_policy pol WHERE pol.polrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', v.oid, vc.relname, vc.relnamespace, vc.relowner, vc.reloptions, pg_catalog.md5(rw.ev_action::pg_catalog.text),
                                                         vc.relacl, pg_catalog.obj_description(v.oid, 'pg_class'),
                                                         (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', a.attname, a.attacl, pg_catalog.col_description(v.oid, a.attnum),
                                                                                                            pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)), ';' ORDER BY a.attnum)
                                                            FROM pg_catalog.pg_attribute a
                                                            LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                                           WHERE a.attrelid = v.oid AND a.attnum > 0)), ';' ORDER BY v.oid)
         FROM views v JOIN pg_catalog.pg_class vc ON vc.oid = v.oid
         JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = v.oid AND rw.rulename = '_RETURN'),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', pr.oid, p.pubname, p.pubowner, pr.prqual::pg_catalog.text, pr.prattrs), ';' ORDER BY pr.oid)
         FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid WHERE pr.prrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', st.oid, st.stxname, st.stxnamespace, st.stxstattarget), ';' ORDER BY st.oid)
         FROM pg_catalog.pg_statistic_ext st WHERE st.stxrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', x.objoid, x.classoid, x.objsubid, x.description), ';' ORDER BY x.objoid, x.classoid, x.objsubid)
         FROM pg_catalog.pg_description x WHERE x.objoid IN (SELECT o.oid FROM objs o)))) AS f`;
}

/** The message of the check's error when a partition's partitioned table is not locked (renameSwapError maps it to `swap_precondition`). */
export const PARENT_LOCK_MESSAGE = 'pgtools rename swap: ACCESS EXCLUSIVE is not held on the partitioned table';

/** The message of the check's error when the fingerprint differs (renameSwapError maps it to `rename_swap_stale`). */
export const CHANGED_MESSAGE = 'pgtools rename swap: the table changed since the swap was planned';

/**
 * The check sent first under ACCESS EXCLUSIVE: it raises unless this transaction holds the lock on
 * both tables and the fingerprint is still the one the plan was worked out from. Pure.
 */
export function renameCheckSql(original: TableInfo, shadow: TableInfo, fingerprint: string, parentOid: number | null = null): string {
  // DETACH PARTITION would otherwise wait for the partitioned table's lock while holding the leaf's.
  const parentCheck =
    parentOid === null
      ? ''
      : `IF NOT EXISTS (SELECT FROM pg_catalog.pg_locks l
             WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
               AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
               AND l.relation = ${oidLiteral(parentOid)}) THEN
          RAISE EXCEPTION USING ERRCODE = '${SWAP_CHECK_STATE}', MESSAGE = '${PARENT_LOCK_MESSAGE}';
        END IF;`;
  return `DO $pgtools$ BEGIN
      ${accessExclusiveCheck(original, shadow)}
      ${parentCheck}
      IF (${fingerprintSql(original.oid)}) IS DISTINCT FROM ${quoteLiteral(fingerprint)} THEN
        RAISE EXCEPTION USING ERRCODE = '${SWAP_CHECK_STATE}', MESSAGE = '${CHANGED_MESSAGE}';
      END IF;
    END $pgtools$`;
}

import type pg from 'pg';
import { debugFailure, PgToolsError, quoteQualified } from '@pgtools/core';
import { releaseAdvisoryTableLock, tryAdvisoryTableLock } from '@pgtools/lock';
import { removeLeftovers } from './leftovers.js';
import { rebuildMatview, type RebuildMatviewOptions } from './matview-rebuild.js';
import { shadowTableName } from './names.js';
import { removeInterruptedProgress } from './progress-status.js';

/** What the switch of each replacement takes (matview-rebuild.ts), and which replacements to finish. */
export interface MatviewLeftoverOptions extends Omit<RebuildMatviewOptions, 'client' | 'oid' | 'beforeSwitch'> {
  /** Only the replacements reading this table (a later run of it); all of them when absent (`--cleanup`). */
  tableOid?: number;
}

export interface MatviewLeftoverReport {
  removed: string[];
  kept: Array<{ object: string; reason: string }>;
  /** OIDs of old tables kept because a materialized view still reads them (their leftovers must stay too). */
  keptTables: Set<number>;
  /** Some belong to a run still going (it holds the old table's advisory lock). */
  busy: boolean;
}

/**
 * Finishes what a run killed (or failed) between a rename swap's commit and the end of its
 * materialized view switches left: for each replacement `<tool>.matview_<oid>` (made in the swap's
 * transaction), the old matview is rebuilt on the new table and switched (matview-rebuild.ts: a
 * half-built index is dropped, the replacement filled again); a replacement whose old matview is gone
 * is dropped. Then the old table (`<tool>.table_<oid>`, which the old matviews read) and its log go.
 * Skips what a live run holds (the advisory lock of the old table's OID, held by its run to the end).
 */
export async function finishMatviewLeftovers(client: pg.ClientBase, o: MatviewLeftoverOptions): Promise<MatviewLeftoverReport> {
  const report: MatviewLeftoverReport = { removed: [], kept: [], keptTables: new Set(), busy: false };
  const { rows } = await client.query<{ name: string; old: string; old_table: string | null }>(
    `SELECT r.relname AS name, substring(r.relname from '^matview_([0-9]+)$') AS old,
            (SELECT t.oid::int8 FROM pg_catalog.pg_rewrite rw
               JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = rw.oid
                                          AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
               JOIN pg_catalog.pg_class t ON t.oid = d.refobjid AND t.relkind = 'r' AND t.relname ~ '^table_[0-9]+$'
               JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace AND tn.nspname = $1
              WHERE rw.ev_class = substring(r.relname from '^matview_([0-9]+)$')::int8::oid LIMIT 1) AS old_table
       FROM pg_catalog.pg_class r JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
      WHERE n.nspname = $1 AND r.relkind = 'm' AND r.relname ~ '^matview_[0-9]+$'
        AND ($2::int8 IS NULL OR r.oid IN (
              SELECT rw.ev_class FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
               WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                 AND d.refobjid = $2::int8::oid))
      ORDER BY 2`,
    [o.toolSchema, o.tableOid ?? null],
  );
  const tables = new Map<number, number[]>();
  for (const r of rows) {
    if (r.old_table === null) {
      // Its old matview is gone (dropped meanwhile): nothing to switch to.
      await client.query(`DROP MATERIALIZED VIEW IF EXISTS ${quoteQualified(o.toolSchema, r.name)}`);
      report.removed.push(`${o.toolSchema}.${r.name}`);
      continue;
    }
    const list = tables.get(Number(r.old_table)) ?? [];
    list.push(Number(r.old));
    tables.set(Number(r.old_table), list);
  }
  for (const [tableOid, matviews] of tables) {
    const advisory = await tryAdvisoryTableLock(client, tableOid);
    if (!advisory.acquired) {
      report.busy = true;
      report.keptTables.add(tableOid);
      report.kept.push({ object: `${o.toolSchema}.${shadowTableName(tableOid)}`, reason: `a repack is running on it (PID ${advisory.holderPid ?? '?'})` });
      continue;
    }
    try {
      for (const oid of matviews) {
        const rebuilt = await rebuildMatview({ client, oid, ...o });
        if (rebuilt === undefined) continue;
        report.removed.push(`materialized view ${rebuilt.matview} rebuilt (an interrupted run left it on ${o.toolSchema}.${shadowTableName(tableOid)})`);
      }
      report.removed.push(...(await removeLeftovers(client, tableOid, o.toolSchema)));
      // The killed run's progress row names the old OID: a later run of the table (a new OID) would not find it.
      report.removed.push(...(await removeInterruptedProgress(client, o.toolSchema, tableOid)));
    } catch (err) {
      if (!(err instanceof PgToolsError)) throw err;
      report.keptTables.add(tableOid);
      report.kept.push({ object: `${o.toolSchema}.${shadowTableName(tableOid)}`, reason: `a materialized view still reads it: ${err.message}` });
    } finally {
      await releaseAdvisoryTableLock(client, tableOid).catch(debugFailure(o.logger, 'releasing the advisory lock of an old table'));
    }
  }
  return report;
}

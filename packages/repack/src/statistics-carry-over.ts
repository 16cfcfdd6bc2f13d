import type pg from 'pg';

/** What decides whether the table's statistics are still right after the swap. */
export interface StatisticsFacts {
  swapMode: 'catalog' | 'rename';
  /** The copy wrote in a new physical order (CLUSTER index or `orderBy`). */
  ordered: boolean;
  /** pg_statistic had rows for every column of the table before the run. */
  hasStatistics: boolean;
  /** `n_mod_since_analyze` when the run looked, before the capture. */
  modsBeforeRun: number;
  /** Changes the run replayed from the log (writes during the run). */
  logEntries: number;
  /** `reltuples` before the run (-1: never counted). */
  estimatedRows: number;
  /** The server's `autovacuum_analyze_threshold` and `autovacuum_analyze_scale_factor`. */
  analyzeThreshold: number;
  analyzeScaleFactor: number;
}

/**
 * Whether the separate ANALYZE after the swap can be left out: it returns why, or undefined when the
 * table must be analyzed. A repack keeps every live row as it was, so the column statistics of the
 * last ANALYZE still describe the table when (a) the catalog swap kept the table's OID, and with it
 * its pg_statistic rows and its change counter (the rename swap's table is new: no statistics);
 * (b) the copy kept the rows' relative order (an ordered copy changes the correlation the planner
 * uses); (c) there were statistics; and (d) they were fresh: the changes since the last ANALYZE,
 * before and during the run, stay within what autovacuum itself tolerates before analyzing again
 * (`threshold + scale_factor * reltuples`, the server's settings). Row and page counts come from
 * the new heap through the swap (CREATE INDEX counted them).
 *
 * @example
 * ```ts
 * statisticsCarryOver({ swapMode: 'catalog', ordered: false, hasStatistics: true, modsBeforeRun: 0, logEntries: 12,
 *   estimatedRows: 20000, analyzeThreshold: 50, analyzeScaleFactor: 0.1 }); // 'statistics kept: ...'
 * ```
 */
export function statisticsCarryOver(f: StatisticsFacts): string | undefined {
  if (f.swapMode !== 'catalog' || f.ordered || !f.hasStatistics || f.estimatedRows < 0) return undefined;
  const changes = f.modsBeforeRun + f.logEntries;
  const tolerated = f.analyzeThreshold + f.analyzeScaleFactor * f.estimatedRows;
  if (changes > tolerated) return undefined;
  return `statistics kept: ${changes} change(s) since the last ANALYZE, within autovacuum's ${Math.floor(tolerated)}; the swap kept them`;
}

/** The facts of {@link statisticsCarryOver} known before the run. */
export type StatisticsBefore = Pick<StatisticsFacts, 'hasStatistics' | 'modsBeforeRun' | 'estimatedRows' | 'analyzeThreshold' | 'analyzeScaleFactor'>;

/** Reads {@link StatisticsBefore} in one query (pg_statistic needs a superuser, as the catalog swap does). */
export async function readStatisticsFacts(client: pg.ClientBase, tableOid: number): Promise<StatisticsBefore> {
  const { rows } = await client.query<{ has: boolean; mods: string | null; tuples: number | null; threshold: string; scale: string }>(
    // Every column analyzed (a column added since has none), not only some.
    `SELECT EXISTS (SELECT 1 FROM pg_statistic WHERE starelid = $1::oid)
            AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> 'v'
                              AND NOT EXISTS (SELECT 1 FROM pg_statistic s WHERE s.starelid = $1::oid AND s.staattnum = a.attnum AND NOT s.stainherit)) AS has,
            (SELECT n_mod_since_analyze FROM pg_stat_all_tables WHERE relid = $1::oid)::text AS mods,
            (SELECT reltuples FROM pg_class WHERE oid = $1::oid)::float8 AS tuples,
            current_setting('autovacuum_analyze_threshold') AS threshold,
            current_setting('autovacuum_analyze_scale_factor') AS scale`,
    [tableOid],
  );
  const r = rows[0];
  return {
    hasStatistics: r?.has ?? false,
    // Unknown counter: count it as too many.
    modsBeforeRun: r?.mods === null || r?.mods === undefined ? Number.MAX_SAFE_INTEGER : Number(r.mods),
    estimatedRows: r?.tuples ?? -1,
    analyzeThreshold: Number(r?.threshold ?? 50),
    analyzeScaleFactor: Number(r?.scale ?? 0.1),
  };
}

import type pg from 'pg';
import { quoteIdent } from '@pgtools/core';

/** How much of a table's heap a repack would give back, and how that was estimated. */
export interface BloatEstimate {
  /**
   * `pgstattuple`: measured by reading the table (the extension is installed and usable);
   * `statistics`: from reltuples, pg_stats column widths and the page count (no table read);
   * `unavailable`: neither could tell (never analyzed, no pgstattuple).
   */
  method: 'pgstattuple' | 'statistics' | 'unavailable';
  /** Reclaimable share of the heap, 0..100 (null when unavailable). */
  reclaimablePct: number | null;
  reclaimableBytes: number | null;
  heapBytes: number;
  /** Why the method was chosen or why nothing could be estimated. */
  note?: string;
}

/**
 * Estimates the reclaimable space of a table's heap (TOAST and indexes are not counted): with
 * pgstattuple when that extension is installed and this role may use it (dead tuples plus free
 * space beyond what the fillfactor keeps free), otherwise from planner statistics. Installing
 * the extension is left to the DBA.
 *
 * @example
 * ```ts
 * import { estimateBloat } from '@pgtools/repack';
 * const e = await estimateBloat(client, tableOid);
 * console.log(`${e.reclaimablePct?.toFixed(1)}% reclaimable (${e.method})`);
 * ```
 */
export async function estimateBloat(client: pg.ClientBase, tableOid: number): Promise<BloatEstimate> {
  const { rows: base } = await client.query<{ heap: string; fillfactor: number; bs: number }>(
    `SELECT pg_relation_size(c.oid)::text AS heap, current_setting('block_size')::int AS bs,
            coalesce((SELECT split_part(o, '=', 2)::int FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS fillfactor
       FROM pg_class c WHERE c.oid = $1`,
    [tableOid],
  );
  const heapBytes = Number(base[0]?.heap ?? 0);
  const fillfactor = base[0]?.fillfactor ?? 100;
  const blockSize = base[0]?.bs ?? 8192;
  if (heapBytes === 0) return { method: 'statistics', reclaimablePct: 0, reclaimableBytes: 0, heapBytes, note: 'empty table' };
  const { rows: ext } = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgstattuple'`,
  );
  let note: string | undefined;
  if (ext[0]) {
    try {
      // A savepoint-free probe: the function raises for a role without pg_stat_scan_tables.
      const { rows } = await client.query<{ free: number; dead: number }>(
        `SELECT free_percent AS free, dead_tuple_percent AS dead FROM ${quoteIdent(ext[0].schema)}.pgstattuple($1::oid::regclass)`,
        [tableOid],
      );
      const r = rows[0]!;
      const pct = clampPct(Number(r.free) + Number(r.dead) - (100 - fillfactor));
      return { method: 'pgstattuple', reclaimablePct: pct, reclaimableBytes: Math.round((heapBytes * pct) / 100), heapBytes };
    } catch (err) {
      note = `pgstattuple is installed but failed (${(err as Error).message}); used statistics instead`;
    }
  } else {
    note = 'the pgstattuple extension is not installed in this database; estimated from statistics';
  }
  const { rows: stats } = await client.query<{ tuples: string; width: string | null; ncols: number; nstats: number; live: string }>(
    `SELECT c.reltuples::text AS tuples, pg_stat_get_live_tuples(c.oid)::text AS live,
            (SELECT count(*)::int FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS ncols,
            (SELECT count(*)::int FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND NOT s.inherited) AS nstats,
            (SELECT sum(s.avg_width)::text FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND NOT s.inherited) AS width
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [tableOid],
  );
  const s = stats[0];
  const tuples = s && Number(s.tuples) >= 0 ? Number(s.tuples) : Number(s?.live ?? 0);
  if (!s || s.width === null || s.nstats < s.ncols || Number(s.tuples) < 0) {
    return {
      method: 'unavailable',
      reclaimablePct: null,
      reclaimableBytes: null,
      heapBytes,
      note: `${note ? `${note}; ` : ''}the table has no complete statistics (run ANALYZE)`,
    };
  }
  // Tuple header (23 bytes, aligned to 24), data aligned to 8, and a 4-byte line pointer per row;
  // 24 bytes of page header; the fillfactor's reserve stays free in a packed table too.
  const tupleBytes = 24 + Math.ceil(Number(s.width) / 8) * 8 + 4;
  const usablePerPage = ((blockSize - 24) * fillfactor) / 100;
  const rowsPerPage = Math.max(1, Math.floor(usablePerPage / tupleBytes));
  const expectedBytes = Math.ceil(tuples / rowsPerPage) * blockSize;
  const pct = clampPct(100 * (1 - expectedBytes / heapBytes));
  return { method: 'statistics', reclaimablePct: pct, reclaimableBytes: Math.round((heapBytes * pct) / 100), heapBytes, ...(note ? { note } : {}) };
}

function clampPct(x: number): number {
  return Math.round(Math.min(100, Math.max(0, x)) * 10) / 10;
}

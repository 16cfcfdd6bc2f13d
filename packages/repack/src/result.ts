import type { BloatEstimate } from './bloat.js';
import type { DiskCheck } from './disk.js';
import type { PhaseName, SessionInfo } from './events.js';
import type { AlterColumnMapping } from './alter-plan.js';
import { exitCodeOf, type TableStatus } from './outcomes.js';

export { exitCodeOf };

export interface PhaseTiming {
  phase: PhaseName;
  ms: number;
}

/** What happened to one table. */
export interface TableResult {
  table: string;
  /**
   * `repacked`; `filtered` (left out by a filter such as `ifBloatedPct`: counts as done, exit code 0);
   * `skipped` (could not be done safely: exit code 3); `failed` (exit code 1, table intact).
   */
  status: TableStatus;
  /** `table` (full repack) or `indexes` (indexes only). */
  mode?: 'table' | 'indexes';
  /** The bloat estimate, when `ifBloatedPct` asked for one. */
  bloat?: BloatEstimate;
  /** The physical order the copy wrote in, when ordered. */
  orderBy?: string;
  /** What the disk check looked at. */
  diskCheck?: DiskCheck;
  /** With `alter`: the old → new column mapping. */
  alter?: AlterColumnMapping[];
  /** Indexes-only runs: invalid leftovers of an interrupted REINDEX CONCURRENTLY that were dropped. */
  indexLeftoversDropped?: string[];
  /** Why the ANALYZE after the swap was left out (the statistics carried over through the catalog swap). */
  analyzeSkipped?: string;
  /** Time spent paused by `maxReplicaLag` and `maxRate`. */
  throttledMs?: number;
  /** Stable code when skipped or failed (e.g. `no_usable_key`, `lock_timeout`, `old_snapshots`). */
  code?: string;
  /** The server's SQLSTATE when PostgreSQL refused (`42501` permission denied, `55P03` lock not available, ...). */
  sqlState?: string;
  message?: string;
  swap?: 'catalog' | 'rename';
  key?: { index: string; columns: string[] };
  phases: PhaseTiming[];
  rowsCopied: number;
  log: { entries: number; inserts: number; updates: number; deletes: number };
  indexesBuilt: string[];
  sizeBefore?: { heapBytes: number; totalBytes: number };
  sizeAfter?: { heapBytes: number; totalBytes: number };
  /** Each ACCESS EXCLUSIVE moment, in ms. */
  accessExclusive: Array<{ purpose: string; heldMs: number }>;
  lockWaitMs: number;
  cancelled: SessionInfo[];
  terminated: SessionInfo[];
  /** Leftovers of an earlier interrupted run that this run removed. */
  leftoversRemoved: string[];
  /** What the user must do when the run could not clean up after itself. */
  cleanupHint?: string;
  totalMs: number;
}

export interface RepackResult {
  tables: TableResult[];
  /** 0 all done, 1 something failed, 3 something skipped (nothing failed). */
  exitCode: 0 | 1 | 3;
}

export function emptyTableResult(table: string): TableResult {
  return {
    table,
    status: 'failed',
    phases: [],
    rowsCopied: 0,
    log: { entries: 0, inserts: 0, updates: 0, deletes: 0 },
    indexesBuilt: [],
    accessExclusive: [],
    lockWaitMs: 0,
    cancelled: [],
    terminated: [],
    leftoversRemoved: [],
    totalMs: 0,
  };
}

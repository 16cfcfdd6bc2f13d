import type { BloatEstimate } from './bloat.js';
import type { DiskCheck } from './disk.js';
/** The named phases of a repack, in order. */
export type PhaseName = 'precheck' | 'setup' | 'copy' | 'indexes' | 'apply' | 'snapshot-wait' | 'swap' | 'matviews' | 'cleanup' | 'analyze';

/** A session the repack cancelled or terminated, or that blocked it. */
export interface SessionInfo {
  pid: number;
  user: string | null;
  application: string | null;
  query: string | null;
}

/** Everything `repack()` reports while it runs; the CLI turns these into lines, a progress bar or JSON. */
export type RepackEvent =
  | { type: 'phase-start'; table: string; phase: PhaseName }
  | { type: 'phase-end'; table: string; phase: PhaseName; ms: number }
  | { type: 'copy-progress'; table: string; rowsDone: number; rowsTotal: number; bytesDone: number; bytesTotal: number }
  | { type: 'index-built'; table: string; index: string; ms: number }
  | { type: 'apply-progress'; table: string; applied: number; remaining: number }
  | { type: 'lock-waiting'; table: string; purpose: string; waitedMs: number; blockers: SessionInfo[] }
  | { type: 'lock-acquired'; table: string; purpose: string; waitedMs: number; tries: number }
  | { type: 'backend-cancelled'; table: string; session: SessionInfo }
  | { type: 'backend-terminated'; table: string; session: SessionInfo }
  | { type: 'ddl-cancelled'; table: string; session: SessionInfo }
  | { type: 'snapshot-waiting'; table: string; sessions: SessionInfo[]; waitedMs: number }
  | { type: 'access-exclusive'; table: string; purpose: string; heldMs: number }
  | { type: 'leftovers-removed'; table: string; objects: string[] }
  /**
   * A materialized view over the table, rebuilt on the new table after a rename swap: its contents are as of
   * then (as after REFRESH MATERIALIZED VIEW), or it stays unpopulated (`populated` false) as it was.
   */
  | { type: 'matview-rebuilt'; table: string; matview: string; populated: boolean; indexes: string[]; heldMs: number }
  | { type: 'warning'; table: string; message: string }
  /** The copy or the apply stopped because a standby lags too much; repeated every few seconds while paused. */
  | { type: 'throttle-paused'; table: string; phase: 'copy' | 'apply'; reason: string; pausedMs: number }
  | { type: 'throttle-resumed'; table: string; phase: 'copy' | 'apply'; pausedMs: number }
  /** The bloat estimate of a table, before deciding whether to repack it. */
  | { type: 'bloat-estimate'; table: string; estimate: BloatEstimate }
  /** The physical order the copy writes in (absent: no ordering). */
  | { type: 'order'; table: string; orderBy: string; source: 'order-by' | 'cluster-index' }
  /** Invalid leftovers of an interrupted REINDEX CONCURRENTLY dropped before rebuilding. */
  | { type: 'index-leftovers-dropped'; table: string; indexes: string[] }
  /** What the disk check looked at. */
  | { type: 'disk-check'; table: string; check: DiskCheck };

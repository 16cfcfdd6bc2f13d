/** The named phases of a repack, in order. */
export type PhaseName =
  | 'precheck'
  | 'setup'
  | 'copy'
  | 'indexes'
  | 'apply'
  | 'snapshot-wait'
  | 'swap'
  | 'cleanup'
  | 'analyze';

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
  | { type: 'warning'; table: string; message: string };

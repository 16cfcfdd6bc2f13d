import type pg from 'pg';
import type { SessionInfo } from './events.js';

export interface SnapshotWaitOptions {
  /** The copy transaction's xid: its rows are invisible to snapshots that do not see it committed. */
  copyXid: string;
  /** A server timestamp read after the copy committed (an upper bound of the commit time). */
  copyCommittedAt: string;
  ourPids: number[];
  timeoutMs: number;
  onWaiting?: (sessions: SessionInfo[], waitedMs: number) => void;
  /** Work to do between polls (keep applying the log). */
  between?: () => Promise<void>;
  pollMs?: number;
  signal?: AbortSignal | undefined;
}

/**
 * Waits until no session holds a snapshot that could predate the copy's commit. After the swap
 * such a snapshot would read the new files, whose rows carry the copy's xid, and see an empty
 * table. Unlike pg_repack this includes transactions that started during the copy.
 *
 * A session counts when its `backend_xmin` is at or before the copy's xid and its transaction
 * (or, for a walsender with hot_standby_feedback, the standby's query) may have taken its snapshot
 * before the copy committed.
 */
export async function waitForOldSnapshots(
  client: pg.ClientBase,
  options: SnapshotWaitOptions,
): Promise<{ ok: true; waitedMs: number } | { ok: false; sessions: SessionInfo[] }> {
  const started = Date.now();
  const pollMs = options.pollMs ?? 200;
  for (;;) {
    const { rows } = await client.query<{ pid: number; user: string | null; application: string | null; query: string | null }>(
      `SELECT a.pid, a.usename AS user, a.application_name AS application, left(a.query, 200) AS query
         FROM pg_stat_activity a
        WHERE a.pid <> ALL ($1::int[])
          AND a.backend_xmin IS NOT NULL
          AND a.backend_type IN ('client backend', 'walsender', 'background worker')
          AND age(a.backend_xmin) >= age($2::text::xid)
          AND (a.backend_type = 'walsender' OR a.xact_start IS NULL OR a.xact_start <= $3::timestamptz)`,
      [options.ourPids, String(BigInt(options.copyXid) & 0xffffffffn), options.copyCommittedAt],
    );
    if (rows.length === 0) return { ok: true, waitedMs: Date.now() - started };
    const waited = Date.now() - started;
    options.onWaiting?.(rows, waited);
    if (waited >= options.timeoutMs) return { ok: false, sessions: rows };
    if (options.signal?.aborted) return { ok: false, sessions: rows };
    await options.between?.();
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

import type pg from 'pg';
import { PgToolsError } from '@pgtools/core';
import type { RepackEvent } from './events.js';
import type { Pace } from './run-shared.js';

/** A replica lag bound: bytes of WAL not yet replayed, or replay delay in ms. */
export type ReplicaLagLimit = { bytes: number } | { ms: number };

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60_000, h: 3_600_000 };

/**
 * Parses `--max-replica-lag`: a size (`1048576`, `512kB`, `16MB`, `1GB`) or a duration (`500ms`, `30s`, `2min`, `1h`).
 *
 * @example
 * ```ts
 * import { parseReplicaLag } from '@pgtools/repack';
 * parseReplicaLag('16MB'); // { bytes: 16777216 }
 * parseReplicaLag('30s');  // { ms: 30000 }
 * ```
 */
export function parseReplicaLag(text: string): ReplicaLagLimit {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  if (m) {
    const n = Number(m[1]);
    if (unit in BYTE_UNITS) return { bytes: Math.round(n * BYTE_UNITS[unit]!) };
    if (unit in TIME_UNITS) return { ms: Math.round(n * TIME_UNITS[unit]!) };
  }
  throw new PgToolsError('invalid_option', `max replica lag must be a size (16MB, 1048576) or a duration (30s, 500ms), got "${text}"`);
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** One standby's lag as pg_stat_replication reports it (`lagMs` null when the server has no replay_lag sample). */
export interface ReplicaLag {
  application: string | null;
  clientAddr: string | null;
  lagBytes: number;
  lagMs: number | null;
}

/**
 * Current lag of every standby connected to this server (none: empty).
 *
 * @example
 * ```ts
 * import { replicaLags } from '@pgtools/repack';
 * for (const l of await replicaLags(client)) console.log(l.application, l.lagBytes, l.lagMs);
 * ```
 */
export async function replicaLags(client: pg.ClientBase): Promise<ReplicaLag[]> {
  const { rows } = await client.query<{ application: string | null; addr: string | null; bytes: string | null; ms: string | null }>(
    `SELECT application_name AS application, client_addr::text AS addr,
            pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(replay_lsn, '0/0'::pg_lsn))::int8::text AS bytes,
            (extract(epoch FROM replay_lag) * 1000)::int8::text AS ms
       FROM pg_stat_replication`,
  );
  return rows.map((r) => ({ application: r.application, clientAddr: r.addr, lagBytes: Number(r.bytes ?? 0), lagMs: r.ms === null ? null : Number(r.ms) }));
}

/**
 * Paces the copy and the apply: `maxRate` rows per second, and a pause while any standby lags
 * more than `maxReplicaLag`. Emits `throttle-paused` (with the reason) and `throttle-resumed`.
 */
export class Throttle {
  /** Shared by the tables of a run (`maxRate` is the run's), or this throttle's own. */
  private readonly pace: Pace;
  private readonly opts: {
    maxRate: number | undefined;
    maxReplicaLag: ReplicaLagLimit | undefined;
    table: string;
    emit: (e: RepackEvent) => void;
    signal: AbortSignal | undefined;
    pollMs: number;
  };

  constructor(opts: {
    maxRate: number | undefined;
    maxReplicaLag: ReplicaLagLimit | undefined;
    table: string;
    emit: (e: RepackEvent) => void;
    signal?: AbortSignal | undefined;
    pollMs?: number;
    pace?: Pace;
  }) {
    this.opts = {
      maxRate: opts.maxRate,
      maxReplicaLag: opts.maxReplicaLag,
      table: opts.table,
      emit: opts.emit,
      signal: opts.signal,
      pollMs: opts.pollMs ?? 500,
    };
    this.pace = opts.pace ?? { started: Date.now(), rows: 0 };
  }

  get active(): boolean {
    return this.opts.maxRate !== undefined || this.opts.maxReplicaLag !== undefined;
  }

  /** Rows per copy or apply step that keep one step around a second at `maxRate`. */
  stepRows(fallback: number): number {
    return this.opts.maxRate === undefined ? fallback : Math.max(1, Math.min(fallback, Math.ceil(this.opts.maxRate)));
  }

  /** Call after each step that wrote `rows`, on a connection that can read pg_stat_replication. */
  async after(client: pg.ClientBase, rows: number, phase: 'copy' | 'apply'): Promise<void> {
    this.pace.rows += rows;
    if (this.opts.maxRate !== undefined) {
      const due = (this.pace.rows / this.opts.maxRate) * 1000 - (Date.now() - this.pace.started);
      if (due > 0) await sleep(due, this.opts.signal);
    }
    await this.waitForReplicas(client, phase);
  }

  /** Waits while any standby lags more than the limit; returns at once without a limit. */
  async waitForReplicas(client: pg.ClientBase, phase: 'copy' | 'apply'): Promise<void> {
    const limit = this.opts.maxReplicaLag;
    if (!limit) return;
    let pausedAt: number | undefined;
    let lastReport = 0;
    for (;;) {
      const lags = await replicaLags(client);
      const over = lags.filter((l) => ('bytes' in limit ? l.lagBytes > limit.bytes : (l.lagMs ?? 0) > limit.ms));
      if (over.length === 0) {
        if (pausedAt !== undefined) {
          this.opts.emit({ type: 'throttle-resumed', table: this.opts.table, phase, pausedMs: Date.now() - pausedAt });
          // The pause must not count against the rate (tables pausing together each add theirs: slower, never faster).
          this.pace.started += Date.now() - pausedAt;
        }
        return;
      }
      const now = Date.now();
      pausedAt ??= now;
      if (now - lastReport >= 5000 || lastReport === 0) {
        lastReport = now;
        const worst = over.reduce((a, b) => ('bytes' in limit ? (b.lagBytes > a.lagBytes ? b : a) : (b.lagMs ?? 0) > (a.lagMs ?? 0) ? b : a));
        const who = worst.application || worst.clientAddr || 'a standby';
        const reason =
          'bytes' in limit
            ? `standby ${who} is ${worst.lagBytes} bytes behind (limit ${limit.bytes})`
            : `standby ${who} replays ${worst.lagMs} ms behind (limit ${limit.ms})`;
        this.opts.emit({ type: 'throttle-paused', table: this.opts.table, phase, reason, pausedMs: now - pausedAt });
      }
      if (this.opts.signal?.aborted) return;
      await sleep(this.opts.pollMs, this.opts.signal);
    }
  }
}

import { percentile } from './stats.js';

/** One line of a pgbench per-transaction log (`--log`). Times in ms since the epoch / ms. */
export interface PgbenchTransaction {
  client: number;
  /** When the transaction finished (wall clock, ms since the epoch). */
  endMs: number;
  /**
   * Latency in ms. With `--rate` pgbench measures it from the scheduled start, so it includes
   * the schedule lag: a transaction that waited behind a lock or behind a late client shows it.
   */
  latencyMs: number;
  /** How late the transaction started against its schedule (ms); only with `--rate`. */
  lagMs?: number;
  /** `failed` or `skipped` transactions have no latency. */
  failed: boolean;
}

/**
 * Parses pgbench's per-transaction log lines:
 * `client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]`.
 *
 * @example
 * ```ts
 * const [tx] = parsePgbenchLog('0 1 2500 0 1700000000 250000 100\n', { throttled: true });
 * tx?.latencyMs; // 2.5
 * tx?.lagMs; // 0.1
 * ```
 */
export function parsePgbenchLog(text: string, { throttled }: { throttled: boolean }): PgbenchTransaction[] {
  const out: PgbenchTransaction[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const client = Number(f[0]);
    const epoch = Number(f[4]);
    const micros = Number(f[5]);
    if (!Number.isFinite(client) || !Number.isFinite(epoch) || !Number.isFinite(micros)) continue;
    const endMs = epoch * 1000 + micros / 1000;
    const time = f[2]!;
    const failed = time === 'failed' || time === 'skipped';
    const latencyUs = failed ? 0 : Number(time);
    if (!failed && !Number.isFinite(latencyUs)) continue;
    const tx: PgbenchTransaction = { client, endMs, latencyMs: latencyUs / 1000, failed };
    if (throttled && f[6] !== undefined && Number.isFinite(Number(f[6]))) tx.lagMs = Number(f[6]) / 1000;
    out.push(tx);
  }
  return out;
}

/** What the load saw in a time window. */
export interface LoadWindowStats {
  /** Transactions scheduled (throttled) or finished (unthrottled) inside the window. */
  transactions: number;
  failed: number;
  p99Ms: number | undefined;
  maxMs: number | undefined;
  maxLagMs: number | undefined;
  /** Transactions finished inside the window per second of window. */
  tps: number;
}

/**
 * Load statistics for the window `[fromMs, toMs]`. Latency and lag count every transaction
 * scheduled inside the window (a transaction blocked by the repack finishes after it, but is its
 * victim); throughput counts the transactions that finished inside the window.
 *
 * @example
 * ```ts
 * const txs = parsePgbenchLog(logText, { throttled: true });
 * const s = loadWindowStats(txs, repackStartMs, repackEndMs);
 * console.log(s.maxMs, s.p99Ms, s.tps);
 * ```
 */
export function loadWindowStats(txs: readonly PgbenchTransaction[], fromMs: number, toMs: number): LoadWindowStats {
  const latencies: number[] = [];
  let max: number | undefined;
  let maxLag: number | undefined;
  let failed = 0;
  let finished = 0;
  for (const tx of txs) {
    if (tx.endMs >= fromMs && tx.endMs <= toMs) finished++;
    const startMs = tx.endMs - tx.latencyMs;
    if (startMs < fromMs || startMs > toMs) continue;
    if (tx.failed) {
      failed++;
      continue;
    }
    latencies.push(tx.latencyMs);
    max = Math.max(max ?? 0, tx.latencyMs);
    if (tx.lagMs !== undefined) maxLag = Math.max(maxLag ?? 0, tx.lagMs);
  }
  const seconds = Math.max(0.001, (toMs - fromMs) / 1000);
  return {
    transactions: latencies.length + failed,
    failed,
    p99Ms: percentile(latencies, 99),
    maxMs: max,
    maxLagMs: maxLag,
    tps: finished / seconds,
  };
}

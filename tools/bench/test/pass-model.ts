import type { PassResult } from '../src/pass.js';

const MB = 1048576;

/**
 * A pass as the summary and the reports read it: a correct 2 s fixed-rate pass at 400 tps with
 * 10 MB of WAL, unless `over` says otherwise.
 *
 * @example
 * ```ts
 * const p = passModel({ contender: 'pg_repack', wallMs: 2200 });
 * ```
 */
export function passModel(over: Partial<PassResult> & Pick<PassResult, 'contender'>): PassResult {
  return {
    run: 1,
    load: 'throttled',
    ok: true,
    startedAt: 0,
    endedAt: 2000,
    wallMs: 2000,
    sampledHolds: [],
    sampleGapMs: 5,
    loadStats: { transactions: 800, failed: 0, p99Ms: 5, maxMs: 10, maxLagMs: 1, tps: 400 },
    clientsAlive: 8,
    walBytes: 10 * MB,
    walWithTailBytes: 20 * MB,
    walWithTailMs: 4000,
    sizeBefore: { heapBytes: 400 * MB, totalBytes: 530 * MB },
    verification: { correct: true, problems: [], liveRows: 1, heapBytes: 200 * MB, totalBytes: 260 * MB },
    loadCommand: 'pgbench',
    ...over,
  };
}

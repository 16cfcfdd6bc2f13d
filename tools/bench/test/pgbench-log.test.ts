import { describe, expect, it } from 'vitest';
import { loadWindowStats, parsePgbenchLog } from '../src/pgbench-log.js';

describe('parsePgbenchLog', () => {
  it('reads latency, completion time and schedule lag of a throttled run', () => {
    const txs = parsePgbenchLog('0 1 2500 0 1700000000 250000 100\n3 7 failed 0 1700000001 5 0\n\ngarbage\n', { throttled: true });
    expect(txs).toEqual([
      { client: 0, endMs: 1700000000250, latencyMs: 2.5, lagMs: 0.1, failed: false },
      { client: 3, endMs: 1700000001000.005, latencyMs: 0, lagMs: 0, failed: true },
    ]);
  });

  it('has no lag without --rate', () => {
    const [tx] = parsePgbenchLog('1 2 1000 0 1700000000 0\n', { throttled: false });
    expect(tx?.lagMs).toBeUndefined();
    expect(tx?.latencyMs).toBe(1);
  });
});

describe('loadWindowStats', () => {
  const tx = (startMs: number, latencyMs: number, lagMs = 0): { client: number; endMs: number; latencyMs: number; lagMs: number; failed: boolean } => ({
    client: 0,
    endMs: startMs + latencyMs,
    latencyMs,
    lagMs,
    failed: false,
  });

  it('charges a transaction blocked by the repack to the window even though it finishes after it', () => {
    const txs = [tx(500, 2), tx(1000, 3), tx(1500, 2000, 1900), tx(2100, 4), tx(2500, 1)];
    const s = loadWindowStats(txs, 1000, 2000);
    expect(s.transactions).toBe(2);
    expect(s.maxMs).toBe(2000);
    expect(s.maxLagMs).toBe(1900);
    // Throughput counts what finished inside the window: only the first of the two.
    expect(s.tps).toBeCloseTo(1);
  });

  it('returns undefined latencies for an empty window', () => {
    const s = loadWindowStats([tx(0, 1)], 1000, 2000);
    expect(s.transactions).toBe(0);
    expect(s.maxMs).toBeUndefined();
    expect(s.p99Ms).toBeUndefined();
    expect(s.tps).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import type { PassResult } from '../src/pass.js';
import { resultsTable } from '../src/report.js';
import { checkTargets, summarize } from '../src/summary.js';
import { passModel } from './pass-model.js';

const MB = 1048576;

const pass = (over: Partial<PassResult> & Pick<PassResult, 'contender' | 'load'>): PassResult => passModel(over);

describe('summarize', () => {
  const passes: PassResult[] = [
    pass({ contender: 'no-repack', load: 'throttled', walWithTailBytes: 4 * MB, walWithTailMs: 4000 }),
    pass({ contender: 'no-repack', load: 'unthrottled', loadStats: { transactions: 1, failed: 0, p99Ms: 1, maxMs: 1, maxLagMs: undefined, tps: 1000 } }),
    ...[2000, 2400, 2200].map((wallMs, i) =>
      pass({
        contender: 'pg_repack',
        load: 'throttled',
        run: i + 1,
        wallMs,
        maxRssKb: 8000,
        sampledHolds: [{ pid: 1, estimateMs: 20, lowerMs: 15, upperMs: 25 }],
      }),
    ),
    pass({ contender: 'pg_repack', load: 'unthrottled', loadStats: { transactions: 1, failed: 0, p99Ms: 1, maxMs: 1, maxLagMs: undefined, tps: 900 } }),
    pass({
      contender: 'pgtools-catalog',
      load: 'throttled',
      wallMs: 1500,
      innerMs: 1300,
      maxRssKb: 60 * 1024,
      toolHolds: [
        { purpose: 'setup', heldMs: 30 },
        { purpose: 'swap', heldMs: 120 },
      ],
      sampledHolds: [{ pid: 2, estimateMs: 118, lowerMs: 110, upperMs: 126 }],
      loadStats: { transactions: 600, failed: 0, p99Ms: 100, maxMs: 130, maxLagMs: 50, tps: 400 },
    }),
    pass({
      contender: 'pgtools-catalog',
      load: 'unthrottled',
      verification: { correct: false, problems: ['checksum'], liveRows: 1, heapBytes: 1, totalBytes: 1 },
      ok: false,
      error: 'checksum',
    }),
  ];
  const rows = summarize(passes, ['no-repack', 'pg_repack', 'pgtools-catalog']);

  it('takes medians of the fixed-rate runs and the throughput share of the baseline', () => {
    const repack = rows[1]!;
    expect(repack.wallS).toEqual({ median: 2.2, min: 2, max: 2.4 });
    expect(repack.tpsKeptPct).toBeCloseTo(90);
    expect(repack.aeSampledMaxMs).toBe(20);
    expect(repack.rssMB).toBeCloseTo(7.8, 1);
    // 20 MB over 4 s minus the load's 1 MB/s.
    expect(repack.walNetMB).toBeCloseTo(16);
  });

  it('counts a wrong table as incorrect and keeps its error', () => {
    const pgtools = rows[2]!;
    expect(pgtools.correctPasses).toBe(1);
    expect(pgtools.passes).toBe(2);
    expect(pgtools.errors[0]).toContain('checksum');
    expect(pgtools.aeToolMaxMs).toBe(120);
    expect(pgtools.aeToolTotalMs).toBe(150);
    expect(pgtools.innerS).toBe(1.3);
    expect(resultsTable(rows)).toContain('**NO** (1/2)');
  });

  it('checks the targets against pg_repack', () => {
    const t = checkTargets(rows);
    const get = (name: string): boolean | undefined => t.find((x) => x.target.startsWith(name))?.met;
    expect(get('wall time <= 0.8x pg_repack')).toBe(true);
    expect(get('max load latency')).toBe(false);
    expect(get('longest ACCESS EXCLUSIVE')).toBe(false);
    expect(get('client RSS')).toBe(true);
    expect(get('wall time <= 1.0x VACUUM FULL')).toBeUndefined();
    // The unthrottled pass was incorrect: no throughput figure to judge.
    expect(get('throughput kept')).toBeUndefined();
  });
});

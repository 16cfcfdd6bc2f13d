import { describe, expect, it } from 'vitest';
import { formatSoakTable, parseHaBenchArgs, soakDrift, SOAK_TIMINGS, type HaSoakSample } from '../src/index.js';

const MIN = 60_000;

describe('bench:ha --soak', () => {
  it('parses the soak length and refuses what is not a number of minutes', () => {
    expect(parseHaBenchArgs(['--soak', '30']).soakMinutes).toBe(30);
    expect(parseHaBenchArgs([]).soakMinutes).toBeUndefined();
    for (const bad of ['0', '2', 'x', '1.5', '601']) expect(() => parseHaBenchArgs(['--soak', bad])).toThrow(/--soak must be/);
  });

  it('compares the mean of the first and the last window per node, leaving warm-up samples out', () => {
    const samples: HaSoakSample[] = [];
    for (let at = -2 * MIN; at < 30 * MIN; at += 30_000) {
      // node1 flat at 60 MB (warm-up at 90 MB must not count); node2 grows 0.1 MB a minute.
      samples.push({ at, node: 'node1', rssKb: at < 0 ? 90 * 1024 : 60 * 1024, heapUsedBytes: 12 * 1048576 });
      samples.push({ at, node: 'node2', rssKb: Math.round((60 + (0.1 * at) / MIN) * 1024), heapUsedBytes: undefined });
    }
    const [n1, n2] = soakDrift(samples, 30 * MIN, 10 * MIN);
    expect(n1).toEqual({ node: 'node1', rssFirstMb: 60, rssLastMb: 60, heapFirstMb: 12, heapLastMb: 12 });
    expect(n2!.rssLastMb - n2!.rssFirstMb).toBeCloseTo(2, 1);
    expect(n2!.heapFirstMb).toBeUndefined();
    const table = formatSoakTable(
      {
        minutes: 30,
        timings: SOAK_TIMINGS,
        windowMs: 10 * MIN,
        samples,
        switchovers: [{ at: 1, from: 'node1', to: 'node2', ok: true, answer: '200' }],
        drift: [n1!, n2!],
      },
      'pnpm bench:ha --soak 30',
    );
    expect(table).toContain('| node1 | 60.0 | 60.0 | 0.0 | 12.0 | 12.0 | 0.0 |');
    expect(table).toContain('| node2 |');
    expect(table).toContain('1 of 1 switchovers');
    expect(table).toContain('loop_wait 1');
  });
});

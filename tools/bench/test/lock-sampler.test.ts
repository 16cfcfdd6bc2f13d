import { describe, expect, it } from 'vitest';
import { holdsFromSamples } from '../src/lock-sampler.js';

describe('holdsFromSamples', () => {
  it('bounds each hold by the samples around it', () => {
    const holds = holdsFromSamples([
      { t: 0, holder: null },
      { t: 5, holder: 42 },
      { t: 10, holder: 42 },
      { t: 15, holder: null },
      { t: 20, holder: 7 },
      { t: 25, holder: 9 },
      { t: 30, holder: null },
    ]);
    expect(holds.map((h) => [h.pid, h.lowerMs, h.upperMs, h.estimateMs])).toEqual([
      [42, 5, 15, 10],
      [7, 0, 10, 5],
      [9, 0, 10, 5],
    ]);
  });

  it('handles a hold at the edges of the sampling', () => {
    const holds = holdsFromSamples([
      { t: 0, holder: 1 },
      { t: 5, holder: 1 },
      { t: 10, holder: null },
    ]);
    expect(holds).toHaveLength(1);
    expect(holds[0]?.lowerMs).toBe(5);
    expect(holds[0]?.upperMs).toBe(10);
    expect(holdsFromSamples([{ t: 0, holder: null }])).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { outageWindow } from '../src/load.js';

describe('outageWindow', () => {
  it('measures the largest gap from the last write before the fault to the first after it', () => {
    expect(outageWindow([0, 100, 200, 3200, 3300], 250, 3250)).toEqual({ outageMs: 3000, gapFrom: 200, gapTo: 3200 });
  });

  it('ignores gaps before the fault and after the settle point', () => {
    const acks = [0, 5000, 5100, 5200, 7200, 7300, 20_000];
    expect(outageWindow(acks, 5150, 7250)).toEqual({ outageMs: 2000, gapFrom: 5200, gapTo: 7200 });
  });

  it('counts from the fault when no write was acknowledged before it', () => {
    expect(outageWindow([1500, 1600], 1000, 1550)).toEqual({ outageMs: 500, gapFrom: 1000, gapTo: 1500 });
  });

  it('is zero with no write after the fault', () => {
    expect(outageWindow([0, 100], 200, 300)).toEqual({ outageMs: 0, gapFrom: undefined, gapTo: undefined });
  });
});

import { describe, expect, it } from 'vitest';
import { CATCH_UP_ROUNDS, caughtUp, drainLimit } from '../src/catch-up.js';

describe('when replaying the log has caught up', () => {
  const last = CATCH_UP_ROUNDS - 1;
  it.each([
    // applied, remaining, round, threshold -> done
    [3, 2, 0, 5, true],
    [3, undefined, 0, 5, true],
    [4, 5, 0, 5, false], // the round was small but writers added as much meanwhile
    [9, 8, 0, 5, false],
    [9, undefined, last, 5, false], // not counted: cannot tell the drain would be short
    [9, 8, last - 1, 5, false],
    [9, 8, last, 5, true], // a steady writer: after enough rounds, what the lock drains is enough
    [50, 1_000, last, 5, true],
    [50, 1_001, last, 5, false],
    [50, 1_001, last + 20, 5, false], // never past the drain limit, however long it takes
    [1_500, 2_000, last, 1_000, true],
    [999, 999, 0, 1_000, true],
  ] as const)('applied %s, remaining %s, round %s, switchThreshold %s -> %s', (applied, remaining, round, switchThreshold, done) => {
    expect(caughtUp({ applied, remaining, round, switchThreshold })).toBe(done);
  });

  it('the swap drains at most 2 x switchThreshold entries, at least 1,000', () => {
    expect(drainLimit(5)).toBe(1_000);
    expect(drainLimit(1_000)).toBe(2_000);
  });
});

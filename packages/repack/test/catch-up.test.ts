import { describe, expect, it } from 'vitest';
import { CATCH_UP_ROUNDS, caughtUp, drainLimit } from '../src/catch-up.js';

describe('when replaying the log has caught up', () => {
  const last = CATCH_UP_ROUNDS - 1;
  it.each([
    // applied, remaining, previous, round, threshold -> done
    [3, 2, undefined, 0, 5, true],
    [3, undefined, undefined, 0, 5, true],
    [4, 5, undefined, 0, 5, false], // the round was small but writers added as much meanwhile
    [9, 8, 7, 0, 5, false],
    [9, undefined, undefined, last, 5, false], // not counted: cannot tell the drain would be short
    [9, 8, undefined, last, 5, false], // one count: cannot tell whether it still shrinks
    [9, 8, 7, last - 1, 5, false],
    [9, 8, 7, last, 5, true], // writers keep pace: what the lock drains is enough
    [9, 8, 12, last, 5, true], // shrank by 4 of 9 applied: the writers add more than half as fast
    [10, 8, 13, last, 5, false], // shrank by 5 of 10: the replay is still winning
    [50, 986, 1_030, last, 5, false], // a backlog shrinking 44 a round: replay on, the drain gets shorter
    [50, 986, 1_030, last + 20, 5, false],
    [50, 500, 490, last, 5, true],
    [50, 501, 490, last, 5, false], // never past half the drain limit, however long it takes
    [50, 501, 490, last + 20, 5, false],
    [1_500, 1_000, 900, last, 1_000, true],
    [1_500, 1_001, 900, last, 1_000, false],
    [999, 999, undefined, 0, 1_000, true],
  ] as const)('applied %s, remaining %s, previous %s, round %s, switchThreshold %s -> %s', (applied, remaining, previous, round, switchThreshold, done) => {
    expect(caughtUp({ applied, remaining, previous, round, switchThreshold })).toBe(done);
  });

  it('the swap drains at most 2 x switchThreshold entries, at least 1,000', () => {
    expect(drainLimit(5)).toBe(1_000);
    expect(drainLimit(1_000)).toBe(2_000);
  });
});

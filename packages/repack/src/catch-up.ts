/**
 * When replaying the log has caught up with the writers. Pure; the apply phase and the swap's
 * catch-up before each lock attempt decide with it.
 */

/**
 * The most log entries the swap replays under ACCESS EXCLUSIVE: 2 x `switchThreshold`, at least
 * 1,000: about 1,000 entries replay in well under 50 ms.
 *
 * @example
 * ```ts
 * drainLimit(1_000); // 2000
 * drainLimit(5); // 1000
 * ```
 */
export function drainLimit(switchThreshold: number): number {
  return Math.max(2 * switchThreshold, 1_000);
}

/**
 * Rounds after which a log that hardly shrinks any more, and that the swap can drain under its lock
 * (half of `drainLimit`), is caught up enough. Below `switchThreshold` is the goal, but writers that add
 * that many entries during each round keep the loop going for as long as they write
 * (steady-load.int.test.ts: three writers that never pause and `switchThreshold` 1; one such run
 * took 18.8 s instead of 0.5 s before this bound). A backlog that the replay is still winning
 * against is replayed on: the less is left, the shorter the drain under ACCESS EXCLUSIVE. Ten rounds at a few ms each is still
 * nothing next to the copy.
 */
export const CATCH_UP_ROUNDS = 10;

/**
 * True when replaying can stop: the last round applied fewer than `switchThreshold` entries and
 * fewer are left (`remaining` undefined: not counted, judged on `applied` alone); or, after
 * `CATCH_UP_ROUNDS` rounds (`round` counts from 0), the log shrank since the previous count
 * (`previous`) by less than half of what the round applied (the writers add at least half as fast
 * as the replay takes) and the rest fits in half the swap's drain.
 *
 * @example
 * ```ts
 * caughtUp({ applied: 3, remaining: 2, previous: undefined, round: 0, switchThreshold: 5 }); // true
 * caughtUp({ applied: 9, remaining: 8, previous: 7, round: 0, switchThreshold: 5 }); // false: keep replaying
 * caughtUp({ applied: 9, remaining: 8, previous: 7, round: 9, switchThreshold: 5 }); // true: 8 drain under the lock in no time
 * caughtUp({ applied: 50, remaining: 905, previous: 950, round: 9, switchThreshold: 5 }); // false: still winning (-45 of 50)
 * ```
 */
export function caughtUp(o: { applied: number; remaining: number | undefined; previous: number | undefined; round: number; switchThreshold: number }): boolean {
  if (o.applied < o.switchThreshold && (o.remaining === undefined || o.remaining < o.switchThreshold)) return true;
  if (o.round + 1 < CATCH_UP_ROUNDS || o.remaining === undefined || o.previous === undefined) return false;
  // Half the drain: the other half is for what arrives while the lock is requested, so the swap
  // does not find more than it drains and let go of the lock again.
  return o.remaining > o.previous - o.applied / 2 && o.remaining <= drainLimit(o.switchThreshold) / 2;
}

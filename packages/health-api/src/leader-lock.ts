import type { NodeState } from './node-state.js';

/**
 * True while the node holds the leader key: the agent says so and, when it told us when the lease
 * runs out, that moment has not passed (a hung agent must not keep attracting writes).
 *
 * @example
 * ```ts
 * import { holdsLeaderLock } from '@pgtools/health-api';
 * holdsLeaderLock(state, Date.now());
 * ```
 */
export function holdsLeaderLock(state: NodeState, now: number): boolean {
  return state.isLeader && (state.leaderLeaseExpiresAt === undefined || now < state.leaderLeaseExpiresAt);
}

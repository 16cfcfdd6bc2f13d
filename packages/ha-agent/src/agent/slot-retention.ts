/** Slots of members absent this long are dropped (Patroni 4's `member_slots_ttl` default). */
export const MEMBER_SLOTS_TTL_MS = 30 * 60_000;

/** Which members' replication slots the leader keeps and which it drops. */
export interface SlotRetention {
  /** Members seen within the TTL: each needs a slot (a former primary whose key expired included). */
  keep: string[];
  /** Members gone for longer than the TTL: their slots only hold WAL back. */
  drop: string[];
}

/**
 * Splits the members by when they were last seen in etcd (`seenAt`, ms since epoch), leaving out
 * this node itself: seen less than `ttlMs` before `now` = keep, else drop.
 *
 * @example
 * ```ts
 * import { slotRetention } from '@pgtools/ha-agent/internals';
 * slotRetention(new Map([['node1', 0], ['node2', 0], ['node3', -3_600_000]]), 'node1', 1000);
 * // { keep: ['node2'], drop: ['node3'] }
 * ```
 */
export function slotRetention(seenAt: ReadonlyMap<string, number>, me: string, now: number, ttlMs = MEMBER_SLOTS_TTL_MS): SlotRetention {
  const keep: string[] = [];
  const drop: string[] = [];
  for (const [name, at] of seenAt) {
    if (name === me) continue;
    (now - at < ttlMs ? keep : drop).push(name);
  }
  return { keep, drop };
}

import { MEMBER_SLOTS_TTL_DEFAULT_MS } from '../config/slots-config.js';
import { upstreamOf, type UpstreamMember } from '../decision/upstream.js';

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
export function slotRetention(seenAt: ReadonlyMap<string, number>, me: string, now: number, ttlMs = MEMBER_SLOTS_TTL_DEFAULT_MS): SlotRetention {
  const keep: string[] = [];
  const drop: string[] = [];
  for (const [name, at] of seenAt) {
    if (name === me) continue;
    (now - at < ttlMs ? keep : drop).push(name);
  }
  return { keep, drop };
}

/** What `slotPlan` decides: slots to have, unused ones to drop, and which drops are for members gone past the TTL. */
export interface SlotPlan extends SlotRetention {
  /** The part of `drop` that is members absent longer than the TTL (forgotten once dropped). */
  expired: string[];
}

/**
 * The physical slots this node should hold, by who streams from it (`upstreamOf`, the rule the
 * members themselves follow; Patroni's `_get_members_slots` without `member_slots_ttl` advancing).
 * On the leader: a slot for every member in the view that streams from it, and, as
 * `slotRetention` says, for members absent less than the TTL; members in the view that stream
 * from another member (`replicatefrom`) or not at all (`nostream`) get none, since nothing would
 * advance it. On a replica: a slot for each member that cascades from it, and the drop of those
 * it made (`cascading`) that no longer do.
 *
 * @example
 * ```ts
 * import { slotPlan } from '@pgtools/ha-agent/internals';
 * const members = [{ name: 'node1' }, { name: 'node2', role: 'replica', state: 'running' }, { name: 'node3', tags: { replicatefrom: 'node2' } }];
 * slotPlan({ members, seenAt: new Map(), me: 'node1', leader: 'node1', now: 0 }); // keep ['node2'], drop ['node3']
 * slotPlan({ members, seenAt: new Map(), me: 'node2', leader: 'node1', now: 0 }); // keep ['node3'], drop []
 * ```
 */
export function slotPlan(o: {
  members: readonly UpstreamMember[];
  seenAt: ReadonlyMap<string, number>;
  me: string;
  leader: string | undefined;
  now: number;
  /** On a replica: the members it made a slot for. */
  cascading?: ReadonlySet<string>;
  ttlMs?: number;
}): SlotPlan {
  const amLeader = o.leader === o.me;
  const keep: string[] = [];
  const drop: string[] = [];
  const present = new Set<string>();
  for (const m of o.members) {
    if (m.name === o.me) continue;
    present.add(m.name);
    if (upstreamOf(o.members, o.leader, m.name, m.tags) === o.me) keep.push(m.name);
    else if (amLeader || o.cascading?.has(m.name)) drop.push(m.name);
  }
  const expired: string[] = [];
  if (amLeader) {
    const byAge = slotRetention(o.seenAt, o.me, o.now, o.ttlMs);
    keep.push(...byAge.keep.filter((n) => !present.has(n)));
    expired.push(...byAge.drop.filter((n) => !present.has(n)));
    drop.push(...expired);
  }
  return { keep, drop, expired };
}

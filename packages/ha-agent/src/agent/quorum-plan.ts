/**
 * Synchronous replication with several standbys (Patroni 4's `synchronous_node_count` > 1 and
 * `synchronous_mode: quorum`) as a pure, step-by-step plan.
 *
 * Two things say who holds the acknowledged commits:
 * - `synchronous_standby_names` (here `Ssn`): a commit is acknowledged once `num` of `names` have it;
 * - the `sync` key (here `QuorumKey`): a member may be promoted once it has seen `quorum` other
 *   members of leader + `voters` that are not ahead of it (quorum mode), or when it is listed
 *   (`synchronous_mode: on`, `quorum` 0).
 * The invariant: any `quorum + 1` voters overlap any `num` names, so a promoted member has every
 * acknowledged commit. Each write changes one of the two, and only to a state where the invariant
 * still holds, also for the commits acknowledged under the previous `synchronous_standby_names`
 * until enough of the new names caught up with the position at the change (`confirmed`). That gives
 * Patroni's order (its `QuorumStateResolver`): when the number of nodes needed for a commit grows,
 * `synchronous_standby_names` first, the key after; when it shrinks, the key first.
 */

/** `synchronous_standby_names` as planned: `ANY num (names)` (quorum) or `num (names)` (priority). */
export interface Ssn {
  names: string[];
  num: number;
}

/** The `sync` key: `voters` is its `sync_standby` list, `quorum` its `quorum` field. */
export interface QuorumKey {
  voters: string[];
  quorum: number;
}

/** What the leader knows this step. */
export interface QuorumPlanInput {
  /** `synchronous_mode: quorum` (else `on` with `synchronous_node_count` standbys). */
  quorumMode: boolean;
  /** `synchronous_node_count`. */
  nodeCount: number;
  /** Streaming members that may be synchronous, best first (priority, sync state, name). */
  active: string[];
  key: QuorumKey;
  ssn: Ssn;
  /** `num` of the current `names` reached the WAL position of its last change. */
  confirmed: boolean;
  /**
   * The earlier values set since the last confirmed one, oldest first: their acknowledged commits
   * must stay covered until `confirmed`. Undefined = not known (the agent restarted): then the key
   * may only get stricter until `confirmed`.
   */
  pending: Ssn[] | undefined;
}

/** The next write: the key, `synchronous_standby_names`, or none (steady, or wait for `confirmed`). */
export type QuorumStep = { kind: 'key'; key: QuorumKey } | { kind: 'ssn'; ssn: Ssn } | { kind: 'none'; waiting: boolean };

const sorted = (names: Iterable<string>): string[] => [...new Set(names)].sort();

/**
 * True when every `quorum + 1` voters overlap every `num` names (or no member can gather the
 * votes: then nobody is promoted at all, which loses nothing).
 *
 * @example
 * ```ts
 * import { quorumSafe } from '@pgtools/ha-agent/internals';
 * quorumSafe({ voters: ['a', 'b', 'c'], quorum: 2 }, { names: ['a', 'b', 'c'], num: 1 }); // true
 * quorumSafe({ voters: ['a', 'b', 'c'], quorum: 1 }, { names: ['a', 'b', 'c'], num: 1 }); // false
 * ```
 */
export function quorumSafe(key: QuorumKey, ssn: Ssn): boolean {
  const voters = new Set(key.voters);
  const names = new Set(ssn.names);
  if (key.quorum + 1 > voters.size) return true;
  const common = [...names].filter((n) => voters.has(n)).length;
  const namesOnly = names.size - common;
  const votersOnly = voters.size - common;
  // The most disjoint choice takes acknowledgers and voters outside the other set first.
  const needCommon = Math.max(0, ssn.num - namesOnly) + Math.max(0, key.quorum + 1 - votersOnly);
  return ssn.num > 0 && ssn.num <= names.size && needCommon > common;
}

/**
 * True when every member that may be promoted under `next` may also be under `prev`: voters added
 * raise the quorum by as many (Patroni's rule: increase the quorum before decreasing the names).
 */
export function quorumStricter(prev: QuorumKey, next: QuorumKey): boolean {
  const old = new Set(prev.voters);
  const added = next.voters.filter((v) => !old.has(v)).length;
  if (next.quorum + 1 > new Set(next.voters).size) return true;
  return next.quorum - added >= prev.quorum;
}

const sameKey = (a: QuorumKey, b: QuorumKey): boolean => a.quorum === b.quorum && sorted(a.voters).join(',') === sorted(b.voters).join(',');
const sameSsn = (a: Ssn, b: Ssn): boolean => a.num === b.num && sorted(a.names).join(',') === sorted(b.names).join(',');

/** The state the leader works towards: Patroni's optimal `sync = voters = active`. */
export function quorumTarget(input: Pick<QuorumPlanInput, 'quorumMode' | 'nodeCount' | 'active'>): { key: QuorumKey; ssn: Ssn } {
  if (input.quorumMode) {
    const names = sorted(input.active);
    const num = Math.min(input.nodeCount, names.length);
    return { key: { voters: names, quorum: names.length - num }, ssn: { names, num } };
  }
  // Priority (`synchronous_mode: on`): the best `synchronous_node_count`, every one of them waited for.
  const names = sorted(input.active.slice(0, input.nodeCount));
  return { key: { voters: names, quorum: 0 }, ssn: { names, num: names.length } };
}

/** A key write is allowed: stricter than the current one, or safe for every value whose commits may still count. */
function keyWritable(input: QuorumPlanInput, next: QuorumKey): boolean {
  if (!quorumSafe(next, input.ssn)) return false;
  if (quorumStricter(input.key, next) || input.confirmed) return true;
  return input.pending !== undefined && input.pending.every((s) => quorumSafe(next, s));
}

/**
 * The next safe write towards `quorumTarget` (call again after carrying it out). The key goes
 * first when that is safe, then `synchronous_standby_names`; when neither may go directly, an
 * intermediate key: in quorum mode every voter old and new with the smallest quorum that covers
 * both values, in priority mode the voters both values share.
 *
 * @example
 * ```ts
 * import { planQuorumStep } from '@pgtools/ha-agent/internals';
 * // synchronous_node_count 1 -> 2 over node2..node4: synchronous_standby_names first.
 * planQuorumStep({ quorumMode: true, nodeCount: 2, active: ['node2', 'node3', 'node4'],
 *   key: { voters: ['node2', 'node3', 'node4'], quorum: 2 }, ssn: { names: ['node2', 'node3', 'node4'], num: 1 },
 *   confirmed: true, pending: [] });
 * // { kind: 'ssn', ssn: { names: ['node2', 'node3', 'node4'], num: 2 } }
 * ```
 */
export function planQuorumStep(input: QuorumPlanInput): QuorumStep {
  const target = quorumTarget(input);
  const keyDone = sameKey(input.key, target.key);
  const ssnDone = sameSsn(input.ssn, target.ssn);
  if (keyDone && ssnDone) return { kind: 'none', waiting: false };
  if (!keyDone && keyWritable(input, target.key)) return { kind: 'key', key: target.key };
  if (!ssnDone && quorumSafe(input.key, target.ssn)) return { kind: 'ssn', ssn: target.ssn };
  if (!ssnDone) {
    const bridge = bridgeKey(input, target.ssn);
    if (bridge && !sameKey(bridge, input.key)) return { kind: 'key', key: bridge };
  }
  return { kind: 'none', waiting: true };
}

/** A key that is safe for the current and the target `synchronous_standby_names` at once. */
function bridgeKey(input: QuorumPlanInput, next: Ssn): QuorumKey | undefined {
  if (!input.quorumMode) {
    const keep = new Set(next.names);
    const key = { voters: input.key.voters.filter((v) => keep.has(v)), quorum: 0 };
    return keyWritable(input, key) && quorumSafe(key, next) ? key : undefined;
  }
  const voters = sorted([...input.key.voters, ...input.ssn.names, ...next.names]);
  for (let quorum = 0; quorum < voters.length; quorum++) {
    const key = { voters, quorum };
    if (keyWritable(input, key) && quorumSafe(key, next)) return key;
  }
  return undefined;
}

/**
 * The `synchronous_standby_names` value (names sorted and quoted, as PostgreSQL parses the list):
 * `ANY num (...)` in quorum mode, `num (...)` for several in priority mode, the bare name for one;
 * with no name, `*` in strict mode (every commit waits for some standby), else empty.
 *
 * @example
 * ```ts
 * import { formatSsn } from '@pgtools/ha-agent/internals';
 * formatSsn({ names: ['node3', 'node2'], num: 1 }, true, false); // 'ANY 1 ("node2","node3")'
 * formatSsn({ names: ['node2', 'node3'], num: 2 }, false, false); // '2 ("node2","node3")'
 * ```
 */
export function formatSsn(ssn: Ssn, quorumMode: boolean, strict: boolean): string {
  if (ssn.names.length === 0 || ssn.num === 0) return strict ? '*' : '';
  const list = sorted(ssn.names)
    .map((n) => `"${n.replace(/"/g, '""')}"`)
    .join(',');
  if (quorumMode) return `ANY ${ssn.num} (${list})`;
  return ssn.names.length === 1 ? list : `${ssn.num} (${list})`;
}

/**
 * The `synchronous_standby_names` that matches a `sync` key (a leader restarted in place must wait
 * from its first commit on): `num = voters - quorum`, which is safe for the key by construction.
 */
export function ssnForKey(key: QuorumKey, quorumMode: boolean): Ssn {
  const names = sorted(key.voters);
  return { names, num: quorumMode ? Math.max(0, names.length - key.quorum) : names.length };
}

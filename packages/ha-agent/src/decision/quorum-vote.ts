import type { DecisionInput } from './decision-input.js';
import { myWalPosition, probeOf } from './facts.js';

/** Whether this node may be promoted in quorum mode, and why not. */
export type QuorumVerdict = { ok: true; votes: number; needed: number } | { ok: false; votes: number; needed: number; why: string };

/**
 * Quorum mode only (`synchronous_mode: quorum`, or a `sync` key still carrying a quorum, with a
 * leader): undefined otherwise.
 *
 * A commit is acknowledged once `num` of the standbys have it, and the leader keeps the `sync` key
 * so that any `quorum + 1` of leader + voters include one of them. So a member is sure to hold
 * every acknowledged commit when it sees that many members of that set (itself included) whose WAL
 * is not ahead of its own: `quorum` others when it is a voter, `quorum + 1` when not (Patroni 4's
 * `_is_healthiest_node` quorum votes). Only members that answered, run PostgreSQL (a WAL position
 * above 0) and may fail over vote, as in Patroni. The former leader, when it is this node, wins
 * with no one ahead (Patroni's exception: it has every commit it acknowledged).
 *
 * @example
 * ```ts
 * import { quorumVotes } from '@pgtools/ha-agent/internals';
 * // sync key: leader node1, voters node2..node4, quorum 2; node1 is gone, node3 and node4 are not ahead.
 * quorumVotes(input)?.ok; // true when node2 got 2 votes
 * ```
 */
export function quorumVotes(input: DecisionInput): QuorumVerdict | undefined {
  const sync = input.cluster.sync;
  // A key with a quorum was written in quorum mode: it binds until the leader rewrites it (mode switch).
  if (!sync?.leader || !(input.config.synchronousQuorum === true || (sync.quorum ?? 0) > 0)) return undefined;
  const me = input.config.name;
  const quorum = sync.quorum ?? 0;
  const votingSet = new Set([sync.leader, ...sync.syncStandbys]);
  const mine = myWalPosition(input);
  const needed = votingSet.has(me) ? quorum : quorum + 1;
  let votes = 0;
  let ahead = 0;
  for (const name of votingSet) {
    if (name === me) continue;
    const p = probeOf(input, name);
    if (!p || !p.reachable || p.nofailover || p.watchdogFailed || p.state !== 'running') continue;
    const theirs = p.walPosition ?? 0;
    if (theirs > mine) ahead++;
    else if (theirs > 0) votes++;
  }
  if (votes >= needed || (ahead === 0 && sync.leader === me)) return { ok: true, votes, needed };
  const voters = [...votingSet].filter((n) => n !== me).join(', ');
  return {
    ok: false,
    votes,
    needed,
    why: `Quorum requirement ${needed} can not be reached: ${votes} of ${voters} vouch for my wal position ${mine}`,
  };
}

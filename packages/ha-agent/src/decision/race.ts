import type { DecisionInput, PeerProbe } from './decision-input.js';
import { isPrimaryRole, member, myWalPosition, probe, probeHealthy, probeOf } from './facts.js';
import { failoverTags } from './failover-tags.js';
import type { HaAction } from './ha-action.js';
import { quorumVotes } from './quorum-vote.js';

/**
 * True when the key holder's PostgreSQL started after the newest message this replica received
 * from it: what it wrote since may exist on the leader alone. Both times are on the leader's clock.
 */
export function missedLeaderRestart(input: DecisionInput, leader: string | undefined): boolean {
  const last = input.lastLeader;
  if (!last || last.name !== leader || last.name === input.config.name) return false;
  return (input.local.streamedFromLeaderAt ?? Number.NEGATIVE_INFINITY) < last.startedAt;
}

/**
 * Where the WAL of `name` ends when it stopped cleanly: its member key says `stopped` and carries
 * the shutdown checkpoint's position (the agent publishes both in one write after a clean stop).
 */
function cleanStopPosition(input: DecisionInput, name: string): number | undefined {
  const m = member(input, name);
  return m?.state === 'stopped' && m.xlogLocation !== undefined ? m.xlogLocation : undefined;
}

/** No leader key: Patroni's healthiest-node race (`is_healthiest_node`). */
export function decideRace(input: DecisionInput, runningPrimary: boolean): HaAction {
  const { cluster, config: cfg } = input;
  const me = cfg.name;
  const fo = cluster.failover;
  const activeFailover =
    fo !== undefined && (fo.leader !== undefined || fo.candidate !== undefined) && !(fo.scheduledAt !== undefined && fo.scheduledAt > input.now);
  const clearFailoverKey = fo !== undefined && (fo.leader !== undefined || fo.candidate !== undefined);
  const myWal = myWalPosition(input);

  const lose = (why: string): HaAction =>
    runningPrimary
      ? { kind: 'demote', mode: 'immediate', releaseLeader: false, reason: why, message: `demoting self because I am not the healthiest node: ${why}` }
      : { kind: 'follow', leader: undefined, message: `following a different leader because I am not the healthiest node: ${why}` };
  const win = (how: string): HaAction =>
    runningPrimary
      ? { kind: 'acquire_leader', clearFailoverKey, message: `acquired session lock as a leader${how}` }
      : { kind: 'acquire_leader_and_promote', clearFailoverKey, message: `promoted self to leader by acquiring session lock${how}` };

  if (failoverTags(cfg.tags).nofailover) return lose('nofailover is set');
  if (cfg.watchdogUnusable) return lose('the watchdog is required but could not be activated');
  // Quorum mode: a member outside the voters may win too, with enough votes (checked once probed).
  // Pure in `input`: computed once (its verdict needs the probes, asked for below when missing).
  const verdict = cfg.synchronousMode && !runningPrimary ? quorumVotes(input) : undefined;
  const byQuorum = verdict !== undefined;
  if (cfg.synchronousMode && !runningPrimary && !byQuorum) {
    const sync = cluster.sync;
    if (!sync || (sync.leader !== me && !sync.syncStandbys.includes(me))) return lose('not a synchronous standby');
  }
  const others = cluster.members.filter((m) => m.name !== me && m.apiUrl);
  if (activeFailover && fo?.candidate === me) {
    if (!byQuorum) return win(' (manual failover)');
    if (input.peerProbes === undefined && others.length > 0)
      return probe(
        others.map((m) => m.name),
        'manual failover',
      );
    return verdict && !verdict.ok ? lose(verdict.why) : win(' (manual failover)');
  }

  if (activeFailover && fo?.candidate && others.some((m) => m.name === fo.candidate)) {
    // Someone else was asked for: stand back while that candidate is healthy.
    if (input.peerProbes === undefined)
      return probe(
        others.map((m) => m.name),
        'manual failover',
      );
    if (probeHealthy(probeOf(input, fo.candidate))) return lose(`manual failover to ${fo.candidate} in progress`);
  }
  if (runningPrimary) {
    // Patroni checks this whatever check_timeline says: a primary whose lease expired while another
    // member was promoted must not take the key back over that promotion.
    const clusterTimeline = cluster.timeline ?? 0;
    if ((input.local.timeline ?? 0) < clusterTimeline) {
      return lose(`my timeline ${input.local.timeline ?? 'unknown'} is behind last known cluster timeline ${clusterTimeline}`);
    }
    return win('');
  }

  // The optime the leader published may be older than its last restart's writes. In synchronous
  // mode the sync key already guarantees them (a listed standby confirmed every commit).
  // A leader that stopped cleanly published where its WAL ends: then the optime rule can tell.
  const last = input.lastLeader;
  const finalPosition = last ? cleanStopPosition(input, last.name) : undefined;
  // A standby leader writes nothing of its own: a member behind it catches up from the remote primary.
  if (!cfg.synchronousMode && cfg.standbyCluster !== true && last && finalPosition === undefined && missedLeaderRestart(input, last.name)) {
    return lose(
      `I cannot tell how far behind ${last.name} I am: its PostgreSQL started at ${new Date(last.startedAt).toISOString()} and I have not streamed from it since`,
    );
  }
  const leaderPosition = Math.max(cluster.optime ?? 0, finalPosition ?? 0);
  if ((cluster.optime !== undefined || finalPosition !== undefined) && leaderPosition - myWal > cfg.maximumLagOnFailover) {
    return lose(
      `my wal position ${myWal} is behind the last leader position ${leaderPosition} by more than maximum_lag_on_failover (${cfg.maximumLagOnFailover})`,
    );
  }
  const behind = timelineBehind(input);
  if (behind) return lose(behind);
  if (others.length > 0 && input.peerProbes === undefined)
    return probe(
      others.map((m) => m.name),
      'leader race',
    );
  for (const m of others) {
    const p = probeOf(input, m.name);
    if (!p || !p.reachable) continue;
    if (isPrimaryRole(p.role) && p.state === 'running') return lose(`Primary (${m.name}) is still alive`);
  }
  if (activeFailover && fo?.leader === me && !fo.candidate) {
    // I was switched away from: let any healthy member take over first.
    const alternative = others.find((m) => !m.tags?.nofailover && probeHealthy(probeOf(input, m.name)));
    if (alternative) return lose(`switchover away from me in progress, ${alternative.name} is healthy`);
  }
  // Only members that may race themselves can beat me; otherwise nobody would ever take over.
  const mayRace = (name: string): boolean => !cfg.synchronousMode || cluster.sync?.leader === name || (cluster.sync?.syncStandbys.includes(name) ?? false);
  // Patroni's `_is_healthiest_node`: at the same WAL position a higher failover_priority wins,
  // except the former leader's (it may come back with its priority but not ahead of us).
  const myPriority = failoverTags(cfg.tags).failoverPriority;
  const formerLeader = cfg.synchronousMode ? cluster.sync?.leader : input.lastLeader?.name;
  for (const m of others) {
    if (m.tags?.nofailover || !mayRace(m.name)) continue;
    const p = probeOf(input, m.name);
    if (!probeHealthy(p)) continue;
    const theirs = p.walPosition ?? 0;
    if (theirs > myWal) return lose(`Wal position of ${m.name} is ahead of my wal position`);
    const priority = p.failoverPriority ?? 1;
    if (theirs > 0 && theirs === myWal && myPriority < priority && m.name !== formerLeader) {
      return lose(`${m.name} has equally tolerable WAL position and priority ${priority}, while this node has priority ${myPriority}`);
    }
  }
  if (verdict && !verdict.ok) return lose(verdict.why);
  return win('');
}

/**
 * `check_timeline` (Patroni's `_is_healthiest_node`): a replica that cannot tell its timeline, or
 * whose timeline is older than the cluster's (the `history` key), must not become leader: it
 * would promote a history the cluster already left. Undefined = the check passes or is off.
 */
export function timelineBehind(input: DecisionInput): string | undefined {
  if (!input.config.checkTimeline) return undefined;
  const mine = input.local.timeline;
  const clusterTimeline = input.cluster.timeline ?? 0;
  if (mine === undefined) return 'I cannot figure out my timeline (check_timeline is set)';
  if (mine < clusterTimeline) return `my timeline ${mine} is behind last known cluster timeline ${clusterTimeline} (check_timeline is set)`;
  return undefined;
}

/**
 * `check_timeline` for a switchover candidate (Patroni's `is_failover_possible`): its probe must
 * report a timeline, not older than the cluster's. True when the check is off.
 */
export function candidateTimelineOk(input: DecisionInput, p: PeerProbe): boolean {
  if (!input.config.checkTimeline) return true;
  return p.timeline !== undefined && p.timeline > 0 && p.timeline >= (input.cluster.timeline ?? 0);
}

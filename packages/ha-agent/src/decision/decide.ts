import type { DecisionInput } from './decision-input.js';
import { member, myWalPosition, probeHealthy, probeOf } from './facts.js';
import type { HaAction } from './ha-action.js';
import { failoverTags } from './failover-tags.js';
import { decideFailsafePrimary, decideFailsafeRace } from './failsafe.js';
import { candidateTimelineOk, decideRace, missedLeaderRestart } from './race.js';
import { inStandbyCluster } from './standby-cluster.js';
import { upstreamOf } from './upstream.js';

/**
 * How long after it first sees a leader's new PostgreSQL start time a replica keeps waking its WAL
 * receiver. The receiver's first attempt after the leader's crash fails (the leader is down for
 * ~0.2 s), and PostgreSQL then waits `wal_retrieve_retry_interval` (5 s by default) before the next
 * one: 4-5 s with no replica in issue 14's lab. Past 10 s PostgreSQL's own retry has come twice.
 */
export const RECONNECT_KICK_WINDOW_MS = 10_000;

/**
 * A PostgreSQL start is not tried again within this long of the last one. A postmaster that dies
 * right after starting wakes the loop at once (the agent watches it); this keeps such a crash loop
 * to two attempts a second instead of a busy loop, and never delays the first start after a crash
 * (the previous attempt is then long past). The agent's value since its first version.
 */
export const START_RETRY_INTERVAL_MS = 500;

function pickCloneSource(input: DecisionInput): { from: string; fromLeader: boolean; basebackupOnly?: true } | undefined {
  const me = input.config.name;
  // Patroni's `_do_reinitialize(from_leader=True)`: the leader, never a clonefrom member.
  const fromLeader = input.local.reinitFromLeader === true ? input.cluster.leader : undefined;
  if (fromLeader !== undefined && fromLeader !== me) return { from: fromLeader, fromLeader: true, basebackupOnly: true };
  // Deterministic where Patroni picks at random: the first running clonefrom member by name.
  const clonefrom = input.cluster.members
    .filter((m) => m.name !== me && m.tags?.clonefrom === true && m.state === 'running')
    .map((m) => m.name)
    .sort();
  if (clonefrom[0] !== undefined) return { from: clonefrom[0], fromLeader: false };
  const leader = input.cluster.leader;
  if (leader !== undefined && leader !== me) return { from: leader, fromLeader: true };
  return undefined;
}

/**
 * The HA decision step (Patroni's `_run_cycle`) as a pure function: from the etcd view, the local
 * PostgreSQL state, the settings, the pause flag, the lease refresh outcome, the time and the
 * members' `/patroni` answers, it returns the one action to take this loop, with a log message in
 * Patroni's words. No I/O, no clock: when it needs the members' answers it asks for them
 * (`probe_members`) and the agent calls it again with `peerProbes`.
 *
 * @example
 * ```ts
 * import { decide } from '@pgtools/ha-agent';
 * const action = decide({
 *   cluster: { leader: 'node1', members: [{ name: 'node1' }, { name: 'node2' }], initialize: '7300' },
 *   local: { postgresRunning: true, role: 'replica', dataDirEmpty: false, systemId: '7300' },
 *   config: { name: 'node2', ttl: 30, loopWait: 10, maximumLagOnFailover: 1048576, primaryStartTimeout: 300,
 *             synchronousMode: false, tags: {} },
 *   paused: false, dcsReachable: true, now: Date.now(),
 * });
 * action.kind;    // 'follow'
 * action.message; // 'no action. I am (node2), a secondary, and following a leader (node1)'
 * ```
 */
export function decide(input: DecisionInput): HaAction {
  const action = decideCluster(input);
  return input.config.standbyCluster === true ? inStandbyCluster(input, action) : action;
}

function decideCluster(input: DecisionInput): HaAction {
  const { cluster, local, config: cfg, paused } = input;
  const me = cfg.name;
  const iHoldKey = cluster.leader === me;
  const running = local.postgresRunning && !local.postgresStarting;
  const runningPrimary = running && local.role === 'primary';

  // etcd unreachable past retry_timeout: a primary cannot know it still holds the key.
  if (!input.dcsReachable) {
    if (paused) return { kind: 'paused_noop', message: 'PAUSE: DCS is not accessible' };
    const failsafe = runningPrimary ? decideFailsafePrimary(input) : undefined;
    if (failsafe) return failsafe;
    if (runningPrimary && iHoldKey && (input.leaseValidForMs ?? 0) > 0) return keepWhileLeaseValid('DCS is not accessible', input.leaseValidForMs ?? 0);
    if (runningPrimary) {
      return {
        kind: 'demote',
        mode: 'immediate',
        releaseLeader: false,
        reason: 'DCS is not accessible',
        message: 'demoting self because DCS is not accessible and I was a leader',
      };
    }
    if (!local.postgresRunning && !local.dataDirEmpty && local.systemId !== undefined) {
      const tooSoon = startTooSoon(input);
      if (tooSoon) return tooSoon;
      // Stopped by the lease guard, or a crash: serve reads as a standby until etcd is back.
      return { kind: 'start_postgres_as_replica', leader: undefined, message: 'DCS is not accessible; starting as a read-only secondary' };
    }
    return { kind: 'wait', message: `DCS is not accessible; I am (${me}), a secondary, and carry on` };
  }

  if (local.dataDirEmpty) {
    if (cluster.leader === undefined && cluster.initialize === undefined) {
      if (failoverTags(cfg.tags).nofailover) return { kind: 'wait_for_bootstrap', message: 'waiting for leader to bootstrap (nofailover is set)' };
      return { kind: 'bootstrap', message: 'trying to bootstrap a new cluster' };
    }
    const source = pickCloneSource(input);
    if (source) {
      return {
        kind: 'clone',
        ...source,
        message: source.fromLeader ? `trying to bootstrap from leader '${source.from}'` : `trying to bootstrap from replica '${source.from}'`,
      };
    }
    // Patroni: no leader, but a method restores from a backup; not while another member bootstraps.
    if (cluster.leader === undefined && cfg.canCloneWithoutLeader === true && cluster.initialize !== '') {
      return { kind: 'clone', from: undefined, fromLeader: false, message: 'trying to bootstrap (without leader)' };
    }
    return { kind: 'wait_for_bootstrap', message: 'waiting for leader to bootstrap' };
  }

  if (cluster.initialize && local.systemId && cluster.initialize !== local.systemId) {
    return {
      kind: 'exit_system_id_mismatch',
      expected: cluster.initialize,
      actual: local.systemId,
      message: `system ID mismatch, node ${me} belongs to a different cluster: ${cluster.initialize} != ${local.systemId}`,
    };
  }

  const startTimedOut =
    cfg.primaryStartTimeout === 0 || (local.postgresDownSince !== undefined && input.now - local.postgresDownSince >= cfg.primaryStartTimeout * 1000);

  if (local.postgresStarting) {
    if (paused) return { kind: 'paused_noop', message: 'PAUSE: PostgreSQL is starting' };
    if (iHoldKey && input.leaderRefreshOk !== false) {
      if (startTimedOut) return releaseForStartTimeout(cfg.primaryStartTimeout);
      return { kind: 'refresh_leader', clearFailoverKey: false, message: 'updated leader lock while PostgreSQL is starting' };
    }
    return { kind: 'wait', message: 'PostgreSQL is starting' };
  }

  if (!local.postgresRunning) {
    if (paused) return { kind: 'paused_noop', message: 'PAUSE: postgres is not running' };
    if (iHoldKey && input.leaderRefreshOk !== false) {
      // Keep the key while PostgreSQL comes back in place: cheaper than a failover, unless it takes too long.
      if (startTimedOut) return releaseForStartTimeout(cfg.primaryStartTimeout);
      return startTooSoon(input) ?? { kind: 'restart_postgres_as_primary', message: 'starting primary after failure' };
    }
    const tooSoon = startTooSoon(input);
    if (tooSoon) return tooSoon;
    const leader = cluster.leader !== undefined && cluster.leader !== me ? cluster.leader : undefined;
    const rewind = leader !== undefined ? decideRewind(input, leader) : undefined;
    if (rewind) return rewind;
    return { kind: 'start_postgres_as_replica', leader, message: 'starting as a secondary' };
  }

  if (paused) return decidePaused(input, runningPrimary);

  if (cluster.leader !== undefined) {
    if (iHoldKey) return decideAsLeader(input, runningPrimary);
    if (runningPrimary) {
      return {
        kind: 'demote',
        mode: 'immediate',
        releaseLeader: false,
        reason: `${cluster.leader} holds the leader lock`,
        message: 'demoting self because I do not have the lock and I was a leader',
      };
    }
    const rewind = decideRewind(input, cluster.leader);
    if (rewind) return rewind;
    if (needsReconnect(input)) {
      return {
        kind: 'follow',
        leader: cluster.leader,
        reconnect: true,
        message: `I (${me}) have not streamed from the leader (${cluster.leader}) since its PostgreSQL started: waking the WAL receiver now`,
      };
    }
    return { kind: 'follow', leader: cluster.leader, message: `no action. I am (${me}), a secondary, and following a leader (${cluster.leader})` };
  }

  return decideFailsafeRace(input, runningPrimary) ?? decideRace(input, runningPrimary);
}

/** A `wait` when PostgreSQL was started less than `START_RETRY_INTERVAL_MS` ago. */
function startTooSoon(input: DecisionInput): HaAction | undefined {
  const last = input.local.lastStartAttemptAt;
  if (last === undefined || input.now - last >= START_RETRY_INTERVAL_MS) return undefined;
  return { kind: 'wait', message: `PostgreSQL was started ${input.now - last} ms ago: not starting it again yet` };
}

/**
 * Whether this node must be rewound (or cloned again) before it can follow `leader` (Patroni's
 * `_handle_rewind_or_reinitialize`), with `use_pg_rewind` on: a data dir that ran as a primary,
 * or a replica that replayed past the leader's fork. With it off and
 * `remove_data_directory_on_diverged_timelines` on, a replica past the fork is cloned again. After
 * a failed pg_rewind the data dir is emptied when `remove_data_directory_on_rewind_failure` (or
 * `remove_data_directory_on_diverged_timelines`, as Patroni's `Rewind.execute`) allows it, else it stays stopped and the
 * rewind is tried again at the next regular cycle (not the one the failure wakes at once). A leader
 * whose address is unknown cannot be rewound from: undefined, the node starts or follows as before.
 */
function decideRewind(input: DecisionInput, leader: string): HaAction | undefined {
  const { local, config: cfg } = input;
  const me = cfg.name;
  const reclone = cfg.removeDataDirectoryOnDivergedTimelines === true;
  if ((!cfg.usePgRewind && !reclone) || member(input, leader)?.connUrl === undefined) return undefined;
  if (!cfg.usePgRewind) {
    // Without pg_rewind only a divergence seen in the leader's timeline history re-clones (Patroni
    // checks timeline and position against it too); a data dir that merely may have diverged starts
    // as a replica first, and is checked once it runs.
    if (!local.postgresRunning || !local.replayedPastFork) return undefined;
    return {
      kind: 'reinitialize',
      leader,
      message: `reinitializing due to diverged timelines: I (${me}) replayed WAL that ${leader}'s timeline history does not contain and pg_rewind is off (remove_data_directory_on_diverged_timelines is set)`,
    };
  }
  if (local.mayHaveDiverged) {
    const failedAt = local.rewindFailedAt;
    if (failedAt === undefined) {
      return {
        kind: 'rewind_then_follow',
        leader,
        message: `rewinding before following ${leader}: this data directory ran as a primary and may hold WAL ${leader} never saw`,
      };
    }
    if (cfg.removeDataDirectoryOnRewindFailure || reclone) {
      const key = cfg.removeDataDirectoryOnRewindFailure ? 'remove_data_directory_on_rewind_failure' : 'remove_data_directory_on_diverged_timelines';
      return {
        kind: 'reinitialize',
        leader,
        message: `pg_rewind failed and ${key} is set: removing the data directory to clone it again from ${leader}`,
      };
    }
    if (input.now - failedAt < (cfg.loopWait * 1000) / 2) {
      return {
        kind: 'wait',
        message: 'not starting PostgreSQL: it would diverge from the leader (pg_rewind failed; set remove_data_directory_on_rewind_failure to re-clone)',
      };
    }
    return {
      kind: 'rewind_then_follow',
      leader,
      message: `rewinding before following ${leader} again: the last pg_rewind failed (set remove_data_directory_on_rewind_failure to re-clone instead)`,
    };
  }
  if (local.postgresRunning && local.replayedPastFork) {
    return {
      kind: 'rewind_then_follow',
      leader,
      message: `rewinding before following ${leader}: I (${me}) replayed WAL that ${leader}'s timeline history does not contain (I streamed from a primary that kept writing)`,
    };
  }
  return undefined;
}

function needsReconnect(input: DecisionInput): boolean {
  const last = input.lastLeader;
  const leader = input.cluster.leader;
  // A cascading or nostream replica has no receiver of the leader's to wake.
  if (upstreamOf(input.cluster.members, leader, input.config.name, input.config.tags) !== leader) return false;
  return last !== undefined && missedLeaderRestart(input, leader) && input.now - last.seenAt < RECONNECT_KICK_WINDOW_MS;
}

function keepWhileLeaseValid(why: string, validForMs: number): HaAction {
  return {
    kind: 'wait',
    retrySoon: true,
    message: `${why}; keeping the primary while the leader lease is valid (${(validForMs / 1000).toFixed(1)} s more) and retrying`,
  };
}

function releaseForStartTimeout(timeout: number): HaAction {
  const reason = timeout === 0 ? 'primary_start_timeout is 0' : `primary start has timed out (primary_start_timeout ${timeout} s)`;
  return { kind: 'release_leader', reason, message: `${reason}: releasing the leader key so that a replica can take over` };
}

function decidePaused(input: DecisionInput, runningPrimary: boolean): HaAction {
  const { cluster, config: cfg } = input;
  const me = cfg.name;
  if (cluster.leader === me) {
    if (input.leaderRefreshOk === false) return { kind: 'paused_noop', message: 'PAUSE: failed to update leader lock in DCS' };
    // In pause only a switchover to a named candidate is carried out.
    if (cluster.failover?.candidate) {
      const switched = switchoverFromLeader(input, runningPrimary);
      if (switched) return switched;
    }
    return { kind: 'refresh_leader', clearFailoverKey: false, message: `PAUSE: no action. I am (${me}), the leader with the lock` };
  }
  if (cluster.leader === undefined) {
    if (runningPrimary) return { kind: 'acquire_leader', clearFailoverKey: false, message: 'PAUSE: acquired session lock as a leader' };
    if (cluster.failover?.candidate === me && !failoverTags(cfg.tags).nofailover && !cfg.watchdogUnusable) {
      return {
        kind: 'acquire_leader_and_promote',
        clearFailoverKey: true,
        message: 'PAUSE: promoted self to leader by acquiring session lock (manual failover)',
      };
    }
    return { kind: 'paused_noop', message: `PAUSE: no action. I am (${me}), a secondary, and the cluster has no leader` };
  }
  if (runningPrimary) return { kind: 'paused_noop', message: 'PAUSE: continue to run as primary without lock' };
  return { kind: 'paused_noop', message: `PAUSE: no action. I am (${me}), a secondary, and following a leader (${cluster.leader})` };
}

function decideAsLeader(input: DecisionInput, runningPrimary: boolean): HaAction {
  const { cluster, config: cfg } = input;
  const me = cfg.name;
  if (input.leaderRefreshOk === false) {
    // etcd did not answer the refresh (Patroni's DCSError from update_lock): as when it cannot be read.
    const failsafe = runningPrimary && input.leaderRefreshUnanswered === true ? decideFailsafePrimary(input) : undefined;
    if (failsafe) return failsafe;
    if (runningPrimary && (input.leaseValidForMs ?? 0) > 0) return keepWhileLeaseValid('failed to update leader lock in DCS', input.leaseValidForMs ?? 0);
    if (runningPrimary) {
      return {
        kind: 'demote',
        mode: 'immediate',
        releaseLeader: false,
        reason: 'failed to update leader lock in DCS',
        message: 'demoted self because failed to update leader lock in DCS',
      };
    }
    return { kind: 'wait', message: 'not promoting because failed to update leader lock in DCS' };
  }
  const fo = cluster.failover;
  let clearFailoverKey = false;
  let note = '';
  if (fo && (fo.leader || fo.candidate)) {
    const switched = switchoverFromLeader(input, runningPrimary);
    if (switched) return switched;
    clearFailoverKey = !(fo.scheduledAt !== undefined && fo.scheduledAt > input.now);
    note = failoverNote(input);
  }
  if (cfg.watchdogUnusable) {
    if (runningPrimary) {
      return {
        kind: 'demote',
        mode: 'immediate',
        releaseLeader: true,
        reason: 'watchdog could not be activated',
        message: 'Demoting self because watchdog could not be activated',
      };
    }
    return { kind: 'release_leader', reason: 'watchdog could not be activated', message: 'Not promoting self because watchdog could not be activated' };
  }
  if (runningPrimary) {
    return { kind: 'refresh_leader', clearFailoverKey, message: note || `no action. I am (${me}), the leader with the lock` };
  }
  return { kind: 'refresh_leader_and_promote', clearFailoverKey, message: 'promoted self to leader because I had the session lock' };
}

/** Why a failover key is dropped or waited on, for the refresh message. */
function failoverNote(input: DecisionInput): string {
  const fo = input.cluster.failover;
  const me = input.config.name;
  if (!fo) return '';
  if (fo.scheduledAt !== undefined && fo.scheduledAt > input.now) {
    const secs = Math.round((fo.scheduledAt - input.now) / 1000);
    return `Awaiting failover at ${new Date(fo.scheduledAt).toISOString()} (in ${secs} seconds)`;
  }
  if (fo.leader && fo.leader !== me) return `manual failover: leader name does not match: ${fo.leader} != ${me}`;
  if (fo.candidate === me) return 'manual failover: I am already the leader, no need to failover';
  return 'manual failover: no healthy members found, failover is not possible';
}

/**
 * Patroni's `process_manual_failover_from_leader`: hand over when a `failover` key asks me (the
 * leader) to and a candidate is healthy. Undefined = nothing to hand over (caller refreshes).
 */
function switchoverFromLeader(input: DecisionInput, runningPrimary: boolean): HaAction | undefined {
  const { cluster, config: cfg } = input;
  const fo = cluster.failover;
  const me = cfg.name;
  // A standby leader hands its key over too (Patroni: the new one follows the remote primary).
  if (!fo || !(runningPrimary || input.local.standbyLeader === true)) return undefined;
  if (fo.scheduledAt !== undefined && fo.scheduledAt > input.now) return undefined;
  if (fo.leader && fo.leader !== me) return undefined;
  if (fo.candidate === me) return undefined;
  let names = fo.candidate ? [fo.candidate] : cluster.members.map((m) => m.name).filter((n) => n !== me);
  names = names.filter((n) => {
    const m = member(input, n);
    return m !== undefined && !m.tags?.nofailover;
  });
  if (cfg.synchronousMode) names = names.filter((n) => cluster.sync?.syncStandbys.includes(n));
  if (names.length === 0) return undefined;
  if (input.peerProbes === undefined) {
    return { kind: 'probe_members', members: names, message: `manual failover: checking the health of ${names.join(', ')}` };
  }
  const reference = Math.max(myWalPosition(input), cluster.optime ?? 0);
  const healthy = names.filter((n) => {
    const p = probeOf(input, n);
    return probeHealthy(p) && reference - (p.walPosition ?? 0) <= cfg.maximumLagOnFailover && candidateTimelineOk(input, p);
  });
  if (healthy.length === 0) return undefined;
  return { kind: 'do_switchover', candidate: fo.candidate, message: 'manual failover: demoting myself' };
}

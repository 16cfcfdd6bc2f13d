import { describe, expect, it } from 'vitest';
import {
  decide,
  LeaderStream,
  probeFromPatroniStatus,
  RECONNECT_KICK_WINDOW_MS,
  START_RETRY_INTERVAL_MS,
  type DecisionInput,
  type HaAction,
  type PeerProbe,
} from '../src/internals.js';
import { down, replicaProbe } from './peer-probes.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const MB = 1024 * 1024;
const SYSID = '7364003399928373256';

type DeepPartial<T> = { [K in keyof T]?: (T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K]) | undefined };

const members = [
  { name: 'node1', role: 'master', state: 'running', apiUrl: 'http://127.0.0.1:8001/patroni', xlogLocation: 100 * MB },
  { name: 'node2', role: 'replica', state: 'running', apiUrl: 'http://127.0.0.1:8002/patroni', xlogLocation: 100 * MB },
  { name: 'node3', role: 'replica', state: 'running', apiUrl: 'http://127.0.0.1:8003/patroni', xlogLocation: 100 * MB },
];

const withConnUrls = members.map((m, i) => ({ ...m, connUrl: `postgres://127.0.0.1:${5431 + i}/postgres` }));

/** A healthy 3-node cluster seen from node2 (a streaming replica), tweaked per case. */
function input(over: DeepPartial<DecisionInput> = {}): DecisionInput {
  const base: DecisionInput = {
    cluster: { leader: 'node1', members: structuredClone(members), initialize: SYSID, optime: 100 * MB },
    local: { postgresRunning: true, role: 'replica', receivedLsn: 100 * MB, replayedLsn: 100 * MB, dataDirEmpty: false, systemId: SYSID, timeline: 1 },
    config: { name: 'node2', ttl: 30, loopWait: 10, maximumLagOnFailover: 1048576, primaryStartTimeout: 300, synchronousMode: false, tags: {} },
    paused: false,
    dcsReachable: true,
    now: NOW,
  };
  return {
    ...base,
    ...over,
    cluster: { ...base.cluster, ...(over.cluster as object) },
    local: { ...base.local, ...(over.local as object) },
    config: { ...base.config, ...(over.config as object), tags: { ...base.config.tags, ...(over.config?.tags as object) } },
  } as DecisionInput;
}

/** Inputs as node1, the leader, running as primary. */
function asLeader(over: DeepPartial<DecisionInput> = {}): DecisionInput {
  return input({
    leaderRefreshOk: true,
    ...over,
    config: { name: 'node1', ...(over.config as object) },
    local: { role: 'primary', walPosition: 100 * MB, receivedLsn: undefined, replayedLsn: undefined, ...(over.local as object) },
  });
}

/** Replica node2 with no leader key in etcd. */
function race(over: DeepPartial<DecisionInput> = {}): DecisionInput {
  const i = input(over);
  if (!over.cluster || !('leader' in over.cluster)) delete i.cluster.leader;
  return i;
}

const primaryProbe = (name: string): PeerProbe => ({ name, reachable: true, role: 'master', state: 'running', walPosition: 100 * MB });

const FAILSAFE = { failsafeMode: true };
const ALL = ['node1', 'node2', 'node3'];
const ALL_ACCEPT = [
  { name: 'node2', accepted: true },
  { name: 'node3', accepted: true },
];

interface Case {
  name: string;
  input: DecisionInput;
  expect: Partial<HaAction> & { kind: HaAction['kind'] };
}

const cases: Case[] = [
  // --- bootstrap and clone ---
  {
    name: 'bootstrap race: empty data dir, no initialize, no leader',
    input: race({ local: { dataDirEmpty: true, systemId: undefined }, cluster: { initialize: undefined } }),
    expect: { kind: 'bootstrap', message: 'trying to bootstrap a new cluster' },
  },
  {
    name: 'bootstrap race: nofailover nodes never bootstrap',
    input: race({ local: { dataDirEmpty: true }, cluster: { initialize: undefined }, config: { tags: { nofailover: true } } }),
    expect: { kind: 'wait_for_bootstrap' },
  },
  {
    name: 'bootstrap race lost: initialize is "" (someone is initializing)',
    input: race({ local: { dataDirEmpty: true }, cluster: { initialize: '' } }),
    expect: { kind: 'wait_for_bootstrap', message: 'waiting for leader to bootstrap' },
  },
  {
    name: 'clone from the leader',
    input: input({ local: { dataDirEmpty: true, systemId: undefined } }),
    expect: { kind: 'clone', from: 'node1', fromLeader: true, message: "trying to bootstrap from leader 'node1'" },
  },
  {
    name: 'clone from a running clonefrom replica',
    input: input({
      local: { dataDirEmpty: true },
      config: { name: 'node4' },
      cluster: { members: [...members.slice(0, 2), { ...members[2]!, tags: { clonefrom: true } }] },
    }),
    expect: { kind: 'clone', from: 'node3', fromLeader: false },
  },
  {
    name: 'reinit --from-leader: the leader with pg_basebackup only, even with a running clonefrom replica',
    input: input({
      local: { dataDirEmpty: true, reinitFromLeader: true },
      config: { name: 'node4' },
      cluster: { members: [...members.slice(0, 2), { ...members[2]!, tags: { clonefrom: true } }] },
    }),
    expect: { kind: 'clone', from: 'node1', fromLeader: true, basebackupOnly: true, message: "trying to bootstrap from leader 'node1'" },
  },
  { name: 'initialized cluster without leader: wait', input: race({ local: { dataDirEmpty: true } }), expect: { kind: 'wait_for_bootstrap' } },
  {
    name: 'initialized cluster without leader, a no_leader replica method: restore without leader',
    input: race({ local: { dataDirEmpty: true }, config: { canCloneWithoutLeader: true } }),
    expect: { kind: 'clone', from: undefined, fromLeader: false, message: 'trying to bootstrap (without leader)' },
  },
  {
    name: 'a no_leader replica method waits while another member bootstraps (initialize is "")',
    input: race({ local: { dataDirEmpty: true }, config: { canCloneWithoutLeader: true }, cluster: { initialize: '' } }),
    expect: { kind: 'wait_for_bootstrap' },
  },
  {
    name: 'a no_leader replica method still clones from the leader when there is one',
    input: input({ local: { dataDirEmpty: true, systemId: undefined }, config: { canCloneWithoutLeader: true } }),
    expect: { kind: 'clone', from: 'node1', fromLeader: true },
  },
  {
    name: 'system id mismatch',
    input: input({ local: { systemId: '1111' } }),
    expect: {
      kind: 'exit_system_id_mismatch',
      expected: SYSID,
      actual: '1111',
      message: `system ID mismatch, node node2 belongs to a different cluster: ${SYSID} != 1111`,
    },
  },

  // --- following ---
  {
    name: 'replica follows the leader',
    input: input(),
    expect: { kind: 'follow', leader: 'node1', message: 'no action. I am (node2), a secondary, and following a leader (node1)' },
  },
  {
    name: 'stopped replica starts as a secondary',
    input: input({ local: { postgresRunning: false } }),
    expect: { kind: 'start_postgres_as_replica', leader: 'node1', message: 'starting as a secondary' },
  },
  { name: 'starting replica waits', input: input({ local: { postgresStarting: true } }), expect: { kind: 'wait', message: 'PostgreSQL is starting' } },

  // --- the leader ---
  {
    name: 'leader refreshes its lock',
    input: asLeader(),
    expect: { kind: 'refresh_leader', clearFailoverKey: false, message: 'no action. I am (node1), the leader with the lock' },
  },
  {
    name: 'leader refresh failure -> demote',
    input: asLeader({ leaderRefreshOk: false }),
    expect: {
      kind: 'demote',
      mode: 'immediate',
      reason: 'failed to update leader lock in DCS',
      message: 'demoted self because failed to update leader lock in DCS',
    },
  },
  {
    name: 'lock holder still replica -> promote',
    input: asLeader({ local: { role: 'replica', receivedLsn: 100 * MB } }),
    expect: { kind: 'refresh_leader_and_promote', message: 'promoted self to leader because I had the session lock' },
  },
  {
    name: 'lock holder replica whose refresh failed does not promote',
    input: asLeader({ leaderRefreshOk: false, local: { role: 'replica' } }),
    expect: { kind: 'wait', message: 'not promoting because failed to update leader lock in DCS' },
  },
  {
    name: 'someone else holds the lock while I am primary -> demote',
    input: input({ local: { role: 'primary', walPosition: 100 * MB } }),
    expect: {
      kind: 'demote',
      mode: 'immediate',
      reason: 'node1 holds the leader lock',
      message: 'demoting self because I do not have the lock and I was a leader',
    },
  },
  {
    name: 'postgres crashed on the leader -> restart in place while the lease is held',
    input: asLeader({ local: { postgresRunning: false, postgresDownSince: NOW - 20_000 } }),
    expect: { kind: 'restart_postgres_as_primary', message: 'starting primary after failure' },
  },
  {
    name: 'postgres down on the leader past primary_start_timeout -> release',
    input: asLeader({ local: { postgresRunning: false, postgresDownSince: NOW - 301_000 } }),
    expect: { kind: 'release_leader' },
  },
  {
    name: 'primary_start_timeout 0 -> release at once',
    input: asLeader({ local: { postgresRunning: false, postgresDownSince: NOW }, config: { primaryStartTimeout: 0 } }),
    expect: { kind: 'release_leader', reason: 'primary_start_timeout is 0' },
  },
  {
    name: 'leader restarting read-only keeps refreshing',
    input: asLeader({ local: { postgresStarting: true, postgresDownSince: NOW - 5_000 } }),
    expect: { kind: 'refresh_leader', message: 'updated leader lock while PostgreSQL is starting' },
  },
  {
    name: 'required watchdog unusable on the leader -> demote and release',
    input: asLeader({ config: { watchdogUnusable: true } }),
    expect: { kind: 'demote', releaseLeader: true, reason: 'watchdog could not be activated' },
  },
  {
    name: 'required watchdog unusable on the lock holder replica -> do not promote',
    input: asLeader({ config: { watchdogUnusable: true }, local: { role: 'replica' } }),
    expect: { kind: 'release_leader' },
  },

  // --- start rate limit ---
  {
    name: 'crashed leader started a moment ago: not started again yet',
    input: asLeader({ local: { postgresRunning: false, postgresDownSince: NOW - 300, lastStartAttemptAt: NOW - 200 } }),
    expect: { kind: 'wait', message: 'PostgreSQL was started 200 ms ago: not starting it again yet' },
  },
  {
    name: 'crashed leader, last start long ago: restarted',
    input: asLeader({ local: { postgresRunning: false, postgresDownSince: NOW - 300, lastStartAttemptAt: NOW - START_RETRY_INTERVAL_MS } }),
    expect: { kind: 'restart_postgres_as_primary' },
  },
  {
    name: 'stopped replica started a moment ago: not started again yet',
    input: input({ local: { postgresRunning: false, lastStartAttemptAt: NOW - 1 } }),
    expect: { kind: 'wait' },
  },
  {
    name: 'etcd unreachable, started read-only a moment ago: not again yet',
    input: input({ dcsReachable: false, local: { postgresRunning: false, lastStartAttemptAt: NOW - 10 } }),
    expect: { kind: 'wait' },
  },

  // --- rewind before following (use_pg_rewind) ---
  {
    name: 'former primary running read-only: rewound before it follows',
    input: input({ config: { usePgRewind: true }, local: { mayHaveDiverged: true }, cluster: { members: withConnUrls } }),
    expect: {
      kind: 'rewind_then_follow',
      leader: 'node1',
      message: 'rewinding before following node1: this data directory ran as a primary and may hold WAL node1 never saw',
    },
  },
  {
    name: 'former primary, stopped: rewound, then started as a replica',
    input: input({ config: { usePgRewind: true }, local: { postgresRunning: false, mayHaveDiverged: true }, cluster: { members: withConnUrls } }),
    expect: { kind: 'rewind_then_follow', leader: 'node1' },
  },
  {
    name: 'former primary without use_pg_rewind: started as a secondary as before',
    input: input({ local: { postgresRunning: false, mayHaveDiverged: true }, cluster: { members: withConnUrls } }),
    expect: { kind: 'start_postgres_as_replica', leader: 'node1' },
  },
  {
    name: 'former primary, leader address unknown: started as a secondary (nothing to rewind from)',
    input: input({ config: { usePgRewind: true }, local: { postgresRunning: false, mayHaveDiverged: true } }),
    expect: { kind: 'start_postgres_as_replica', leader: 'node1' },
  },
  {
    name: 'replica past the leader fork point: rewound (was: logged as following)',
    input: input({ config: { usePgRewind: true }, local: { replayedPastFork: true }, cluster: { members: withConnUrls } }),
    expect: {
      kind: 'rewind_then_follow',
      leader: 'node1',
      message:
        "rewinding before following node1: I (node2) replayed WAL that node1's timeline history does not contain (I streamed from a primary that kept writing)",
    },
  },
  {
    name: 'replica within the fork point: plain follow',
    input: input({ config: { usePgRewind: true }, cluster: { members: withConnUrls } }),
    expect: { kind: 'follow', leader: 'node1' },
  },
  {
    name: 'pg_rewind failed, remove_data_directory_on_rewind_failure: reinitialize',
    input: input({
      config: { usePgRewind: true, removeDataDirectoryOnRewindFailure: true },
      local: { postgresRunning: false, mayHaveDiverged: true, rewindFailedAt: NOW - 10 },
      cluster: { members: withConnUrls },
    }),
    expect: { kind: 'reinitialize', leader: 'node1' },
  },
  {
    name: 'pg_rewind failed just now, no removal: stays stopped',
    input: input({
      config: { usePgRewind: true },
      local: { postgresRunning: false, mayHaveDiverged: true, rewindFailedAt: NOW - 10 },
      cluster: { members: withConnUrls },
    }),
    expect: {
      kind: 'wait',
      message: 'not starting PostgreSQL: it would diverge from the leader (pg_rewind failed; set remove_data_directory_on_rewind_failure to re-clone)',
    },
  },
  {
    name: 'pg_rewind failed a loop ago, no removal: tried again',
    input: input({
      config: { usePgRewind: true },
      local: { postgresRunning: false, mayHaveDiverged: true, rewindFailedAt: NOW - 10_000 },
      cluster: { members: withConnUrls },
    }),
    expect: {
      kind: 'rewind_then_follow',
      leader: 'node1',
      message: 'rewinding before following node1 again: the last pg_rewind failed (set remove_data_directory_on_rewind_failure to re-clone instead)',
    },
  },
  {
    name: 'a replica whose precautionary rewind failed starts as it was',
    input: input({ config: { usePgRewind: true }, local: { postgresRunning: false, rewindFailedAt: NOW - 10 }, cluster: { members: withConnUrls } }),
    expect: { kind: 'start_postgres_as_replica', leader: 'node1' },
  },
  {
    name: 'pause: a former primary is not rewound',
    input: input({ paused: true, config: { usePgRewind: true }, local: { mayHaveDiverged: true }, cluster: { members: withConnUrls } }),
    expect: { kind: 'paused_noop' },
  },

  // --- etcd unreachable ---
  {
    name: 'etcd unreachable: primary demotes',
    input: asLeader({ dcsReachable: false }),
    expect: { kind: 'demote', mode: 'immediate', message: 'demoting self because DCS is not accessible and I was a leader' },
  },
  {
    name: 'etcd unreachable, lease valid 3 s more: primary kept, retried soon',
    input: asLeader({ dcsReachable: false, leaseValidForMs: 3000 }),
    expect: { kind: 'wait', retrySoon: true, message: 'DCS is not accessible; keeping the primary while the leader lease is valid (3.0 s more) and retrying' },
  },
  {
    name: 'etcd unreachable, lease used up: primary demotes',
    input: asLeader({ dcsReachable: false, leaseValidForMs: -10 }),
    expect: { kind: 'demote', mode: 'immediate' },
  },
  {
    name: 'refresh failed, lease valid: primary kept',
    input: asLeader({ leaderRefreshOk: false, leaseValidForMs: 5000 }),
    expect: { kind: 'wait', retrySoon: true },
  },
  {
    name: 'refresh failed, lease valid, but a replica: not promoted',
    input: asLeader({ leaderRefreshOk: false, leaseValidForMs: 5000, local: { role: 'replica' } }),
    expect: { kind: 'wait', message: 'not promoting because failed to update leader lock in DCS' },
  },
  { name: 'etcd unreachable: replica carries on', input: input({ dcsReachable: false }), expect: { kind: 'wait' } },
  {
    name: 'etcd unreachable, PostgreSQL stopped: started read-only',
    input: input({ dcsReachable: false, local: { postgresRunning: false, systemId: '7300' } }),
    expect: { kind: 'start_postgres_as_replica', leader: undefined },
  },

  // --- failsafe mode (Patroni's DCS failsafe mode) ---
  {
    name: 'failsafe off, etcd unreachable: primary demotes',
    input: asLeader({ dcsReachable: false, failsafe: { topology: ALL, acks: ALL_ACCEPT } }),
    expect: { kind: 'demote', mode: 'immediate', message: 'demoting self because DCS is not accessible and I was a leader' },
  },
  {
    name: 'failsafe on, etcd unreachable: primary asks the other members of the failsafe key',
    input: asLeader({ dcsReachable: false, config: FAILSAFE, failsafe: { topology: ALL } }),
    expect: { kind: 'failsafe_check', members: ['node2', 'node3'] },
  },
  {
    name: 'failsafe on, etcd unreachable, every member accepted: primary kept',
    input: asLeader({ dcsReachable: false, config: FAILSAFE, failsafe: { topology: ALL, acks: ALL_ACCEPT } }),
    expect: { kind: 'failsafe_keep', message: 'continue to run as a leader because failsafe mode is enabled and all members are accessible' },
  },
  {
    name: 'failsafe on, etcd unreachable, lease used up, every member accepted: primary kept',
    input: asLeader({ dcsReachable: false, leaseValidForMs: -10, config: FAILSAFE, failsafe: { topology: ALL, acks: ALL_ACCEPT } }),
    expect: { kind: 'failsafe_keep' },
  },
  {
    name: 'failsafe on, etcd unreachable, one member did not answer: primary demotes',
    input: asLeader({
      dcsReachable: false,
      config: FAILSAFE,
      failsafe: { topology: ALL, acks: [ALL_ACCEPT[0]!, { name: 'node3', accepted: false, reason: 'timeout' }] },
    }),
    expect: { kind: 'demote', mode: 'immediate', message: 'demoting self because DCS is not accessible and I was a leader' },
  },
  {
    name: 'failsafe on, etcd unreachable, one member missing from the answers: primary demotes',
    input: asLeader({ dcsReachable: false, config: FAILSAFE, failsafe: { topology: ALL, acks: [ALL_ACCEPT[0]!] } }),
    expect: { kind: 'demote', mode: 'immediate' },
  },
  {
    name: 'failsafe on, etcd unreachable, one member refused, lease valid: kept only while the lease is, as without failsafe',
    input: asLeader({
      dcsReachable: false,
      leaseValidForMs: 3000,
      config: FAILSAFE,
      failsafe: { topology: ALL, acks: [ALL_ACCEPT[0]!, { name: 'node3', accepted: false }] },
    }),
    expect: { kind: 'wait', retrySoon: true },
  },
  {
    name: 'failsafe on, etcd read but the refresh got no answer: primary asks the members, as when etcd is unreachable',
    input: asLeader({ leaderRefreshOk: false, leaderRefreshUnanswered: true, config: FAILSAFE, failsafe: { topology: ALL } }),
    expect: { kind: 'failsafe_check', members: ['node2', 'node3'] },
  },
  {
    name: 'failsafe on, the refresh got no answer, every member accepted: primary kept',
    input: asLeader({ leaderRefreshOk: false, leaderRefreshUnanswered: true, config: FAILSAFE, failsafe: { topology: ALL, acks: ALL_ACCEPT } }),
    expect: { kind: 'failsafe_keep' },
  },
  {
    name: 'failsafe on, the leader key is no longer mine (refresh answered false): no failsafe, demotes',
    input: asLeader({ leaderRefreshOk: false, config: FAILSAFE, failsafe: { topology: ALL, acks: ALL_ACCEPT } }),
    expect: { kind: 'demote', mode: 'immediate' },
  },
  {
    name: 'failsafe on, etcd unreachable, no failsafe key: primary demotes',
    input: asLeader({ dcsReachable: false, config: FAILSAFE, failsafe: {} }),
    expect: { kind: 'demote', mode: 'immediate' },
  },
  {
    name: 'failsafe on, etcd unreachable, I am not in the failsafe key: primary demotes',
    input: asLeader({ dcsReachable: false, config: FAILSAFE, failsafe: { topology: ['node2', 'node3'], acks: ALL_ACCEPT } }),
    expect: { kind: 'demote', mode: 'immediate' },
  },
  {
    name: 'failsafe on, etcd unreachable, a one-member failsafe key: primary kept without asking anyone',
    input: asLeader({ dcsReachable: false, config: FAILSAFE, failsafe: { topology: ['node1'] } }),
    expect: { kind: 'failsafe_keep' },
  },
  {
    name: 'failsafe on, etcd unreachable, pause: nothing done',
    input: asLeader({ paused: true, dcsReachable: false, config: FAILSAFE, failsafe: { topology: ALL } }),
    expect: { kind: 'paused_noop' },
  },
  {
    name: 'failsafe on, etcd unreachable: replica carries on',
    input: input({ dcsReachable: false, config: FAILSAFE, failsafe: { topology: ALL, leader: { name: 'node1', at: NOW - 1000 } } }),
    expect: { kind: 'wait' },
  },
  {
    name: 'failsafe on, no leader key, the primary posted to /failsafe 3 s ago: replica follows it, no race',
    input: race({ config: FAILSAFE, failsafe: { topology: ALL, leader: { name: 'node1', at: NOW - 3000 } } }),
    expect: {
      kind: 'follow',
      leader: 'node1',
      message: 'no action. I am (node2), a secondary, and following a leader (node1): failsafe mode is active, it called POST /failsafe 3.0 s ago',
    },
  },
  {
    name: 'failsafe on, no leader key, the last post is ttl old: the usual race',
    input: race({ config: FAILSAFE, failsafe: { topology: ALL, leader: { name: 'node1', at: NOW - 30_000 } } }),
    expect: { kind: 'probe_members' },
  },
  {
    name: 'failsafe off, no leader key, a post came: the usual race',
    input: race({ failsafe: { topology: ALL, leader: { name: 'node1', at: NOW - 3000 } } }),
    expect: { kind: 'probe_members' },
  },
  {
    name: 'failsafe on, no leader key, I am not in the failsafe key: no race',
    input: race({ config: FAILSAFE, failsafe: { topology: ['node1', 'node3'] } }),
    expect: { kind: 'follow', leader: undefined, message: 'following a different leader because I am not the healthiest node: I am not in the failsafe key' },
  },
  {
    name: 'failsafe on, no leader key, running primary in the failsafe key (etcd back): takes the key again',
    input: asLeader({ cluster: { leader: undefined }, config: FAILSAFE, failsafe: { topology: ALL } }),
    expect: { kind: 'acquire_leader' },
  },
  {
    name: 'failsafe on, no leader key, an empty failsafe key: the usual race',
    input: race({ config: FAILSAFE, failsafe: { topology: [] } }),
    expect: { kind: 'probe_members' },
  },

  // --- pause ---
  {
    name: 'pause: leader keeps its lock and does nothing else',
    input: asLeader({ paused: true }),
    expect: { kind: 'refresh_leader', message: 'PAUSE: no action. I am (node1), the leader with the lock' },
  },
  {
    name: 'pause: stopped replica is left alone',
    input: input({ paused: true, local: { postgresRunning: false } }),
    expect: { kind: 'paused_noop', message: 'PAUSE: postgres is not running' },
  },
  { name: 'pause: crashed leader is not restarted', input: asLeader({ paused: true, local: { postgresRunning: false } }), expect: { kind: 'paused_noop' } },
  { name: 'pause: replica follows, no race without leader', input: race({ paused: true }), expect: { kind: 'paused_noop' } },
  {
    name: 'pause: primary without lock takes it, no promotion',
    input: race({ paused: true, config: { name: 'node1' }, local: { role: 'primary', walPosition: 100 * MB } }),
    expect: { kind: 'acquire_leader', message: 'PAUSE: acquired session lock as a leader' },
  },
  {
    name: 'pause: primary without lock while someone has it: continue',
    input: input({ paused: true, local: { role: 'primary' } }),
    expect: { kind: 'paused_noop', message: 'PAUSE: continue to run as primary without lock' },
  },
  { name: 'pause: etcd unreachable does not demote', input: asLeader({ paused: true, dcsReachable: false }), expect: { kind: 'paused_noop' } },
  {
    name: 'pause: manual failover to me without leader',
    input: race({ paused: true, cluster: { failover: { candidate: 'node2' } } }),
    expect: { kind: 'acquire_leader_and_promote', clearFailoverKey: true },
  },

  // --- healthiest-node race ---
  { name: 'race: ask the others first', input: race(), expect: { kind: 'probe_members', members: ['node1', 'node3'] } },
  {
    name: 'race: won when the others are behind or down',
    input: race({ peerProbes: [down('node1'), replicaProbe('node3', 99 * MB)] }),
    expect: { kind: 'acquire_leader_and_promote', clearFailoverKey: false, message: 'promoted self to leader by acquiring session lock' },
  },
  {
    name: 'race: tie on WAL position -> race (create-if-absent decides)',
    input: race({ peerProbes: [down('node1'), replicaProbe('node3')] }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: another member ahead -> lose',
    input: race({ peerProbes: [down('node1'), replicaProbe('node3', 100 * MB + 1)] }),
    expect: {
      kind: 'follow',
      leader: undefined,
      message: 'following a different leader because I am not the healthiest node: Wal position of node3 is ahead of my wal position',
    },
  },
  {
    name: 'race: a nofailover member ahead does not count',
    input: race({ peerProbes: [down('node1'), replicaProbe('node3', 200 * MB, { nofailover: true })] }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  // --- failover_priority (Patroni 4's `_is_healthiest_node`) ---
  {
    name: 'race: same WAL position, the other has a higher failover_priority -> lose',
    input: race({ peerProbes: [down('node1'), replicaProbe('node3', 100 * MB, { failoverPriority: 2 })] }),
    expect: {
      kind: 'follow',
      leader: undefined,
      message:
        'following a different leader because I am not the healthiest node: node3 has equally tolerable WAL position and priority 2, while this node has priority 1',
    },
  },
  {
    name: 'race: same WAL position, my failover_priority is higher -> win',
    input: race({ config: { tags: { failover_priority: 3 } }, peerProbes: [down('node1'), replicaProbe('node3', 100 * MB, { failoverPriority: 2 })] }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: same WAL position and the same priority -> race (create-if-absent decides)',
    input: race({ config: { tags: { failover_priority: 2 } }, peerProbes: [down('node1'), replicaProbe('node3', 100 * MB, { failoverPriority: 2 })] }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: a higher priority behind me does not count (WAL position first)',
    input: race({ peerProbes: [down('node1'), replicaProbe('node3', 100 * MB - 1, { failoverPriority: 9 })] }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: a lower priority ahead of me still wins (WAL position first)',
    input: race({ config: { tags: { failover_priority: 9 } }, peerProbes: [down('node1'), replicaProbe('node3', 100 * MB + 1, { failoverPriority: 1 })] }),
    expect: { kind: 'follow', message: 'following a different leader because I am not the healthiest node: Wal position of node3 is ahead of my wal position' },
  },
  {
    name: 'race: the former leader with a higher priority at the same position is ignored',
    input: race({
      lastLeader: { name: 'node3', startedAt: NOW - 60_000, seenAt: NOW - 50_000 },
      local: { streamedFromLeaderAt: NOW - 1000 },
      peerProbes: [down('node1'), replicaProbe('node3', 100 * MB, { failoverPriority: 5 })],
    }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: sync mode: the former leader is the sync key leader, its priority is ignored',
    input: race({
      config: { synchronousMode: true },
      cluster: { sync: { leader: 'node3', syncStandbys: ['node2'] } },
      peerProbes: [down('node1'), replicaProbe('node3', 100 * MB, { failoverPriority: 5 })],
    }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: a priority-0 member (nofailover) at my position does not count',
    input: race({ peerProbes: [down('node1'), replicaProbe('node3', 100 * MB, { nofailover: true, failoverPriority: 0 })] }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: failover_priority 0 alone means never become leader',
    input: race({ config: { tags: { failover_priority: 0 } }, peerProbes: [down('node1'), down('node3')] }),
    expect: { kind: 'follow', message: 'following a different leader because I am not the healthiest node: nofailover is set' },
  },
  {
    name: 'race: nofailover: false wins over failover_priority 0 (Patroni), at priority 0',
    input: race({ config: { tags: { nofailover: false, failover_priority: 0 } }, peerProbes: [down('node1'), replicaProbe('node3', 100 * MB)] }),
    expect: {
      kind: 'follow',
      message:
        'following a different leader because I am not the healthiest node: node3 has equally tolerable WAL position and priority 1, while this node has priority 0',
    },
  },
  {
    name: 'bootstrap race: failover_priority 0 nodes never bootstrap',
    input: race({ local: { dataDirEmpty: true }, cluster: { initialize: undefined }, config: { tags: { failover_priority: 0 } } }),
    expect: { kind: 'wait_for_bootstrap' },
  },
  // --- replicatefrom / nostream: no wake-ups of a receiver that is not the leader's ---
  {
    name: 'leader restarted, cascading replica (replicatefrom a running replica): no wake-up of the receiver',
    input: input({
      config: { tags: { replicatefrom: 'node3' } },
      lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 },
    }),
    expect: { kind: 'follow', leader: 'node1', message: 'no action. I am (node2), a secondary, and following a leader (node1)' },
  },
  {
    name: 'leader restarted, nostream replica: no wake-up of the receiver',
    input: input({ config: { tags: { nostream: true } }, lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 } }),
    expect: { kind: 'follow', leader: 'node1' },
  },
  {
    name: 'leader restarted, replicatefrom names a stopped member: streams from the leader, so its receiver is woken',
    input: input({
      config: { tags: { replicatefrom: 'node3' } },
      cluster: { members: [...members.slice(0, 2), { ...members[2]!, state: 'stopped' }] },
      lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 },
    }),
    expect: { kind: 'follow', leader: 'node1', reconnect: true },
  },
  {
    name: 'race: primary still alive -> lose',
    input: race({ peerProbes: [primaryProbe('node1'), replicaProbe('node3')] }),
    expect: { kind: 'follow', message: 'following a different leader because I am not the healthiest node: Primary (node1) is still alive' },
  },
  // --- a leader restarted in place (issue 14) ---
  {
    name: 'leader restarted, nothing streamed from it since: wake the WAL receiver and check again soon',
    input: input({ lastLeader: { name: 'node1', startedAt: NOW - 300, seenAt: NOW - 100 }, local: { streamedFromLeaderAt: NOW - 400 } }),
    expect: {
      kind: 'follow',
      leader: 'node1',
      reconnect: true,
      message: 'I (node2) have not streamed from the leader (node1) since its PostgreSQL started: waking the WAL receiver now',
    },
  },
  {
    name: 'leader restarted, streaming from it again: plain follow',
    input: input({ lastLeader: { name: 'node1', startedAt: NOW - 300, seenAt: NOW - 100 }, local: { streamedFromLeaderAt: NOW - 250 } }),
    expect: { kind: 'follow', leader: 'node1', message: 'no action. I am (node2), a secondary, and following a leader (node1)' },
  },
  {
    name: 'leader restarted long ago, never streamed: PostgreSQL retries on its own, no more wake-ups',
    input: input({ lastLeader: { name: 'node1', startedAt: NOW - 60_000, seenAt: NOW - RECONNECT_KICK_WINDOW_MS } }),
    expect: { kind: 'follow', leader: 'node1', message: 'no action. I am (node2), a secondary, and following a leader (node1)' },
  },
  {
    name: 'race: the last leader restarted and I have not streamed from it since -> out, however small the published lag',
    input: race({
      lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 },
      local: { streamedFromLeaderAt: NOW - 3100 },
      peerProbes: [down('node1'), down('node3')],
    }),
    expect: {
      kind: 'follow',
      leader: undefined,
      message: `following a different leader because I am not the healthiest node: I cannot tell how far behind node1 I am: its PostgreSQL started at ${new Date(NOW - 3000).toISOString()} and I have not streamed from it since`,
    },
  },
  {
    name: 'race: the last leader stopped cleanly and I received all its WAL, though my agent never saw me stream from it -> in',
    input: race({
      cluster: { members: members.map((m) => (m.name === 'node1' ? { ...m, state: 'stopped', xlogLocation: 100 * MB } : m)) },
      lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 },
      peerProbes: [down('node1'), replicaProbe('node3')],
    }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: the last leader stopped cleanly with more WAL than I have, beyond maximum_lag_on_failover -> out, naming its final position',
    input: race({
      cluster: { optime: 100 * MB, members: members.map((m) => (m.name === 'node1' ? { ...m, state: 'stopped', xlogLocation: 110 * MB } : m)) },
      lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 },
      peerProbes: [down('node1'), replicaProbe('node3')],
    }),
    expect: {
      kind: 'follow',
      leader: undefined,
      message: `following a different leader because I am not the healthiest node: my wal position ${100 * MB} is behind the last leader position ${110 * MB} by more than maximum_lag_on_failover (1048576)`,
    },
  },
  {
    name: 'race: a leader member key still running (a crash, not a clean stop) keeps the restart rule',
    input: race({
      cluster: { members: members.map((m) => (m.name === 'node1' ? { ...m, xlogLocation: 100 * MB } : m)) },
      lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 },
      peerProbes: [down('node1'), down('node3')],
    }),
    expect: { kind: 'follow', leader: undefined },
  },
  {
    name: 'race: the last leader restarted and I streamed from it since -> in',
    input: race({
      lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 },
      local: { streamedFromLeaderAt: NOW - 50 },
      peerProbes: [down('node1'), down('node3')],
    }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race in synchronous mode: the sync key vouches for a listed standby that missed the restart',
    input: race({
      config: { synchronousMode: true },
      cluster: { sync: { leader: 'node1', syncStandbys: ['node2'] } },
      lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 },
      peerProbes: [down('node1'), down('node3')],
    }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: manual failover to me overrides the unknown lag (the operator decided)',
    input: race({ lastLeader: { name: 'node1', startedAt: NOW - 3000, seenAt: NOW - 2900 }, cluster: { failover: { candidate: 'node2' } } }),
    expect: { kind: 'acquire_leader_and_promote', clearFailoverKey: true },
  },
  {
    name: 'race: lag beyond maximum_lag_on_failover -> out',
    input: race({ local: { receivedLsn: 100 * MB - 1048577, replayedLsn: 90 * MB } }),
    expect: { kind: 'follow' },
  },
  {
    name: 'race: lag exactly at maximum_lag_on_failover -> still in',
    input: race({ local: { receivedLsn: 100 * MB - 1048576, replayedLsn: 90 * MB }, peerProbes: [down('node1'), down('node3')] }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: received (not replayed) position counts',
    input: race({ local: { receivedLsn: 100 * MB, replayedLsn: 10 * MB }, peerProbes: [down('node1'), down('node3')] }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race: nofailover never races',
    input: race({ config: { tags: { nofailover: true } }, peerProbes: [down('node1'), down('node3')] }),
    expect: { kind: 'follow', message: 'following a different leader because I am not the healthiest node: nofailover is set' },
  },
  {
    name: 'race: required watchdog unusable -> no race',
    input: race({ config: { watchdogUnusable: true }, peerProbes: [down('node1'), down('node3')] }),
    expect: { kind: 'follow' },
  },
  {
    name: 'race: running primary without the key takes it back',
    input: race({ config: { name: 'node1' }, local: { role: 'primary', walPosition: 100 * MB } }),
    expect: { kind: 'acquire_leader', message: 'acquired session lock as a leader' },
  },
  { name: 'race: starting node does not race', input: race({ local: { postgresStarting: true } }), expect: { kind: 'wait' } },
  {
    name: 'race: no other members -> win without probes',
    input: race({ cluster: { members: [members[1]!] } }),
    expect: { kind: 'acquire_leader_and_promote' },
  },

  // --- failover key in the race ---
  {
    name: 'failover key names me: win despite lag and peers ahead',
    input: race({
      cluster: { failover: { candidate: 'node2' } },
      local: { receivedLsn: 10 * MB, replayedLsn: 10 * MB },
      peerProbes: [replicaProbe('node3', 200 * MB)],
    }),
    expect: { kind: 'acquire_leader_and_promote', clearFailoverKey: true, message: 'promoted self to leader by acquiring session lock (manual failover)' },
  },
  {
    name: 'failover key names a healthy other candidate: stand back',
    input: race({ cluster: { failover: { candidate: 'node3' } }, peerProbes: [down('node1'), replicaProbe('node3', 10 * MB)] }),
    expect: { kind: 'follow', message: 'following a different leader because I am not the healthiest node: manual failover to node3 in progress' },
  },
  {
    name: 'failover key names an unreachable candidate: normal race',
    input: race({ cluster: { failover: { candidate: 'node3' } }, peerProbes: [down('node1'), down('node3')] }),
    expect: { kind: 'acquire_leader_and_promote', clearFailoverKey: true },
  },
  {
    name: 'switchover away from me (old leader, no candidate): let a healthy member win',
    input: race({
      config: { name: 'node1' },
      cluster: { failover: { leader: 'node1' } },
      local: { receivedLsn: 100 * MB },
      peerProbes: [replicaProbe('node2'), replicaProbe('node3')],
    }),
    expect: { kind: 'follow' },
  },

  // --- synchronous mode ---
  {
    name: 'sync mode: a non-sync replica may not race',
    input: race({
      config: { synchronousMode: true },
      cluster: { sync: { leader: 'node1', syncStandbys: ['node3'] } },
      peerProbes: [down('node1'), down('node3')],
    }),
    expect: { kind: 'follow', message: 'following a different leader because I am not the healthiest node: not a synchronous standby' },
  },
  {
    name: 'sync mode: an async peer ahead cannot race, so it does not block the sync standby',
    input: race({
      config: { synchronousMode: true },
      cluster: { sync: { leader: 'node1', syncStandbys: ['node2'] } },
      peerProbes: [down('node1'), replicaProbe('node3', 200 * MB)],
    }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'sync mode: another sync standby ahead wins',
    input: race({
      config: { synchronousMode: true },
      cluster: { sync: { leader: 'node1', syncStandbys: ['node2', 'node3'] } },
      peerProbes: [down('node1'), replicaProbe('node3', 200 * MB)],
    }),
    expect: { kind: 'follow' },
  },
  {
    name: 'sync mode: the sync standby wins against an async peer that is not ahead',
    input: race({
      config: { synchronousMode: true },
      cluster: { sync: { leader: 'node1', syncStandbys: ['node2'] } },
      peerProbes: [down('node1'), replicaProbe('node3')],
    }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'sync mode: empty sync key -> only the former leader',
    input: race({ config: { synchronousMode: true }, peerProbes: [down('node1'), down('node3')] }),
    expect: { kind: 'follow' },
  },

  // --- switchover processed by the leader ---
  {
    name: 'switchover away from me: probe the candidate',
    input: asLeader({ cluster: { failover: { leader: 'node1', candidate: 'node2' } } }),
    expect: { kind: 'probe_members', members: ['node2'] },
  },
  {
    name: 'switchover away from me: candidate healthy -> do_switchover',
    input: asLeader({ cluster: { failover: { leader: 'node1', candidate: 'node2' } }, peerProbes: [replicaProbe('node2')] }),
    expect: { kind: 'do_switchover', candidate: 'node2', message: 'manual failover: demoting myself' },
  },
  {
    name: 'switchover without candidate: any healthy member',
    input: asLeader({ cluster: { failover: { leader: 'node1' } }, peerProbes: [down('node2'), replicaProbe('node3')] }),
    expect: { kind: 'do_switchover', candidate: undefined },
  },
  {
    name: 'switchover: candidate lagging beyond the limit -> refused, key cleared',
    input: asLeader({ cluster: { failover: { leader: 'node1', candidate: 'node2' } }, peerProbes: [replicaProbe('node2', 90 * MB)] }),
    expect: { kind: 'refresh_leader', clearFailoverKey: true, message: 'manual failover: no healthy members found, failover is not possible' },
  },
  {
    name: 'switchover: candidate down -> refused',
    input: asLeader({ cluster: { failover: { leader: 'node1', candidate: 'node2' } }, peerProbes: [down('node2')] }),
    expect: { kind: 'refresh_leader', clearFailoverKey: true },
  },
  {
    name: 'switchover: nofailover candidate -> refused without probing',
    input: asLeader({
      cluster: { failover: { leader: 'node1', candidate: 'node3' }, members: [members[0]!, members[1]!, { ...members[2]!, tags: { nofailover: true } }] },
    }),
    expect: { kind: 'refresh_leader', clearFailoverKey: true },
  },
  {
    name: 'switchover to me while I am the leader: nothing to do, key cleared',
    input: asLeader({ cluster: { failover: { candidate: 'node1' } } }),
    expect: { kind: 'refresh_leader', clearFailoverKey: true, message: 'manual failover: I am already the leader, no need to failover' },
  },
  {
    name: 'switchover naming another leader: ignored and cleared',
    input: asLeader({ cluster: { failover: { leader: 'node3', candidate: 'node2' } } }),
    expect: { kind: 'refresh_leader', clearFailoverKey: true, message: 'manual failover: leader name does not match: node3 != node1' },
  },
  {
    name: 'scheduled switchover in the future: wait, keep the key',
    input: asLeader({ cluster: { failover: { leader: 'node1', candidate: 'node2', scheduledAt: NOW + 60_000 } } }),
    expect: { kind: 'refresh_leader', clearFailoverKey: false, message: 'Awaiting failover at 2024-05-01T12:01:00.000Z (in 60 seconds)' },
  },
  {
    name: 'scheduled switchover due: carried out',
    input: asLeader({ cluster: { failover: { leader: 'node1', candidate: 'node2', scheduledAt: NOW - 1 } }, peerProbes: [replicaProbe('node2')] }),
    expect: { kind: 'do_switchover', candidate: 'node2' },
  },
  {
    name: 'sync mode switchover: only sync standbys are candidates',
    input: asLeader({
      config: { synchronousMode: true },
      cluster: { sync: { leader: 'node1', syncStandbys: ['node3'] }, failover: { leader: 'node1', candidate: 'node2' } },
    }),
    expect: { kind: 'refresh_leader', clearFailoverKey: true },
  },
  {
    name: 'sync mode switchover without candidate probes the sync standby only',
    input: asLeader({ config: { synchronousMode: true }, cluster: { sync: { leader: 'node1', syncStandbys: ['node3'] }, failover: { leader: 'node1' } } }),
    expect: { kind: 'probe_members', members: ['node3'] },
  },
  {
    name: 'switchover to me (replica) while the leader still holds the key: keep following',
    input: input({ cluster: { failover: { leader: 'node1', candidate: 'node2' } } }),
    expect: { kind: 'follow', leader: 'node1' },
  },
  {
    name: 'pause: switchover to a named candidate still runs',
    input: asLeader({ paused: true, cluster: { failover: { leader: 'node1', candidate: 'node2' } }, peerProbes: [replicaProbe('node2')] }),
    expect: { kind: 'do_switchover', candidate: 'node2' },
  },
];

describe('decide()', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const action = decide(c.input);
    expect(action).toMatchObject(c.expect);
    expect(action.message.length).toBeGreaterThan(0);
  });

  it('is pure: the same input gives the same action and the input is untouched', () => {
    const i = race({ peerProbes: [down('node1'), replicaProbe('node3', 99 * MB)] });
    const copy = structuredClone(i);
    expect(decide(i)).toEqual(decide(i));
    expect(i).toEqual(copy);
  });

  it('covers every action kind', () => {
    const kinds = new Set(cases.map((c) => decide(c.input).kind));
    expect([...kinds].sort()).toEqual(
      [
        'acquire_leader',
        'acquire_leader_and_promote',
        'bootstrap',
        'clone',
        'demote',
        'do_switchover',
        'exit_system_id_mismatch',
        'failsafe_check',
        'failsafe_keep',
        'follow',
        'paused_noop',
        'probe_members',
        'refresh_leader',
        'refresh_leader_and_promote',
        'reinitialize',
        'release_leader',
        'restart_postgres_as_primary',
        'rewind_then_follow',
        'start_postgres_as_replica',
        'wait',
        'wait_for_bootstrap',
      ].sort(),
    );
  });
});

describe('probeFromPatroniStatus', () => {
  it('reads the WAL position of a replica and a primary from /patroni', () => {
    expect(
      probeFromPatroniStatus('n2', { state: 'running', role: 'replica', xlog: { received_location: 200, replayed_location: 150 }, tags: { nofailover: true } }),
    ).toEqual({
      name: 'n2',
      reachable: true,
      role: 'replica',
      state: 'running',
      walPosition: 200,
      nofailover: true,
      failoverPriority: 0,
      watchdogFailed: false,
    });
    // Patroni 4's tag rules: failover_priority <= 0 alone is nofailover; a written nofailover wins.
    const tagged = (tags: Record<string, unknown>) => probeFromPatroniStatus('n2', { state: 'running', role: 'replica', xlog: {}, tags });
    expect(tagged({ failover_priority: 0 })).toMatchObject({ nofailover: true, failoverPriority: 0 });
    expect(tagged({ nofailover: false, failover_priority: 0 })).toMatchObject({ nofailover: false, failoverPriority: 0 });
    expect(tagged({ nofailover: true, failover_priority: 5 })).toMatchObject({ nofailover: true, failoverPriority: 0 });
    expect(tagged({ failover_priority: '3' })).toMatchObject({ nofailover: false, failoverPriority: 3 });
    expect(tagged({})).toMatchObject({ nofailover: false, failoverPriority: 1 });
    expect(probeFromPatroniStatus('n1', { state: 'running', role: 'master', xlog: { location: 999 } }).walPosition).toBe(999);
    expect(probeFromPatroniStatus('n3', 'garbage')).toEqual({ name: 'n3', reachable: false });
  });
});

describe('LeaderStream: what a replica streamed from its leader since its last start', () => {
  const server = { host: '10.0.0.1', port: 5432 };
  const view = (startedAt: number, leader = 'node1') => ({ leader, members: [{ name: leader, postmasterStartTime: startedAt }, { name: 'node2' }] });
  const streaming = (sentAt: number, host = '10.0.0.1') => ({
    inRecovery: true,
    timeline: 1,
    serverVersion: 150000,
    systemId: SYSID,
    replication: [],
    walReceiver: { status: 'streaming', senderHost: host, senderPort: 5432, lastMessageSentAt: sentAt },
  });

  it('remembers the leader and what arrived from it; a restart shows as a start time after it', () => {
    const ls = new LeaderStream('node2');
    ls.observeView(view(1000), NOW);
    ls.observeReceiver(streaming(5000), server);
    expect(ls.lastLeader).toEqual({ name: 'node1', startedAt: 1000, seenAt: NOW });
    expect(ls.streamedAt).toBe(5000);
    ls.observeView(view(6000), NOW + 10);
    expect(ls.lastLeader).toEqual({ name: 'node1', startedAt: 6000, seenAt: NOW + 10 });
    expect(ls.streamedAt).toBe(5000);
    // the key is gone (the race): the last leader is still known
    ls.observeView({ members: [] }, NOW + 20);
    expect(ls.lastLeader?.startedAt).toBe(6000);
  });

  it('counts only messages from the leader, while streaming; a new leader starts from nothing', () => {
    const ls = new LeaderStream('node2');
    ls.observeView(view(1000), NOW);
    ls.observeReceiver(streaming(5000, '10.0.0.3'), server);
    ls.observeReceiver({ ...streaming(5000), walReceiver: { status: 'waiting', senderHost: '10.0.0.1', senderPort: 5432, lastMessageSentAt: 5000 } }, server);
    expect(ls.streamedAt).toBeUndefined();
    ls.observeReceiver(streaming(5000), server);
    ls.observeView(view(900, 'node3'), NOW + 5);
    expect(ls.streamedAt).toBeUndefined();
    ls.observeView(view(900, 'node2'), NOW + 6);
    expect(ls.lastLeader).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import {
  decide,
  planSyncReplication,
  probeFromPatroniStatus,
  toDecisionView,
  withinSyncnodeLag,
  type DecisionInput,
  type HaAction,
  type PeerProbe,
  type PgStatus,
} from '../src/internals.js';

// Table-driven tests of the decisions behind check_timeline, remove_data_directory_on_diverged_timelines
// and maximum_lag_on_syncnode.

const NOW = Date.parse('2024-05-01T12:00:00Z');
const MB = 1024 * 1024;
const SYSID = '7364003399928373256';

const members = [1, 2, 3].map((i) => ({
  name: `node${i}`,
  role: i === 1 ? 'master' : 'replica',
  state: 'running',
  apiUrl: `http://127.0.0.1:800${i}/patroni`,
  connUrl: `postgres://127.0.0.1:543${i}/postgres`,
  xlogLocation: 100 * MB,
  timeline: 3,
}));

/** Optional fields that a case may also clear (`undefined`). */
type Loose<T> = { [K in keyof T]?: T[K] | undefined };

interface Over {
  cluster?: Loose<DecisionInput['cluster']>;
  local?: Loose<DecisionInput['local']>;
  config?: Loose<DecisionInput['config']>;
  peerProbes?: PeerProbe[];
  noLeader?: boolean;
}

/** node2, a replica on timeline 3 of a cluster whose history says timeline 3. */
function input(over: Over = {}): DecisionInput {
  const i = {
    cluster: { leader: 'node1', members: structuredClone(members), initialize: SYSID, optime: 100 * MB, timeline: 3, ...over.cluster },
    local: {
      postgresRunning: true,
      role: 'replica',
      receivedLsn: 100 * MB,
      replayedLsn: 100 * MB,
      dataDirEmpty: false,
      systemId: SYSID,
      timeline: 3,
      ...over.local,
    },
    config: { name: 'node2', ttl: 30, loopWait: 10, maximumLagOnFailover: MB, primaryStartTimeout: 300, synchronousMode: false, tags: {}, ...over.config },
    paused: false,
    dcsReachable: true,
    now: NOW,
  } as DecisionInput;
  if (over.noLeader) delete i.cluster.leader;
  if (over.peerProbes) i.peerProbes = over.peerProbes;
  return i;
}

const probeOf = (name: string, extra: Partial<PeerProbe> = {}): PeerProbe => ({
  name,
  reachable: true,
  role: 'replica',
  state: 'running',
  walPosition: 100 * MB,
  timeline: 3,
  ...extra,
});

interface Case {
  name: string;
  input: DecisionInput;
  expect: Partial<HaAction> & { kind: HaAction['kind'] };
  message?: RegExp;
}

const race = (over: Over): DecisionInput =>
  input({ ...over, noLeader: true, peerProbes: over.peerProbes ?? [probeOf('node1', { reachable: false }), probeOf('node3')] });

const cases: Case[] = [
  // check_timeline in the leader race (Patroni's _is_healthiest_node)
  {
    name: 'race, check_timeline on, my timeline is the cluster timeline: I win',
    input: race({ config: { checkTimeline: true } }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race, check_timeline on, my timeline is behind the cluster timeline: I lose',
    input: race({ config: { checkTimeline: true }, local: { timeline: 2 } }),
    expect: { kind: 'follow' },
    message: /my timeline 2 is behind last known cluster timeline 3/,
  },
  {
    name: 'race, check_timeline on, I cannot tell my timeline: I lose',
    input: race({ config: { checkTimeline: true }, local: { timeline: undefined } }),
    expect: { kind: 'follow' },
    message: /cannot figure out my timeline/,
  },
  {
    name: 'race, check_timeline on, no history key (cluster timeline 0): I win',
    input: race({ config: { checkTimeline: true }, cluster: { timeline: undefined }, local: { timeline: 1 } }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race, check_timeline off, my timeline is behind: I still win (Patroni default)',
    input: race({ local: { timeline: 2 } }),
    expect: { kind: 'acquire_leader_and_promote' },
  },
  {
    name: 'race, check_timeline on, the check runs before asking the others',
    input: input({ noLeader: true, config: { checkTimeline: true }, local: { timeline: 2 } }),
    expect: { kind: 'follow' },
  },
  {
    name: 'race, a running primary on a timeline older than the cluster: demoted whatever check_timeline says',
    input: race({ local: { role: 'primary', walPosition: 100 * MB, timeline: 2 } }),
    expect: { kind: 'demote', mode: 'immediate' },
    message: /my timeline 2 is behind last known cluster timeline 3/,
  },
  {
    name: 'race, a running primary on the cluster timeline keeps the key',
    input: race({ local: { role: 'primary', walPosition: 100 * MB, timeline: 3 } }),
    expect: { kind: 'acquire_leader' },
  },
  // check_timeline for a switchover candidate (Patroni's is_failover_possible)
  {
    name: 'switchover, check_timeline on, the candidate is on the cluster timeline: hand over',
    input: input({
      config: { name: 'node1', checkTimeline: true },
      local: { role: 'primary', walPosition: 100 * MB },
      cluster: { failover: { leader: 'node1', candidate: 'node2' } },
      peerProbes: [probeOf('node2')],
    }),
    expect: { kind: 'do_switchover' },
  },
  {
    name: 'switchover, check_timeline on, the candidate is behind the cluster timeline: keep leading',
    input: input({
      config: { name: 'node1', checkTimeline: true },
      local: { role: 'primary', walPosition: 100 * MB },
      cluster: { failover: { leader: 'node1', candidate: 'node2' } },
      peerProbes: [probeOf('node2', { timeline: 2 })],
    }),
    expect: { kind: 'refresh_leader' },
  },
  {
    name: 'switchover, check_timeline off, the candidate is behind: hand over',
    input: input({
      config: { name: 'node1' },
      local: { role: 'primary', walPosition: 100 * MB },
      cluster: { failover: { leader: 'node1', candidate: 'node2' } },
      peerProbes: [probeOf('node2', { timeline: 2 })],
    }),
    expect: { kind: 'do_switchover' },
  },
  // remove_data_directory_on_diverged_timelines (Patroni's _handle_rewind_or_reinitialize)
  {
    name: 'diverged replica, pg_rewind off, remove_data_directory_on_diverged_timelines on: cloned again',
    input: input({ config: { removeDataDirectoryOnDivergedTimelines: true }, local: { replayedPastFork: true, timeline: 2 } }),
    expect: { kind: 'reinitialize', leader: 'node1' },
    message: /reinitializing due to diverged timelines/,
  },
  {
    name: 'diverged replica, pg_rewind off, the key off: keeps following (nothing to do about it)',
    input: input({ local: { replayedPastFork: true, timeline: 2 } }),
    expect: { kind: 'follow' },
  },
  {
    name: 'diverged replica, pg_rewind on: rewound, not cloned',
    input: input({ config: { usePgRewind: true, removeDataDirectoryOnDivergedTimelines: true }, local: { replayedPastFork: true, timeline: 2 } }),
    expect: { kind: 'rewind_then_follow' },
  },
  {
    name: 'former primary not running, pg_rewind off, the key on: started as a replica first, checked once it runs',
    input: input({
      config: { removeDataDirectoryOnDivergedTimelines: true },
      local: { postgresRunning: false, mayHaveDiverged: true, receivedLsn: undefined, replayedLsn: undefined, timeline: undefined },
    }),
    expect: { kind: 'start_postgres_as_replica', leader: 'node1' },
  },
  {
    name: 'replica that only lags, the key on: follows',
    input: input({ config: { removeDataDirectoryOnDivergedTimelines: true }, local: { timeline: 2 } }),
    expect: { kind: 'follow' },
  },
  {
    name: 'pg_rewind failed, remove_data_directory_on_diverged_timelines on: cloned again (Patroni Rewind.execute)',
    input: input({
      config: { usePgRewind: true, removeDataDirectoryOnDivergedTimelines: true },
      local: { postgresRunning: false, mayHaveDiverged: true, rewindFailedAt: NOW - 1000 },
    }),
    expect: { kind: 'reinitialize' },
    message: /remove_data_directory_on_diverged_timelines is set/,
  },
  {
    name: 'pg_rewind failed, neither removal key: stays stopped',
    input: input({ config: { usePgRewind: true }, local: { postgresRunning: false, mayHaveDiverged: true, rewindFailedAt: NOW - 1000 } }),
    expect: { kind: 'wait' },
  },
];

describe('decide() with the rewind and timeline keys', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const action = decide(c.input);
    expect(action).toMatchObject(c.expect);
    if (c.message) expect(action.message).toMatch(c.message);
  });
});

describe('the cluster timeline from the history key (Patroni Cluster.timeline)', () => {
  const view = (history: unknown) =>
    toDecisionView({ members: [], ...(history === undefined ? {} : { history: { value: history, modRevision: 1 } }) } as unknown as Parameters<
      typeof toDecisionView
    >[0]);
  it.each([
    [undefined, undefined],
    [[], 1],
    [[[1, 50331808, 'no recovery target specified']], 2],
    [
      [
        [1, 50331808, 'x'],
        [2, 60331808, 'y', '2024-05-01T10:00:00+00:00', 'node2'],
      ],
      3,
    ],
  ])('history %j -> timeline %s', (history, timeline) => {
    expect(view(history).timeline).toBe(timeline);
  });

  it('a probe carries the timeline /patroni reports', () => {
    expect(probeFromPatroniStatus('node2', { state: 'running', role: 'replica', timeline: 4 }).timeline).toBe(4);
  });
});

describe('maximum_lag_on_syncnode (Patroni SyncHandler.current_state)', () => {
  const r = (name: string, lsn: number | undefined, sync_state = 'async'): PgStatus['replication'][number] => ({
    usename: 'replicator',
    application_name: name,
    client_addr: null,
    state: 'streaming',
    sync_state,
    sync_priority: 0,
    ...(lsn === undefined ? {} : { lsn }),
  });
  it.each([
    { name: 'off (-1): everyone', rows: [r('a', 0), r('b', 100 * MB)], lag: { maximumLagOnSyncnode: -1 }, keep: ['a', 'b'] },
    { name: 'off (0): everyone', rows: [r('a', 0), r('b', 100 * MB)], lag: { maximumLagOnSyncnode: 0 }, keep: ['a', 'b'] },
    { name: 'two standbys: measured against the most advanced', rows: [r('a', 10 * MB), r('b', 100 * MB)], lag: { maximumLagOnSyncnode: MB }, keep: ['b'] },
    { name: 'within the limit: kept', rows: [r('a', 99.5 * MB), r('b', 100 * MB)], lag: { maximumLagOnSyncnode: MB }, keep: ['a', 'b'] },
    { name: 'one standby: measured against the primary', rows: [r('a', 10 * MB)], lag: { maximumLagOnSyncnode: MB, primaryLsn: 100 * MB }, keep: [] },
    { name: 'one standby close to the primary: kept', rows: [r('a', 100 * MB)], lag: { maximumLagOnSyncnode: MB, primaryLsn: 100 * MB }, keep: ['a'] },
    { name: 'unknown position: left out', rows: [r('a', undefined), r('b', 100 * MB), r('c', 100 * MB)], lag: { maximumLagOnSyncnode: MB }, keep: ['b', 'c'] },
  ])('$name', ({ rows, lag, keep }) => {
    expect(withinSyncnodeLag(rows, lag).map((x) => x.application_name)).toEqual(keep);
  });

  const base = { me: 'node1', synchronousMode: true, strict: false, namesSet: true, members: [{ name: 'node1' }, { name: 'node2' }, { name: 'node3' }] };
  it.each([
    {
      name: 'the synchronous standby lags past the limit: swapped for the healthy one',
      input: {
        ...base,
        maximumLagOnSyncnode: MB,
        key: { leader: 'node1', standbys: ['node2'], modRevision: 4 },
        replication: [r('node2', 10 * MB, 'sync'), r('node3', 100 * MB)],
      },
      expect: { kind: 'assign', revokeFrom: 'node2', clearKeyFirst: true, names: '"node3"', picked: 'node3', lagging: ['node2'] },
    },
    {
      name: 'the same lag with the limit off: kept',
      input: { ...base, key: { leader: 'node1', standbys: ['node2'], modRevision: 4 }, replication: [r('node2', 10 * MB, 'sync'), r('node3', 100 * MB)] },
      expect: { kind: 'keep', names: '"node2"' },
    },
    {
      name: 'the only standby lags behind the primary: none named (commits stop waiting, as in Patroni)',
      input: {
        ...base,
        maximumLagOnSyncnode: MB,
        primaryLsn: 100 * MB,
        key: { leader: 'node1', standbys: ['node2'], modRevision: 4 },
        replication: [r('node2', 10 * MB, 'sync')],
      },
      expect: { kind: 'assign', revokeFrom: 'node2', names: '', picked: undefined },
    },
  ])('$name', ({ input: i, expect: want }) => {
    expect(planSyncReplication(i)).toMatchObject(want);
  });
});

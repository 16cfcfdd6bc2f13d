import { describe, expect, it } from 'vitest';
import {
  healthCheckStatus,
  parseLag,
  mergeConfigPatch,
  jsonEqual,
  statusBody,
  renderMetrics,
  checkBasicAuth,
  buildAllowlist,
  parseListen,
  readinessFailure,
  type NodeState,
} from '../src/index.js';
import { MB, primaryState, replicaState } from './fixtures.js';

const NOW = 1_700_000_000_000;
const q = (s = '') => new URLSearchParams(s);

describe('parseLag', () => {
  it('reads bytes and PostgreSQL units', () => {
    expect(parseLag('1000')).toBe(1000);
    expect(parseLag('16kB')).toBe(16384);
    expect(parseLag('10MB')).toBe(10 * MB);
    expect(parseLag('1GB')).toBe(1024 * MB);
    expect(parseLag('ten')).toBeUndefined();
    expect(parseLag('10mb')).toBeUndefined();
  });
});

describe('healthCheckStatus', () => {
  it('answers the role checks of a primary', () => {
    const s = primaryState();
    for (const p of ['/', '/primary', '/master', '/read-write', '/leader', '/read-only', '/health', '/readiness', '/liveness']) {
      expect([p, healthCheckStatus(p, q(), s, NOW)]).toEqual([p, 200]);
    }
    for (const p of ['/replica', '/standby-leader', '/sync', '/async']) expect([p, healthCheckStatus(p, q(), s, NOW)]).toEqual([p, 503]);
    expect(healthCheckStatus('/patroni', q(), s, NOW)).toBeUndefined();
  });

  it('answers the role checks of a replica', () => {
    const s = replicaState();
    for (const p of ['/replica', '/read-only', '/health', '/async', '/asynchronous', '/readiness'])
      expect([p, healthCheckStatus(p, q(), s, NOW)]).toEqual([p, 200]);
    for (const p of ['/', '/primary', '/master', '/leader', '/read-write', '/sync']) expect([p, healthCheckStatus(p, q(), s, NOW)]).toEqual([p, 503]);
    const sync = replicaState({ isSyncStandby: true });
    expect(healthCheckStatus('/sync', q(), sync, NOW)).toBe(200);
    expect(healthCheckStatus('/synchronous', q(), sync, NOW)).toBe(200);
    expect(healthCheckStatus('/async', q(), sync, NOW)).toBe(503);
  });

  it('keeps noloadbalance replicas out of /replica and /read-only but not /health', () => {
    const s = replicaState({ tags: { noloadbalance: true } });
    expect(healthCheckStatus('/replica', q(), s, NOW)).toBe(503);
    expect(healthCheckStatus('/read-only', q(), s, NOW)).toBe(503);
    expect(healthCheckStatus('/health', q(), s, NOW)).toBe(200);
  });

  it('compares ?lag= with the cluster optime', () => {
    const s = replicaState({}, 20 * MB);
    expect(healthCheckStatus('/replica', q(), s, NOW)).toBe(200);
    expect(healthCheckStatus('/replica', q('lag=10MB'), s, NOW)).toBe(503);
    expect(healthCheckStatus('/replica', q('lag=16kB'), s, NOW)).toBe(503);
    expect(healthCheckStatus('/replica', q('lag=30MB'), s, NOW)).toBe(200);
    expect(healthCheckStatus('/replica', q(`lag=${20 * MB}`), s, NOW)).toBe(200);
    expect(healthCheckStatus('/replica', q(`lag=${20 * MB - 1}`), s, NOW)).toBe(503);
    expect(healthCheckStatus('/async', q('lag=10MB'), s, NOW)).toBe(503);
  });

  it('filters on ?tag_<key>=<value>, booleans written in lower case', () => {
    const s = replicaState({ tags: { zone: 'a', nofailover: false } });
    expect(healthCheckStatus('/replica', q('tag_zone=a'), s, NOW)).toBe(200);
    expect(healthCheckStatus('/replica', q('tag_zone=b'), s, NOW)).toBe(503);
    expect(healthCheckStatus('/replica', q('tag_nofailover=false'), s, NOW)).toBe(200);
    expect(healthCheckStatus('/replica', q('tag_rack=1'), s, NOW)).toBe(503);
    // leader checks ignore tags
    expect(healthCheckStatus('/primary', q('tag_zone=b'), primaryState({ tags: { zone: 'a' } }), NOW)).toBe(200);
  });

  it('reports a stopped PostgreSQL as down everywhere except liveness', () => {
    const s = replicaState({ postgres: { state: 'stopped', role: 'replica' } });
    for (const p of ['/replica', '/read-only', '/health', '/readiness', '/primary']) expect([p, healthCheckStatus(p, q(), s, NOW)]).toEqual([p, 503]);
    expect(healthCheckStatus('/liveness', q(), s, NOW)).toBe(200);
    const crashedLeader = primaryState({ postgres: { state: 'crashed', role: 'primary' } });
    expect(healthCheckStatus('/primary', q(), crashedLeader, NOW)).toBe(503);
    expect(healthCheckStatus('/leader', q(), crashedLeader, NOW)).toBe(200);
  });

  it('drops the primary role once the leader lease has run out', () => {
    expect(healthCheckStatus('/primary', q(), primaryState({ leaderLeaseExpiresAt: NOW + 1 }), NOW)).toBe(200);
    expect(healthCheckStatus('/primary', q(), primaryState({ leaderLeaseExpiresAt: NOW }), NOW)).toBe(503);
    expect(healthCheckStatus('/read-only', q(), primaryState({ leaderLeaseExpiresAt: NOW - 5 }), NOW)).toBe(503);
  });

  it('answers standby-leader only in a standby cluster', () => {
    const s = primaryState({ standbyCluster: true, postgres: { state: 'running', role: 'standby_leader' } });
    expect(healthCheckStatus('/standby-leader', q(), s, NOW)).toBe(200);
    expect(healthCheckStatus('/leader', q(), s, NOW)).toBe(200);
    expect(healthCheckStatus('/primary', q(), s, NOW)).toBe(503);
  });

  it('paused without etcd reports what PostgreSQL is', () => {
    const s = primaryState({ isLeader: false, dcsAvailable: false, paused: true });
    expect(healthCheckStatus('/primary', q(), s, NOW)).toBe(200);
    expect(healthCheckStatus('/primary', q(), { ...s, paused: false }, NOW)).toBe(503);
  });

  it('liveness: the loop ran within ttl on a primary, 2 x ttl on a replica, or paused', () => {
    expect(healthCheckStatus('/liveness', q(), primaryState({ ttl: 30, lastLoopAt: NOW - 29_000 }), NOW)).toBe(200);
    expect(healthCheckStatus('/liveness', q(), primaryState({ ttl: 30, lastLoopAt: NOW - 31_000 }), NOW)).toBe(503);
    expect(healthCheckStatus('/liveness', q(), replicaState({ ttl: 30, lastLoopAt: NOW - 31_000 }), NOW)).toBe(200);
    expect(healthCheckStatus('/liveness', q(), replicaState({ ttl: 30, lastLoopAt: NOW - 61_000 }), NOW)).toBe(503);
    expect(healthCheckStatus('/liveness', q(), primaryState({ ttl: 30, lastLoopAt: NOW - 300_000, paused: true }), NOW)).toBe(200);
  });

  // Patroni 4.1's `_readiness`: the leader; or a running, streaming replica within the lag limit of the leader's WAL end.
  const streaming = (over: Partial<NodeState['postgres']> = {}, lagBytes = 0, state: Partial<NodeState> = {}): NodeState => {
    const s = replicaState(state, lagBytes);
    return { ...s, postgres: { ...s.postgres, ...over } };
  };
  const noSource = (): NodeState => {
    const s = streaming();
    delete s.postgres.replicationState;
    return s;
  };
  it.each([
    ['the leader, whatever else', primaryState({ dcsAvailable: false }), '', 200],
    ['a streaming replica, caught up', streaming(), '', 200],
    ['a replica that is not running', streaming({ state: 'starting' }), '', 503],
    ['a replica in archive recovery', streaming({ replicationState: 'in archive recovery' }), '', 503],
    ['a replica with no WAL source', noSource(), '', 503],
    ['no etcd and nothing heard from the leader', streaming({}, 0, { dcsAvailable: false }), '', 503],
    ['no etcd, nothing heard, but failsafe mode is active (the primary posts to it)', streaming({}, 0, { dcsAvailable: false, failsafeActive: true }), '', 200],
    ['no etcd, but the WAL receiver heard the leader', streaming({ latestEndLocation: 50 * MB }, 0, { dcsAvailable: false }), '', 200],
    ['2 MB behind: past the default 1 MB', streaming({}, 2 * MB), '', 503],
    ['2 MB behind with maximum_lag_on_failover 4 MB', streaming({}, 2 * MB, { maximumLagOnFailover: 4 * MB }), '', 200],
    ['2 MB behind with ?lag=4MB', streaming({}, 2 * MB), 'lag=4MB', 200],
    ['the receiver heard of more WAL than the status key says', streaming({ latestEndLocation: 60 * MB }), 'lag=4MB', 503],
    [
      '?mode=write looks at what was received, not replayed',
      streaming({ xlog: { receivedLocation: 50 * MB, replayedLocation: 40 * MB, replayedTimestamp: null, paused: false } }),
      'mode=write',
      200,
    ],
    [
      'apply mode (the default) looks at what was replayed',
      streaming({ xlog: { receivedLocation: 50 * MB, replayedLocation: 40 * MB, replayedTimestamp: null, paused: false } }),
      '',
      503,
    ],
  ] as const)('readiness: %s -> %s', (_what, state, query, code) => {
    expect(healthCheckStatus('/readiness', q(query), state, NOW)).toBe(code);
  });
  it('readiness says why it is not ready', () => {
    expect(readinessFailure(q(), streaming({}, 2 * MB), NOW)).toBe(`Replication apply lag ${2 * MB} exceeds maximum allowable ${MB}`);
  });

  it('?replication_state= keeps replicas in another state out of the replica checks', () => {
    const archive = streaming({ replicationState: 'in archive recovery' });
    expect(healthCheckStatus('/replica', q('replication_state=streaming'), streaming(), NOW)).toBe(200);
    expect(healthCheckStatus('/replica', q('replication_state=streaming'), archive, NOW)).toBe(503);
    expect(healthCheckStatus('/replica', q(), archive, NOW)).toBe(200);
    expect(healthCheckStatus('/read-only', q('replication_state=streaming'), archive, NOW)).toBe(503);
    expect(healthCheckStatus('/read-only', q('replication_state=streaming'), primaryState(), NOW)).toBe(200);
  });

  it('read-only-sync and read-only-quorum: the primary, or a replica listed as such', () => {
    for (const p of ['/read-only-sync', '/read-only-synchronous', '/read-only-quorum'])
      expect([p, healthCheckStatus(p, q(), primaryState(), NOW)]).toEqual([p, 200]);
    expect(healthCheckStatus('/read-only-sync', q(), replicaState({ isSyncStandby: true }), NOW)).toBe(200);
    expect(healthCheckStatus('/read-only-sync', q(), replicaState(), NOW)).toBe(503);
    expect(healthCheckStatus('/read-only-sync', q(), replicaState({ isSyncStandby: true, dcsAvailable: false }), NOW)).toBe(503);
    expect(healthCheckStatus('/read-only-quorum', q(), replicaState({ isSyncStandby: true }), NOW)).toBe(503);
    expect(healthCheckStatus('/read-only-quorum', q(), replicaState({ isQuorumStandby: true }), NOW)).toBe(200);
    expect(healthCheckStatus('/quorum', q(), replicaState({ isQuorumStandby: true }), NOW)).toBe(200);
    expect(healthCheckStatus('/quorum', q(), replicaState(), NOW)).toBe(503);
    expect(healthCheckStatus('/quorum', q(), primaryState(), NOW)).toBe(503);
    expect(healthCheckStatus('/async', q(), replicaState({ isQuorumStandby: true }), NOW)).toBe(503);
  });
});

describe('statusBody', () => {
  it('has the fields Patroni 3.0.2 returns, with role master', () => {
    const body = statusBody(primaryState(), { now: NOW });
    expect(body).toEqual({
      state: 'running',
      postmaster_start_time: '2021-05-24 14:50:11.707 UTC',
      role: 'master',
      server_version: 150004,
      xlog: { location: 50 * MB },
      timeline: 2,
      cluster_unlocked: false,
      dcs_last_seen: 1_700_000_000,
      tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
      database_system_identifier: '6965869170583425899',
      patroni: { version: '3.0.2', scope: 'stampede' },
    });
    expect(statusBody(primaryState(), { now: NOW, primaryRoleName: 'primary' }).role).toBe('primary');
  });
  it('shows received/replayed positions on a replica and only state/role when stopped', () => {
    const body = statusBody(replicaState({}, 100), { now: NOW });
    expect(body.xlog).toEqual({ received_location: 50 * MB - 100, replayed_location: 50 * MB - 100, replayed_timestamp: null, paused: false });
    const stopped = statusBody(replicaState({ postgres: { state: 'stopped', role: 'replica' }, paused: true }), { now: NOW });
    expect(stopped.state).toBe('stopped');
    expect(stopped.role).toBe('replica');
    expect(stopped.pause).toBe(true);
    expect(stopped.xlog).toBeUndefined();
    expect(statusBody(replicaState({ failsafeActive: true }), { now: NOW }).failsafe_mode_is_active).toBe(true);
    expect(statusBody(replicaState(), { now: NOW }).failsafe_mode_is_active).toBeUndefined();
  });
});

describe('renderMetrics', () => {
  it('prints every Patroni metric with HELP/TYPE and a scope label', () => {
    const text = renderMetrics(primaryState(), NOW);
    const names = [
      'patroni_version',
      'patroni_postgres_running',
      'patroni_postmaster_start_time',
      'patroni_primary',
      'patroni_master',
      'patroni_replica',
      'patroni_standby_leader',
      'patroni_sync_standby',
      'patroni_xlog_location',
      'patroni_xlog_received_location',
      'patroni_xlog_replayed_location',
      'patroni_xlog_replayed_timestamp',
      'patroni_xlog_paused',
      'patroni_postgres_timeline',
      'patroni_cluster_unlocked',
      'patroni_dcs_last_seen',
      'patroni_pending_restart',
      'patroni_is_paused',
      'patroni_failsafe_mode_is_active',
      'patroni_quorum_standby',
      'patroni_postgres_state',
    ];
    for (const n of names) {
      expect(text).toMatch(new RegExp(`^# HELP ${n} .+$`, 'm'));
      expect(text).toMatch(new RegExp(`^# TYPE ${n} (gauge|counter)$`, 'm'));
      expect(text).toMatch(new RegExp(`^${n}\\{scope="stampede"\\} -?[0-9.]+$`, 'm'));
    }
    expect(text).toContain('patroni_version{scope="stampede"} 030002');
    expect(text).toContain('patroni_primary{scope="stampede"} 1');
    expect(text).toContain('patroni_replica{scope="stampede"} 0');
    expect(text).toContain(`patroni_xlog_location{scope="stampede"} ${50 * MB}`);
    expect(text).toContain('patroni_postmaster_start_time{scope="stampede"} 1621867811.707');
    // The agent's own memory, for leak watching (prom-client's names).
    const rss = Number(/^process_resident_memory_bytes\{scope="stampede"\} (\d+)$/m.exec(text)?.[1]);
    const heap = Number(/^nodejs_heap_size_used_bytes\{scope="stampede"\} (\d+)$/m.exec(text)?.[1]);
    expect(rss).toBeGreaterThan(heap);
    expect(heap).toBeGreaterThan(1024 * 1024);
    // Patroni 4.1's numeric state: running is 5, with the legend Patroni prints.
    expect(text).toContain('patroni_postgres_state{scope="stampede"} 5');
    expect(text).toMatch(/^# Values: 0=initializing new cluster, 1=initdb failed, .*, 5=running, .*, 14=crashed$/m);
    // every non-comment line is `name{labels} value`
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE|Values:) .+|[a-z_]+\{scope="[^"]*"\} -?[0-9.]+)$/);
  });
  it("Patroni 4.1's replication-state metrics: streaming, archive recovery, quorum standby", () => {
    const streamingReplica = renderMetrics(
      replicaState({ postgres: { ...replicaState({}).postgres, serverVersion: 150004, replicationState: 'streaming' } }),
      NOW,
    );
    expect(streamingReplica).toContain('patroni_postgres_streaming{scope="stampede"} 1');
    expect(streamingReplica).toContain('patroni_postgres_in_archive_recovery{scope="stampede"} 0');
    const archive = renderMetrics(
      replicaState({ postgres: { ...replicaState({}).postgres, serverVersion: 150004, replicationState: 'in archive recovery' } }),
      NOW,
    );
    expect(archive).toContain('patroni_postgres_streaming{scope="stampede"} 0');
    expect(archive).toContain('patroni_postgres_in_archive_recovery{scope="stampede"} 1');
    expect(renderMetrics(replicaState({ isQuorumStandby: true }), NOW)).toContain('patroni_quorum_standby{scope="stampede"} 1');
    const stopped = renderMetrics(replicaState({ postgres: { state: 'stopped', role: 'replica' } }), NOW);
    expect(stopped).toContain('patroni_postgres_state{scope="stampede"} 12');
    // Without a server version (not running) Patroni leaves the two replication gauges out.
    expect(stopped).not.toContain('patroni_postgres_streaming');
  });
  it('escapes the scope label', () => {
    expect(renderMetrics(replicaState({ scope: 'a"b\\c' }), NOW)).toContain('patroni_replica{scope="a\\"b\\\\c"} 1');
  });
});

describe('config patch', () => {
  it('merges objects and removes keys set to null', () => {
    const base = { ttl: 30, loop_wait: 10, postgresql: { use_slots: true, parameters: { a: 1, b: 2 } } };
    const merged = mergeConfigPatch(base, { ttl: 20, postgresql: { parameters: { b: null, c: '3' } }, pause: true });
    expect(merged).toEqual({ ttl: 20, loop_wait: 10, pause: true, postgresql: { use_slots: true, parameters: { a: 1, c: '3' } } });
    expect(base.postgresql.parameters).toEqual({ a: 1, b: 2 });
    expect(jsonEqual(merged, JSON.parse(JSON.stringify(merged)))).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });
});

describe('access helpers', () => {
  it('checks basic auth', () => {
    const h = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    expect(checkBasicAuth(h('u:p'), { username: 'u', password: 'p' })).toBe(true);
    expect(checkBasicAuth(h('u:x'), { username: 'u', password: 'p' })).toBe(false);
    expect(checkBasicAuth(undefined, { username: 'u', password: 'p' })).toBe(false);
    expect(checkBasicAuth('Bearer abc', { username: 'u', password: 'p' })).toBe(false);
  });
  it('matches allowlists of addresses and networks', async () => {
    const allowed = await buildAllowlist(['10.0.0.0/8', '192.168.1.5', '::1']);
    expect(allowed('10.2.3.4')).toBe(true);
    expect(allowed('::ffff:10.2.3.4')).toBe(true);
    expect(allowed('192.168.1.6')).toBe(false);
    expect(allowed('::1')).toBe(true);
    expect(allowed('127.0.0.1')).toBe(false);
  });
  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:8008')).toEqual({ host: '127.0.0.1', port: 8008 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':8008')).toEqual({ host: '0.0.0.0', port: 8008 });
    expect(() => parseListen('localhost')).toThrow(expect.objectContaining({ code: 'invalid_listen_address' }));
  });
});

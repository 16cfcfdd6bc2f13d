import { describe, expect, it } from 'vitest';
import type { ClusterView as DcsView } from '@pgtools/dcs';
import {
  buildClusterInfo,
  buildMemberData,
  buildNodeState,
  LeaderLease,
  MEMBER_SLOTS_TTL_DEFAULT_MS,
  parseConfig,
  planSyncReplication,
  slotRetention,
  type PgStatus,
  type PublishedFacts,
} from '../src/internals.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');

const CONFIG = parseConfig(
  `
scope: demo
name: node1
restapi: {listen: 127.0.0.1:8008, connect_address: 10.0.0.1:8008}
etcd3: {hosts: [127.0.0.1:2379]}
tags: {nofailover: false, clonefrom: true}
postgresql:
  listen: 0.0.0.0:5433
  connect_address: 10.0.0.1:5433
  data_dir: /data
  authentication:
    superuser: {username: postgres}
    replication: {username: replicator}
`,
  {},
).config;

describe('LeaderLease (injected clock)', () => {
  it('counts the lease from when the refresh was sent, and stops counting when lost or dropped', () => {
    let now = NOW;
    const lease = new LeaderLease(() => now);
    expect(lease.held).toBe(false);
    expect(lease.validForMs(0)).toBeUndefined();
    const sentAt = lease.now();
    now += 300; // the refresh took 300 ms
    lease.granted(sentAt, 30);
    expect(lease.expiresAt).toBe(NOW + 30_000);
    expect(lease.validForMs(2000)).toBe(30_000 - 2000 - 300);
    now = NOW + 27_999;
    expect(lease.guardDue(2000)).toBe(false);
    now = NOW + 28_000;
    expect(lease.guardDue(2000)).toBe(true);
    lease.lost();
    expect(lease.guardDue(2000)).toBe(false);
    expect(lease.expiresAt).toBeUndefined();
    lease.granted(now, 30);
    lease.dropped();
    expect(lease.held).toBe(false);
    expect(lease.validForMs(0)).toBeUndefined();
  });
});

describe('slotRetention', () => {
  it('keeps members seen within the TTL, drops the others, never this node', () => {
    const seen = new Map([
      ['node1', NOW - 2 * MEMBER_SLOTS_TTL_DEFAULT_MS],
      ['node2', NOW - 1000],
      ['node3', NOW - MEMBER_SLOTS_TTL_DEFAULT_MS],
      ['node4', NOW - MEMBER_SLOTS_TTL_DEFAULT_MS + 1],
    ]);
    expect(slotRetention(seen, 'node1', NOW)).toEqual({ keep: ['node2', 'node4'], drop: ['node3'] });
    expect(slotRetention(seen, 'node1', NOW, 500)).toEqual({ keep: [], drop: ['node2', 'node3', 'node4'] });
  });
});

const row = (name: string, sync_state = 'async', state = 'streaming'): PgStatus['replication'][number] => ({
  usename: 'replicator',
  application_name: name,
  client_addr: null,
  state,
  sync_state,
  sync_priority: 0,
});
const members = [{ name: 'node1' }, { name: 'node2' }, { name: 'node3' }];

describe('planSyncReplication', () => {
  const base = { me: 'node1', synchronousMode: true, strict: false, namesSet: true, members, replication: [row('node2'), row('node3')] };
  it.each([
    {
      name: 'off: names handed back, my key removed',
      input: { ...base, synchronousMode: false, key: { leader: 'node1', standbys: ['node2'], modRevision: 7 } },
      expect: { kind: 'disable', resetNames: true, deleteKeyAt: 7 },
    },
    {
      name: "off: another leader's key is left alone",
      input: { ...base, synchronousMode: false, namesSet: false, key: { leader: 'node9', standbys: [], modRevision: 7 } },
      expect: { kind: 'disable', resetNames: false, deleteKeyAt: undefined },
    },
    {
      name: 'the current standby still streams: kept',
      input: { ...base, key: { leader: 'node1', standbys: ['node3'], modRevision: 3 } },
      expect: { kind: 'keep', names: '"node3"' },
    },
    {
      name: 'my key with no standby: name one, no need to clear the key first',
      input: { ...base, key: { leader: 'node1', standbys: [], modRevision: 3 }, replication: [row('node2'), row('node3', 'sync')] },
      expect: { kind: 'assign', revokeFrom: undefined, clearKeyFirst: false, keyRevision: 3, names: '"node3"', picked: 'node3', confirmed: true },
    },
    {
      name: 'the current standby stopped streaming: revoked in the key first, then replaced',
      input: { ...base, key: { leader: 'node1', standbys: ['node3'], modRevision: 3 }, replication: [row('node2'), row('node3', 'sync', 'catchup')] },
      expect: { kind: 'assign', revokeFrom: 'node3', clearKeyFirst: true, names: '"node2"', picked: 'node2', confirmed: false },
    },
    {
      name: "someone else's key (new leader): claimed first",
      input: { ...base, key: { leader: 'node9', standbys: ['node2'], modRevision: 5 } },
      expect: { kind: 'assign', revokeFrom: undefined, clearKeyFirst: true, keyRevision: 5 },
    },
    {
      name: 'strict with nobody streaming: every commit waits',
      input: { ...base, strict: true, replication: [], key: { leader: 'node1', standbys: ['node2'], modRevision: 1 } },
      expect: { kind: 'assign', names: '*', picked: undefined, confirmed: false },
    },
  ])('$name', ({ input, expect: want }) => {
    expect(planSyncReplication(input)).toMatchObject(want);
  });
});

function facts(over: Partial<PublishedFacts> = {}): PublishedFacts {
  return {
    config: CONFIG,
    ttl: 30,
    pgStatus: undefined,
    pgState: 'stopped',
    role: 'replica',
    view: undefined,
    isLeader: false,
    leaseExpiresAt: undefined,
    watchdogFailed: false,
    ...over,
  };
}
const primaryStatus: PgStatus = {
  inRecovery: false,
  timeline: 3,
  walPosition: 5000,
  serverVersion: 150004,
  systemId: '7300',
  postmasterStartTime: new Date(NOW),
  replication: [row('node2', 'sync')],
};
const replicaStatus: PgStatus = {
  inRecovery: true,
  timeline: 3,
  receivedLsn: 4000,
  replayedLsn: 3900,
  replayedTimestamp: null,
  replayPaused: false,
  serverVersion: 150004,
  systemId: '7300',
  replication: [],
};
const VIEW: DcsView = {
  revision: 10,
  members: [
    {
      name: 'node1',
      modRevision: 1,
      data: {
        conn_url: 'postgres://10.0.0.1:5433/postgres',
        api_url: 'http://10.0.0.1:8008/patroni',
        state: 'running',
        role: 'master',
        xlog_location: 5000,
        timeline: 3,
      },
    },
    {
      name: 'node2',
      modRevision: 2,
      data: { conn_url: 'postgres://10.0.0.2:5433/postgres', state: 'running', role: 'replica', xlog_location: 4000, timeline: 3, tags: { nofailover: true } },
    },
  ],
  leader: { name: 'node1', modRevision: 4 },
  status: { value: { optime: 5000 }, modRevision: 5 },
  sync: { value: { leader: 'node1', sync_standby: 'node2' }, modRevision: 6 },
  config: { value: { pause: true }, modRevision: 7 },
  problems: [],
};

describe('published state builders', () => {
  it('member data of a stopped, uninitialized node: addresses, state, role, tags without false ones', () => {
    expect(buildMemberData(facts({ role: 'uninitialized' }))).toEqual({
      conn_url: 'postgres://10.0.0.1:5433/postgres',
      api_url: 'http://10.0.0.1:8008/patroni',
      state: 'stopped',
      role: 'uninitialized',
      version: expect.any(String),
      tags: { clonefrom: true },
    });
  });
  it('member data carries proxy_url when postgresql.proxy_address is set', () => {
    const config = { ...CONFIG, postgresql: { ...CONFIG.postgresql, proxyAddress: '10.0.0.1:6432' } };
    expect(buildMemberData(facts({ config }))).toMatchObject({ proxy_url: 'postgres://10.0.0.1:6432/postgres' });
  });
  it('member data of a running primary and replica: WAL position, timeline, start time, pause', () => {
    const p = buildMemberData(facts({ pgStatus: primaryStatus, pgState: 'running', role: 'primary', view: VIEW }));
    expect(p).toMatchObject({
      role: 'master',
      state: 'running',
      xlog_location: 5000,
      timeline: 3,
      postmaster_start_time: new Date(NOW).toISOString(),
      pause: true,
    });
    expect(buildMemberData(facts({ pgStatus: replicaStatus, pgState: 'running' }))).toMatchObject({ role: 'replica', xlog_location: 4000 });
  });
  it('member data of a leader stopped cleanly: stopped, with where its WAL ended', () => {
    expect(buildMemberData(facts({ role: 'stopped', finalLsn: 7000 }))).toMatchObject({ state: 'stopped', xlog_location: 7000 });
    expect(buildMemberData(facts({ pgStatus: replicaStatus, pgState: 'running', finalLsn: 7000 }))).toMatchObject({ xlog_location: 4000 });
  });
  it('node state: leader lease only while leader, sync standby seen from the sync key', () => {
    const leader = buildNodeState(
      facts({ pgStatus: primaryStatus, pgState: 'running', role: 'primary', view: VIEW, isLeader: true, leaseExpiresAt: NOW + 30_000, dcsLastSeen: NOW + 999 }),
    );
    expect(leader).toMatchObject({
      name: 'node1',
      scope: 'demo',
      isLeader: true,
      leaderLeaseExpiresAt: NOW + 30_000,
      dcsLastSeen: Math.floor((NOW + 999) / 1000),
      paused: true,
      clusterOptime: 5000,
    });
    expect(leader.postgres).toMatchObject({ role: 'primary', timeline: 3, xlog: { location: 5000 }, replication: primaryStatus.replication });
    expect(buildNodeState(facts({ leaseExpiresAt: NOW + 30_000 })).leaderLeaseExpiresAt).toBeUndefined();
    const node2 = buildNodeState(facts({ config: { ...CONFIG, name: 'node2' }, pgStatus: replicaStatus, view: VIEW, watchdogFailed: true }));
    expect(node2).toMatchObject({
      isSyncStandby: true,
      watchdogFailed: true,
      postgres: { xlog: { receivedLocation: 4000, replayedLocation: 3900, paused: false, replayedTimestamp: null } },
    });
  });
  it('quorum mode: a listed member is a quorum standby (Patroni 4.1), for /quorum and /cluster', () => {
    const view = {
      ...VIEW,
      config: { value: { synchronous_mode: 'quorum' as const }, modRevision: 7 },
      sync: { value: { leader: 'node1', sync_standby: 'node2', quorum: 0 }, modRevision: 6 },
    };
    const node2 = buildNodeState(facts({ config: { ...CONFIG, name: 'node2' }, pgStatus: replicaStatus, view }));
    expect(node2.isQuorumStandby).toBe(true);
    expect(node2.isSyncStandby).toBeUndefined();
    expect(buildClusterInfo(view).members.map((m) => m.role)).toEqual(['leader', 'quorum_standby']);
  });
  it('cluster info: roles, lag against the status optime, pause', () => {
    expect(buildClusterInfo(undefined)).toEqual({ members: [] });
    const info = buildClusterInfo(VIEW);
    expect(info.pause).toBe(true);
    expect(info.members).toEqual([
      { name: 'node1', role: 'leader', state: 'running', api_url: 'http://10.0.0.1:8008/patroni', host: '10.0.0.1', port: 5433, timeline: 3 },
      { name: 'node2', role: 'sync_standby', state: 'running', host: '10.0.0.2', port: 5433, timeline: 3, tags: { nofailover: true }, lag: 1000 },
    ]);
  });
});

describe('memberApiHosts', () => {
  it('takes the host of each member api_url (IPv6 without brackets) and skips broken ones', async () => {
    const { memberApiHosts } = await import('../src/internals.js');
    const view = {
      members: [
        { name: 'a', data: { api_url: 'http://10.0.0.1:8008/patroni' } },
        { name: 'b', data: { api_url: 'https://[::1]:8008/patroni' } },
        { name: 'c', data: { api_url: 'not a url' } },
        { name: 'd', data: {} },
      ],
    } as unknown as Parameters<typeof memberApiHosts>[0];
    expect(memberApiHosts(view)).toEqual(['10.0.0.1', '::1']);
    expect(memberApiHosts(undefined)).toEqual([]);
  });
});

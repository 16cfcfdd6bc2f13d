import { describe, expect, it } from 'vitest';
import {
  confValue,
  conninfo,
  fileParameters,
  forcedSettings,
  lsnToNumber,
  memberServer,
  parseConfig,
  parseControlData,
  divergedFromHistory,
  parseTimelineHistory,
  slotNameFor,
  splitHostPort,
  toDecisionView,
  wasPrimary,
} from '../src/internals.js';

const CONFIG = parseConfig(
  `
scope: demo
name: node1
restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}
etcd3: {hosts: [127.0.0.1:2379]}
bootstrap:
  dcs:
    postgresql:
      parameters: {max_connections: 50, wal_keep_size: 128MB, wal_level: logical}
postgresql:
  listen: 0.0.0.0:5433
  connect_address: 10.0.0.1:5433
  data_dir: /data
  authentication:
    superuser: {username: postgres}
    replication: {username: replicator}
  parameters: {unix_socket_directories: /run/pg}
`,
  {},
).config;

describe('server settings', () => {
  it('forces the cluster-wide and replication settings on the command line', () => {
    const s = forcedSettings(CONFIG, CONFIG.bootstrap.dcs);
    expect(s).toMatchObject({
      listen_addresses: '0.0.0.0',
      port: 5433,
      cluster_name: 'demo',
      hot_standby: 'on',
      wal_log_hints: 'on',
      max_connections: 50,
      wal_level: 'logical',
      max_wal_senders: 10,
    });
  });
  it('keeps reloadable parameters for the managed file', () => {
    expect(fileParameters(CONFIG, CONFIG.bootstrap.dcs)).toEqual({ wal_keep_size: '128MB', unix_socket_directories: '/run/pg' });
  });
  it('quotes values for postgresql.conf and libpq', () => {
    expect(confValue("a'b")).toBe("'a''b'");
    expect(confValue(true)).toBe('on');
    expect(conninfo({ host: 'h', port: 5, password: "p'w", user: undefined })).toBe("host='h' port='5' password='p\\'w'");
    expect(splitHostPort('[::1]:6000')).toEqual({ host: '::1', port: 6000 });
    expect(splitHostPort('db1')).toEqual({ host: 'db1', port: 5432 });
  });
});

describe('pg_controldata, timelines, slots', () => {
  it('parses pg_controldata output', () => {
    const cd = parseControlData(
      "pg_control version number:            1300\nDatabase system identifier:           7364003399928373256\nDatabase cluster state:               shut down in recovery\nLatest checkpoint's TimeLineID:       3\n",
    );
    expect(cd).toMatchObject({ systemId: '7364003399928373256', clusterState: 'shut down in recovery', timeline: 3 });
    expect(wasPrimary(cd.clusterState)).toBe(false);
    expect(wasPrimary('in production')).toBe(true);
    expect(cd.checkpointLsn).toBeUndefined();
    const stopped = parseControlData('Database cluster state:               shut down\nLatest checkpoint location:           0/3000060\n');
    expect(stopped.checkpointLsn).toBe(0x3000060);
  });
  it('parses timeline history files and LSNs', () => {
    expect(lsnToNumber('1/0')).toBe(2 ** 32);
    expect(parseTimelineHistory('1\t0/3000060\tno recovery target specified\n\n2\t0/5000000\tat restore point "x"\n')).toEqual([
      { timeline: 1, lsn: 0x3000060, reason: 'no recovery target specified' },
      { timeline: 2, lsn: 0x5000000, reason: 'at restore point "x"' },
    ]);
  });
  it('derives slot names like Patroni', () => {
    expect(slotNameFor('Node-2.dc1')).toBe('node_2_dc1');
  });
});

describe('etcd view mapping', () => {
  it('maps members, leader, failover and status for decide()', () => {
    const m2 = {
      name: 'node2',
      modRevision: 3,
      data: {
        conn_url: 'postgres://10.0.0.2:5433/postgres',
        api_url: 'http://10.0.0.2:8008/patroni',
        role: 'replica',
        state: 'running',
        xlog_location: 100,
        tags: { nofailover: true },
      },
    };
    const view = toDecisionView({
      revision: 9,
      members: [m2],
      leader: { name: 'node1', modRevision: 2 },
      initialize: '42',
      status: { value: { optime: 120 }, modRevision: 5 },
      failover: { value: { leader: 'node1', member: 'node2' }, modRevision: 6 },
      problems: [],
    });
    expect(view).toMatchObject({ leader: 'node1', initialize: '42', optime: 120, failover: { leader: 'node1', candidate: 'node2' } });
    expect(view.members[0]).toMatchObject({
      name: 'node2',
      apiUrl: 'http://10.0.0.2:8008/patroni',
      xlogLocation: 100,
      tags: { nofailover: true, clonefrom: false },
    });
    expect(memberServer(m2)).toEqual({ host: '10.0.0.2', port: 5433 });
    expect(toDecisionView({ revision: 1, members: [], failover: { value: {}, modRevision: 1 }, problems: [] }).failover).toBeUndefined();
  });
});

describe('divergedFromHistory', () => {
  const history = parseTimelineHistory('1\t0/3000060\tno recovery target specified\n2\t0/5000000\tno recovery target specified\n');
  it('a replica behind the fork only lags; one past it, or on a timeline the leader never had, diverged', () => {
    expect(divergedFromHistory(1, 0x3000060, history)).toBe(false);
    expect(divergedFromHistory(1, 0x3000061, history)).toBe(true);
    expect(divergedFromHistory(2, 0x4000000, history)).toBe(false);
    expect(divergedFromHistory(2, 0x5000100, history)).toBe(true);
    expect(divergedFromHistory(7, 0x1000, history)).toBe(true);
  });
});

describe('writeManagedConf recovery settings', () => {
  it('writes recovery_conf only on a standby, quoted, and removes it with the standby role', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { writeManagedConf } = await import('../src/internals.js');
    const dir = await mkdtemp(join(tmpdir(), 'pgtools-managed-'));
    try {
      const recovery = { restore_command: "cp '/arch ive/%f' %p", recovery_min_apply_delay: '5min' };
      await writeManagedConf(dir, {}, { standby: true, standbyRecovery: recovery });
      const text = await readFile(join(dir, 'pgtools.conf'), 'utf8');
      expect(text).toContain(`restore_command = 'cp ''/arch ive/%f'' %p'\n`);
      expect(text).toContain(`recovery_min_apply_delay = '5min'\n`);
      await writeManagedConf(dir, {}, { standby: false, standbyRecovery: recovery });
      expect(await readFile(join(dir, 'pgtools.conf'), 'utf8')).not.toContain('restore_command');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('localHost (Patroni resolve_connection_addresses)', () => {
  it.each([
    ['0.0.0.0:5432', undefined, false, '127.0.0.1'],
    ['*:5432', '/run/pg', false, '127.0.0.1'],
    ['[::]:5432', undefined, false, '::1'],
    ['10.0.0.5,127.0.0.1:5432', undefined, false, '10.0.0.5'],
    ['0.0.0.0:5432', '@abstract, /run/pg, /tmp', true, '/run/pg'],
    ['0.0.0.0:5432', '..', true, '127.0.0.1'],
    ['0.0.0.0:5432', undefined, true, '/default'],
  ] as const)('%s dirs=%s socket=%s -> %s', async (listen, dirs, socket, expected) => {
    const { localHost } = await import('../src/internals.js');
    expect(localHost(listen, dirs, socket, '/default')).toBe(expected);
  });
});

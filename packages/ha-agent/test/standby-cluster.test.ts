import { describe, expect, it } from 'vitest';
import { parseConfig, parseDynamicConfig } from '../src/index.js';
import {
  decide,
  isStandbyClusterValue,
  PostgresCallbacks,
  remoteServer,
  remoteSource,
  standbyClusterRecovery,
  type CallbackAction,
  type DecisionInput,
} from '../src/internals.js';
import { MINIMAL, minimalConfig, refusal } from './minimal-config.js';

const NOENV = {};
const SYSID = '7364003399928373256';

function withStandby(section: string, postgresql = ''): string {
  return `${MINIMAL}${postgresql}bootstrap:\n  dcs:\n    standby_cluster: ${section}\n`;
}

describe('standby_cluster in the configuration', () => {
  it('reads every Patroni key of the section', () => {
    const { config, warnings } = parseConfig(
      withStandby(
        '{host: "10.0.0.1,10.0.0.2", port: 5433, primary_slot_name: dr, restore_command: "cp /a/%f %p", archive_cleanup_command: "pg_archivecleanup /a %r", recovery_min_apply_delay: 5min, create_replica_methods: [wal_g, basebackup]}',
        '  create_replica_methods: [wal_g, basebackup]\n  wal_g: {command: /usr/bin/restore, no_leader: true}\n',
      ),
      NOENV,
    );
    expect(warnings).toEqual([]);
    expect(config.bootstrap.dcs.standbyCluster).toEqual({
      host: '10.0.0.1,10.0.0.2',
      port: 5433,
      primarySlotName: 'dr',
      restoreCommand: 'cp /a/%f %p',
      archiveCleanupCommand: 'pg_archivecleanup /a %r',
      recoveryMinApplyDelay: '5min',
      createReplicaMethods: ['wal_g', 'basebackup'],
    });
  });

  it('is no standby cluster when absent, null or empty (what promote-cluster leaves)', () => {
    expect(parseDynamicConfig({ ttl: 30 }).standbyCluster).toBeUndefined();
    expect(parseDynamicConfig({ standby_cluster: null }).standbyCluster).toBeUndefined();
    expect(parseDynamicConfig({ standby_cluster: {} }).standbyCluster).toBeUndefined();
    expect(isStandbyClusterValue({ host: 'a' })).toBe(true);
    expect(isStandbyClusterValue({ restore_command: 'x' })).toBe(true);
    expect(isStandbyClusterValue({ primary_slot_name: 'x' })).toBe(false);
    expect(isStandbyClusterValue(null)).toBe(false);
  });

  it('has no synchronous replication, as Patroni: synchronous_mode (on or quorum) is ignored there, with a warning', () => {
    for (const mode of [true, 'quorum']) {
      const warnings: string[] = [];
      const d = parseDynamicConfig({ synchronous_mode: mode, standby_cluster: { host: '10.0.0.1', port: 5432 } }, 'config', warnings);
      expect(d).toMatchObject({ synchronousMode: false, synchronousQuorum: false });
      expect(warnings).toEqual(['config.synchronous_mode is ignored in a standby cluster, as Patroni does']);
    }
    // Promoted (standby_cluster removed): synchronous replication applies again.
    expect(parseDynamicConfig({ synchronous_mode: 'quorum', standby_cluster: null })).toMatchObject({ synchronousMode: true, synchronousQuorum: true });
  });

  it('refuses, naming the key, what Patroni refuses or would not run', () => {
    expect(refusal(() => parseConfig(withStandby('{primary_slot_name: dr}'), NOENV)).message).toMatch(
      /^bootstrap\.dcs\.standby_cluster: needs host, port or restore_command/,
    );
    expect(refusal(() => parseConfig(withStandby('{host: a, port: 99999}'), NOENV)).message).toMatch(/^bootstrap\.dcs\.standby_cluster\.port: /);
    expect(refusal(() => parseConfig(withStandby('{host: a, port: five}'), NOENV)).message).toMatch(
      /^bootstrap\.dcs\.standby_cluster\.port: must be an integer/,
    );
    expect(refusal(() => parseConfig(withStandby('{host: a, frobnicate: 1}'), NOENV)).message).toMatch(/^bootstrap\.dcs\.standby_cluster\.frobnicate: /);
    expect(refusal(() => parseConfig(withStandby('{host: a, create_replica_methods: [wal_e]}'), NOENV)).message).toMatch(
      /^bootstrap\.dcs\.standby_cluster\.create_replica_methods: "wal_e" is neither basebackup nor a method/,
    );
    // The runtime config key is refused the same way (the agent keeps the previous one).
    expect(refusal(() => parseDynamicConfig({ standby_cluster: { port: 'x' } }, 'config')).message).toMatch(/^config\.standby_cluster\.port: /);
  });
});

describe('where a standby cluster member gets its WAL', () => {
  const { config } = parseConfig(MINIMAL, NOENV);
  const dynamic = config.bootstrap.dcs;

  it('the standby leader streams from the remote primary through primary_slot_name', () => {
    const source = remoteSource(config, { ...dynamic, standbyCluster: { host: '10.0.1.5', port: 5433, primarySlotName: 'DR-site' } });
    expect(source).toEqual({ remote: true, conninfo: "host='10.0.1.5' port='5433' user='replicator' application_name='n1'", slotName: 'dr_site' });
    expect(remoteSource(config, dynamic)).toBeUndefined();
  });

  it('several hosts add target_session_attrs=read-write; no slot without primary_slot_name or use_slots', () => {
    expect(remoteSource(config, { ...dynamic, standbyCluster: { host: 'a,b', port: 5432 } })?.conninfo).toBe(
      "host='a,b' port='5432' user='replicator' application_name='n1' target_session_attrs='read-write'",
    );
    const noSlots = { ...dynamic, postgresql: { ...dynamic.postgresql, useSlots: false }, standbyCluster: { host: 'a', primarySlotName: 'dr' } };
    expect(remoteSource(config, noSlots)?.slotName).toBeUndefined();
    expect(remoteServer({ host: 'a, b', port: 5433 })).toEqual({ host: 'a', port: 5433 });
  });

  it('restore_command only: no streaming; archive settings on every member, the apply delay on the standby leader', () => {
    const standby = { restoreCommand: 'cp /a/%f %p', archiveCleanupCommand: 'pg_archivecleanup /a %r', recoveryMinApplyDelay: '5min' };
    expect(remoteSource(config, { ...dynamic, standbyCluster: standby })).toEqual({ remote: true });
    expect(standbyClusterRecovery(standby, true)).toEqual({
      restore_command: 'cp /a/%f %p',
      archive_cleanup_command: 'pg_archivecleanup /a %r',
      recovery_min_apply_delay: '5min',
    });
    expect(standbyClusterRecovery(standby, false)).toEqual({ restore_command: 'cp /a/%f %p', archive_cleanup_command: 'pg_archivecleanup /a %r' });
    expect(standbyClusterRecovery(undefined, true)).toEqual({});
  });
});

describe('decide() in a standby cluster', () => {
  const members = [
    { name: 'node1', role: 'standby_leader', state: 'running', apiUrl: 'http://127.0.0.1:8001/patroni' },
    { name: 'node2', role: 'replica', state: 'running', apiUrl: 'http://127.0.0.1:8002/patroni' },
  ];
  function at(name: string, over: Partial<DecisionInput['local']> = {}, cluster: Record<string, unknown> = {}): DecisionInput {
    return {
      cluster: { leader: 'node1', members, initialize: SYSID, ...cluster },
      local: { postgresRunning: true, role: 'replica', receivedLsn: 100, replayedLsn: 100, dataDirEmpty: false, systemId: SYSID, ...over },
      config: { name, ttl: 30, loopWait: 10, maximumLagOnFailover: 1048576, primaryStartTimeout: 300, synchronousMode: false, tags: {}, standbyCluster: true },
      paused: false,
      dcsReachable: true,
      leaderRefreshOk: name === 'node1' ? true : undefined,
      now: 0,
    } as DecisionInput;
  }

  it('the key holder follows the remote primary and never promotes', () => {
    expect(decide(at('node1', { standbyLeader: true }))).toEqual({
      kind: 'lead_standby',
      acquire: false,
      clearFailoverKey: false,
      message: 'no action. I am (node1), the standby leader with the lock',
    });
    expect(decide(at('node1')).message).toBe('promoted self to a standby leader because i had the session lock');
    expect(decide(at('node1', { postgresRunning: false })).kind).toBe('lead_standby');
    expect(decide({ ...at('node1', { standbyLeader: true }), config: { ...at('node1').config, standbyCluster: false } }).kind).toBe(
      'refresh_leader_and_promote',
    );
  });

  it('a primary holding the key is demoted to standby leader (demote-cluster)', () => {
    expect(decide(at('node1', { role: 'primary', walPosition: 100 }))).toEqual({ kind: 'demote_cluster', message: 'demoting to a standby cluster' });
  });

  it('the other members follow the standby leader; the race winner becomes the next standby leader', () => {
    expect(decide(at('node2')).message).toBe('no action. I am (node2), a secondary, and following a standby leader (node1)');
    const race = at('node2', {}, { leader: undefined, members: [members[1] as (typeof members)[number]] });
    expect(decide(race)).toMatchObject({ kind: 'lead_standby', acquire: true, message: 'promoted self to a standby leader by acquiring session lock' });
  });

  it('a switchover hands the standby leader key over (nobody promotes; the candidate follows the remote)', () => {
    const asked = { ...at('node1', { standbyLeader: true }, { failover: { leader: 'node1', candidate: 'node2' } }) };
    expect(decide(asked)).toMatchObject({ kind: 'probe_members', members: ['node2'] });
    const probes = [{ name: 'node2', reachable: true, role: 'replica', state: 'running', walPosition: 100 }];
    expect(decide({ ...asked, peerProbes: probes })).toMatchObject({ kind: 'do_switchover', candidate: 'node2' });
    const candidate = at('node2', {}, { leader: undefined, failover: { leader: 'node1', candidate: 'node2' } });
    expect(decide({ ...candidate, peerProbes: [] })).toMatchObject({ kind: 'lead_standby', acquire: true, clearFailoverKey: true });
  });

  it('races without waiting to have streamed from a restarted standby leader (it wrote nothing of its own)', () => {
    const race = at('node2', {}, { leader: undefined, members: [members[1] as (typeof members)[number]] });
    const input = { ...race, lastLeader: { name: 'node1', startedAt: 1000, seenAt: 1000 }, now: 2000 };
    expect(decide(input).kind).toBe('lead_standby');
    expect(decide({ ...input, config: { ...input.config, standbyCluster: false } }).message).toMatch(/I cannot tell how far behind node1 I am/);
  });

  it('bootstraps a standby leader instead of a new cluster', () => {
    expect(decide(at('node1', { postgresRunning: false, dataDirEmpty: true }, { leader: undefined, initialize: undefined, members: [] }))).toEqual({
      kind: 'bootstrap',
      message: 'trying to bootstrap a new standby leader',
    });
  });
});

describe('callbacks of a standby cluster (Patroni passes standby_leader)', () => {
  const config = parseConfig(`${minimalConfig({ scope: 'dr' })}  callbacks: {on_start: cb, on_role_change: cb, on_stop: cb}\n`, NOENV).config;
  function setup(): { cb: PostgresCallbacks; calls: string[] } {
    const calls: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const cb = new PostgresCallbacks({ config: () => config, logger, run: (_a: CallbackAction, argv: string[]) => calls.push(argv.slice(1).join(' ')) });
    return { cb, calls };
  }

  it('bootstrap, losing and taking the standby leader key, promotion', () => {
    const { cb, calls } = setup();
    cb.started('standby_leader', true);
    cb.answering('replica');
    cb.roleChanged('replica');
    cb.roleChanged('standby_leader');
    cb.roleChanged('standby_leader');
    cb.promoted();
    expect(calls).toEqual(['on_start standby_leader dr', 'on_role_change replica dr', 'on_role_change standby_leader dr', 'on_role_change primary dr']);
  });

  it('a demoted primary started as standby leader: on_stop primary, then on_role_change standby_leader', () => {
    const { cb, calls } = setup();
    cb.started('primary', true);
    cb.stopped();
    cb.started('standby_leader', true);
    expect(calls).toEqual(['on_start primary dr', 'on_stop primary dr', 'on_role_change standby_leader dr']);
  });
});

import { startEtcd, type EtcdCluster } from '@pgtools/testkit';
import type { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keyLayout, type DcsEvent } from '../src/index.js';
import { dcsFactory, eventually, memberData, rawClient, recordingLogger, uniqueScope } from './support.js';

// Values written by hand (etcdctl, a broken tool) into every key of a live cluster: each one is
// logged once and ignored; reading, watching and writing carry on.
let etcd: EtcdCluster;
let raw: Etcd3;
let factory: ReturnType<typeof dcsFactory>;

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  raw = rawClient(etcd.endpoints);
  factory = dcsFactory({ hosts: etcd.hosts });
});

afterEach(async () => {
  await factory.closeAll();
});

afterAll(async () => {
  raw?.close();
  await etcd?.destroy();
});

describe('garbage values written by hand', () => {
  it('are logged and ignored in every key, by the watched view and by a fresh read, and the store keeps working', async () => {
    const scope = uniqueScope('garbage-all');
    const keys = keyLayout(undefined, scope);
    const logger = recordingLogger();
    const events: DcsEvent[] = [];
    const node1 = factory.make({ scope, name: 'node1', logger, onEvent: (e) => events.push(e) });
    const node2 = factory.make({ scope, name: 'node2' });

    // A healthy cluster first.
    expect(await node1.initialize(true)).toBe(true);
    expect(await node1.initialize(false, '7300000000000000001')).toBe(true);
    expect(await node1.setConfig({ ttl: 30, loop_wait: 10 })).toBe(true);
    expect(await node1.touchMember(memberData(5432, 'master', 1000))).toBe(true);
    expect(await node2.touchMember(memberData(5433, 'replica', 900))).toBe(true);
    expect(await node1.attemptToAcquireLeader()).toBe(true);
    expect(await node1.setStatus({ optime: 1000 })).toBe(true);
    expect(await node1.setHistory([[1, 100, 'no recovery target specified']])).toBe(true);
    expect(await node1.setSync({ leader: 'node1', sync_standby: 'node2' })).toBe(true);
    expect(await node1.setFailover({ leader: 'node1', member: 'node2' })).toBe(true);

    const stop = node1.watch(() => undefined);
    await eventually(() => node1.cachedView()?.failover, 10_000, 'the watched view');
    expect(node1.cachedView()?.problems).toEqual([]);

    // Then garbage everywhere, with etcdctl as an operator would.
    const garbage: Array<[string, string]> = [
      [keys.leader, 'bad/name'],
      [keys.member('node2'), 'not json {'],
      [keys.member('node3'), '{"conn_url":5,"xlog_location":"abc","role":"replica","tags":"x","timeline":2}'],
      [keys.config, '{"ttl": 30,'],
      [keys.failover, '[1,2]'],
      [keys.sync, '"just a string"'],
      [keys.history, '{"not":"a list"}'],
      [keys.status, 'optime=12'],
      [keys.initialize, 'garbage-sysid'],
    ];
    for (const [key, value] of garbage) await etcd.etcdctl(['put', key, value]);
    // And bytes that are not UTF-8, with the etcd3 client.
    await raw.put(keys.member('node4')).value(Buffer.from([0xff, 0xfe, 0x00, 0x7b]));

    const expectedProblemKeys = [...garbage.map(([k]) => k), keys.member('node4')].sort();
    const watched = await eventually(
      () => {
        const v = node1.cachedView();
        return v && v.problems.length === expectedProblemKeys.length ? v : undefined;
      },
      10_000,
      'the watched view to see every garbage value',
    );
    // currentView() serves the watched view while the watch is healthy.
    const current = await node1.currentView();
    const fresh = await node1.loadCluster();

    for (const view of [watched, current, fresh]) {
      expect(view.problems.map((p) => p.key).sort()).toEqual(expectedProblemKeys);
      expect(view.leader).toBeUndefined();
      expect(view.config).toBeUndefined();
      expect(view.failover).toBeUndefined();
      expect(view.sync).toBeUndefined();
      expect(view.history).toBeUndefined();
      expect(view.status).toBeUndefined();
      // Initialized, identifier unknown: nobody bootstraps over it, nobody exits on a "mismatch".
      expect(view.initialize).toBe('');
      expect(view.members.map((m) => m.name)).toEqual(['node1', 'node2', 'node3', 'node4']);
      expect(view.members[0]?.data).toMatchObject({ role: 'master', xlog_location: 1000 });
      expect(view.members[1]?.data).toEqual({});
      expect(view.members[2]?.data).toEqual({ role: 'replica', timeline: 2 });
      expect(view.members[3]?.data).toEqual({});
    }
    const node3Problem = fresh.problems.find((p) => p.key === keys.member('node3'));
    expect(node3Problem?.reason).toMatch(/conn_url, xlog_location, tags/);

    // Each garbage value is logged once (warn, naming the key), however often it is read.
    const warned = logger.lines.filter((l) => l.level === 'warn' && l.message.includes('unreadable')).map((l) => l.fields?.key);
    expect([...new Set(warned)].sort()).toEqual(expectedProblemKeys);
    expect(warned).toHaveLength(expectedProblemKeys.length);
    expect(events.filter((e) => e.type === 'view_problem')).toHaveLength(expectedProblemKeys.length);

    // The store keeps working: our leader key is no longer ours, our member key is rewritten,
    // the garbage config is replaced by compare-and-swap on the revision the problem reports.
    expect(await node1.updateLeader()).toBe(false);
    expect(await node1.touchMember(memberData(5432, 'replica', 1001))).toBe(true);
    const configProblem = fresh.problems.find((p) => p.key === keys.config);
    expect(await node1.setConfig({ ttl: 30 }, configProblem?.modRevision)).toBe(true);
    await etcd.etcdctl(['del', keys.leader]);
    expect(await node2.attemptToAcquireLeader()).toBe(true);
    const after = await eventually(
      () => {
        const v = node1.cachedView();
        return v?.leader?.name === 'node2' && v.config ? v : undefined;
      },
      10_000,
      'the watched view after the repair',
    );
    expect(after.config?.value).toEqual({ ttl: 30 });
    stop();
  });
});

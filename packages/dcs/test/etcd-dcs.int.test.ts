import { createServer, type Server, type Socket } from 'node:net';
import { PgToolsError } from '@pgtools/core';
import { startEtcd, type EtcdCluster } from '@pgtools/testkit';
import type { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdDcs, keyLayout, type ClusterView, type DcsEvent, type KeyChange } from '../src/index.js';
import { dcsFactory, eventually, memberData, rawClient, recordingLogger, sleep, uniqueScope } from './support.js';

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

describe('EtcdDcs on a real etcd', () => {
  it('lets exactly one of two racing members take the leader key, with its lease', async () => {
    const scope = uniqueScope('race');
    const a = factory.make({ scope, name: 'node1' });
    // Hosts may also be given as URLs.
    const b = factory.make({ scope, name: 'node2', hosts: etcd.endpoints });
    const results = await Promise.all([a.attemptToAcquireLeader(), b.attemptToAcquireLeader()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? a : b;
    const loser = results[0] ? b : a;

    const keys = keyLayout(undefined, scope);
    expect(await raw.get(keys.leader).string()).toBe(winner.name);
    const view = await loser.loadCluster();
    expect(view.leader).toMatchObject({ name: winner.name, lease: winner.leaseId });
    // Once taken, the key stays with the winner.
    expect(await loser.attemptToAcquireLeader()).toBe(false);
    expect(await winner.attemptToAcquireLeader()).toBe(false);
  });

  it('updates and deletes the leader key only while it holds our name', async () => {
    const scope = uniqueScope('cas');
    const keys = keyLayout(undefined, scope);
    const a = factory.make({ scope, name: 'node1' });
    const b = factory.make({ scope, name: 'node2' });
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const before = await a.loadCluster();

    expect(await b.updateLeader()).toBe(false);
    expect(await b.deleteLeader()).toBe(false);
    const after = await a.loadCluster();
    expect(after.leader).toEqual(before.leader);
    expect(await raw.get(keys.leader).string()).toBe('node1');

    expect(await a.updateLeader()).toBe(true);
    // Our key on our lease: a refresh writes nothing.
    expect((await a.loadCluster()).leader?.modRevision).toBe(before.leader?.modRevision);

    expect(await a.deleteLeader()).toBe(true);
    expect(await raw.get(keys.leader).string()).toBeNull();
    expect(await a.updateLeader()).toBe(false);
    expect(await a.deleteLeader()).toBe(false);
  });

  it('moves the leader key to a new lease after a TTL change, by value compare-and-swap', async () => {
    const scope = uniqueScope('ttl');
    const a = factory.make({ scope, name: 'node1', ttl: 10 });
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const oldLease = a.leaseId;
    a.setTtl(20);
    expect(await a.updateLeader()).toBe(true);
    expect(a.leaseId).not.toBe(oldLease);
    const view = await a.loadCluster();
    expect(view.leader).toMatchObject({ name: 'node1', lease: a.leaseId });
    const info = await raw.leaseClient.leaseTimeToLive({ ID: a.leaseId as string });
    expect(Number(info.grantedTTL)).toBe(20);
  });

  it('lets the lease expire after ttl when keepalives stop, then another member acquires', async () => {
    const scope = uniqueScope('expiry');
    const ttl = 3;
    const events: DcsEvent[] = [];
    const a = factory.make({ scope, name: 'node1', ttl, onEvent: (e) => events.push(e) });
    const b = factory.make({ scope, name: 'node2', ttl });
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const firstLease = a.leaseId;
    const lastKeepalive = Date.now();
    expect(await b.attemptToAcquireLeader()).toBe(false);

    // a now stalls: no keepalive. b keeps trying, as a replica's HA loop would.
    let acquiredAt: number | undefined;
    for (let i = 0; i < 80 && acquiredAt === undefined; i++) {
      await sleep(100);
      if (await b.attemptToAcquireLeader()) acquiredAt = Date.now();
    }
    expect(acquiredAt).toBeDefined();
    const elapsed = (acquiredAt as number) - lastKeepalive;
    // The lease is a contract: not before ttl, and soon after (etcd checks expiry every 500 ms).
    expect(elapsed).toBeGreaterThanOrEqual(ttl * 1000 - 300);
    expect(elapsed).toBeLessThanOrEqual(ttl * 1000 + 2500);

    // a wakes up: its lease is gone, the key is b's: the refresh reports the loss.
    expect(await a.updateLeader()).toBe(false);
    expect(a.leaseId).not.toBe(firstLease);
    expect(events).toContainEqual({ type: 'lease_lost', lease: firstLease });
    expect((await a.loadCluster()).leader).toMatchObject({ name: 'node2', lease: b.leaseId });
  });

  it('taking the leader key refreshes the lease first: etcd counts it from the acquisition, as the agent does', async () => {
    const scope = uniqueScope('acquire-refresh');
    const a = factory.make({ scope, name: 'node1', ttl: 10 });
    // The member key grants the lease; the acquisition comes later, within the keepalive interval.
    expect(await a.touchMember(memberData(5432, 'replica', 0))).toBe(true);
    const lease = a.leaseId;
    await sleep(1500);
    const sentAt = Date.now();
    expect(await a.attemptToAcquireLeader()).toBe(true);
    expect(a.leaseId).toBe(lease);
    const { TTL } = await raw.leaseClient.leaseTimeToLive({ ID: lease ?? '' });
    // etcd reports whole seconds left, rounded down: 9 after a refresh at the acquisition, 8 without
    // one (the member key's grant was 1.5 s earlier). The agent's estimate is sentAt + 10 s.
    expect(Date.now() - sentAt).toBeLessThan(1000);
    expect(Number(TTL)).toBe(9);
  });

  it('writes the member key with our lease, compact JSON, and only when it changed', async () => {
    const scope = uniqueScope('member');
    const keys = keyLayout(undefined, scope);
    const a = factory.make({ scope, name: 'node1' });
    const data = { ...memberData(5432, 'replica', 100), tags: { nofailover: false } };
    expect(await a.touchMember(data)).toBe(true);
    const stored = await raw.get(keys.member('node1')).string();
    expect(stored).toBe(JSON.stringify(data));
    const first = (await a.loadCluster()).members[0];
    expect(first).toMatchObject({ name: 'node1', lease: a.leaseId, data });

    expect(await a.touchMember({ ...data })).toBe(true);
    expect((await a.loadCluster()).members[0]?.modRevision).toBe(first?.modRevision);

    expect(await a.touchMember({ ...data, xlog_location: 200 })).toBe(true);
    const second = (await a.loadCluster()).members[0];
    expect(second?.modRevision).toBeGreaterThan(first?.modRevision ?? Infinity);
    expect(second?.data.xlog_location).toBe(200);

    // With a watch, "changed" is judged against etcd: a member key deleted behind our back comes back.
    const stop = a.watch(() => undefined);
    await eventually(() => a.cachedView(), 5000, 'cache ready');
    await raw.delete().key(keys.member('node1'));
    await eventually(() => (a.cachedView()?.members.length === 0 ? true : undefined), 5000, 'deletion seen');
    expect(await a.touchMember({ ...data, xlog_location: 200 })).toBe(true);
    expect((await a.loadCluster()).members.map((m) => m.name)).toEqual(['node1']);
    stop();
  });

  it('races on initialize, then stores the system identifier, and cancels', async () => {
    const scope = uniqueScope('init');
    const a = factory.make({ scope, name: 'node1' });
    const b = factory.make({ scope, name: 'node2' });
    const results = await Promise.all([a.initialize(true), b.initialize(true)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await a.loadCluster()).initialize).toBe('');
    expect(await a.initialize(false, '7300000000000000001')).toBe(true);
    expect((await b.loadCluster()).initialize).toBe('7300000000000000001');
    expect(await b.initialize(true, 'other')).toBe(false);
    expect(await a.cancelInitialization()).toBe(true);
    expect((await b.loadCluster()).initialize).toBeUndefined();
  });

  it('rejects a config write by compare-and-swap when someone else changed it first', async () => {
    const scope = uniqueScope('config');
    const a = factory.make({ scope, name: 'node1' });
    const b = factory.make({ scope, name: 'node2' });
    expect(await a.setConfig({ ttl: 30, loop_wait: 10, retry_timeout: 10 })).toBe(true);
    const seen = (await a.loadCluster()).config;
    expect(seen?.value).toEqual({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
    const rev = seen?.modRevision as number;

    expect(await b.setConfig({ ttl: 20, loop_wait: 10, retry_timeout: 10 }, rev)).toBe(true);
    expect(await a.setConfig({ ttl: 40, loop_wait: 10, retry_timeout: 10 }, rev)).toBe(false);
    const now = (await a.loadCluster()).config;
    expect(now?.value.ttl).toBe(20);
    expect(now?.modRevision).toBeGreaterThan(rev);
    expect(await a.setConfig({ ttl: 40 }, now?.modRevision)).toBe(true);
    // Creating by CAS needs revision 0 (absent), like Patroni's first write.
    const fresh = factory.make({ scope: uniqueScope('config0'), name: 'x' });
    expect(await fresh.setConfig({ ttl: 1 }, 5)).toBe(false);
    expect(await fresh.setConfig({ ttl: 1 }, 0)).toBe(true);
  });

  it('writes failover, sync, history and status in Patroni format, with compare-and-swap where Patroni uses it', async () => {
    const scope = uniqueScope('values');
    const keys = keyLayout(undefined, scope);
    const a = factory.make({ scope, name: 'node1' });
    expect(await a.setFailover({ leader: 'node1', member: 'node2' })).toBe(true);
    expect(await raw.get(keys.failover).string()).toBe('{"leader":"node1","member":"node2"}');
    const failoverRev = (await a.loadCluster()).failover?.modRevision as number;
    expect(await a.clearFailover(failoverRev - 1)).toBe(false);
    expect(await a.clearFailover(failoverRev)).toBe(true);
    expect(await raw.get(keys.failover).string()).toBe('{}');
    expect((await a.loadCluster()).failover?.value).toEqual({});

    expect(await a.setSync({ leader: 'node1', sync_standby: 'node2' })).toBe(true);
    expect(await raw.get(keys.sync).string()).toBe('{"leader":"node1","sync_standby":"node2"}');
    const syncRev = (await a.loadCluster()).sync?.modRevision as number;
    expect(await a.setSync({ leader: 'node1', sync_standby: null }, syncRev + 100)).toBe(false);
    expect(await a.setSync({ leader: 'node1', sync_standby: null }, syncRev)).toBe(true);
    expect((await a.loadCluster()).sync?.value).toEqual({ leader: 'node1', sync_standby: null });
    expect(await a.deleteSync()).toBe(true);
    expect((await a.loadCluster()).sync).toBeUndefined();

    expect(await a.setHistory([[1, 25165984, 'no recovery target specified', '2024-05-01T10:00:00.123456+00:00', 'node2']])).toBe(true);
    expect(await raw.get(keys.history).string()).toBe('[[1,25165984,"no recovery target specified","2024-05-01T10:00:00.123456+00:00","node2"]]');

    expect(await a.setStatus({ optime: 50331968, slots: { node2: 50331968 } })).toBe(true);
    expect(await raw.get(keys.status).string()).toBe('{"optime":50331968,"slots":{"node2":50331968}}');
    const statusRev = (await a.loadCluster()).status?.modRevision;
    expect(await a.setStatus({ optime: 50331968, slots: { node2: 50331968 } })).toBe(true);
    expect((await a.loadCluster()).status?.modRevision).toBe(statusRev);
    // status has no lease: it survives its writer.
    const statusKv = await raw.get(keys.status).exec();
    expect(statusKv.kvs[0]?.lease).toBe('0');

    expect(await a.setFailsafe({ node1: 'http://127.0.0.1:8008/patroni' })).toBe(true);
    expect((await a.loadCluster()).failsafe?.value).toEqual({ node1: 'http://127.0.0.1:8008/patroni' });

    expect(await a.deleteCluster()).toBe(true);
    expect(await raw.getAll().prefix(keys.prefix).keys()).toEqual([]);
  });

  it('reports a hand-written garbage value and carries on', async () => {
    const scope = uniqueScope('garbage');
    const keys = keyLayout(undefined, scope);
    const logger = recordingLogger();
    const events: DcsEvent[] = [];
    const a = factory.make({ scope, name: 'node1', logger, onEvent: (e) => events.push(e) });
    await a.touchMember(memberData(5432, 'master', 1));
    await raw.put(keys.config).value('{"ttl": 30, oops');
    await raw.put(keys.status).value('not json at all');

    const view = await a.loadCluster();
    expect(view.config).toBeUndefined();
    expect(view.status).toBeUndefined();
    expect(view.members.map((m) => m.name)).toEqual(['node1']);
    expect(view.problems.map((p) => p.key).sort()).toEqual([keys.config, keys.status]);
    expect(logger.lines.filter((l) => l.level === 'warn' && l.message.includes('unreadable')).map((l) => l.fields?.key)).toEqual(
      expect.arrayContaining([keys.config, keys.status]),
    );
    expect(events.filter((e) => e.type === 'view_problem')).toHaveLength(2);
    // Reported once per written value, not on every read.
    await a.loadCluster();
    expect(events.filter((e) => e.type === 'view_problem')).toHaveLength(2);

    // The garbage can be replaced by compare-and-swap on the revision reported with the problem.
    const problem = view.problems.find((p) => p.key === keys.config);
    expect(await a.setConfig({ ttl: 30 }, problem?.modRevision)).toBe(true);
    expect((await a.loadCluster()).config?.value).toEqual({ ttl: 30 });
  });

  it('wakes a watcher at once when the leader key changes, and keeps its cache current', async () => {
    const scope = uniqueScope('watch');
    const a = factory.make({ scope, name: 'node1' });
    const b = factory.make({ scope, name: 'node2' });
    const observer = factory.make({ scope, name: 'node3' });
    const wakes: Array<{ view: ClusterView; changes: KeyChange[]; at: number }> = [];
    const stop = observer.watch((view, changes) => wakes.push({ view, changes, at: Date.now() }));
    await eventually(() => observer.cachedView(), 5000, 'cache ready');

    const t0 = Date.now();
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const first = await eventually(() => wakes.find((w) => w.view.leader?.name === 'node1'), 3000, 'wake on new leader');
    expect(first.changes.map((c) => c.key)).toEqual([observer.layout.leader]);
    expect(first.at - t0).toBeLessThan(1000);

    // A member key change is cached but does not wake.
    const before = wakes.length;
    await b.touchMember(memberData(5433, 'replica', 5));
    await eventually(() => (observer.cachedView()?.members.some((m) => m.name === 'node2') ? true : undefined), 3000, 'member cached');
    expect(wakes.length).toBe(before);

    expect(await a.deleteLeader()).toBe(true);
    await eventually(() => wakes.find((w) => w.changes.some((c) => c.key === observer.layout.leader && c.newValue === undefined)), 3000, 'wake on deletion');
    expect(await b.attemptToAcquireLeader()).toBe(true);
    await eventually(() => wakes.find((w) => w.view.leader?.name === 'node2'), 3000, 'wake on node2');

    // config, failover and (someone else's) status wake too.
    await a.setConfig({ ttl: 25 });
    await eventually(() => wakes.find((w) => w.changes.some((c) => c.key === observer.layout.config)), 3000, 'wake on config');
    await a.setFailover({ leader: 'node2', member: 'node1' });
    await eventually(() => wakes.find((w) => w.changes.some((c) => c.key === observer.layout.failover)), 3000, 'wake on failover');
    await b.setStatus({ optime: 1234 });
    const statusWake = await eventually(() => wakes.find((w) => w.changes.some((c) => c.key === observer.layout.status)), 3000, 'wake on status');
    expect(statusWake.view.status?.value.optime).toBe(1234);
    expect(await observer.currentView()).toMatchObject({ leader: { name: 'node2' }, config: { value: { ttl: 25 } } });
    stop();
  });

  it('fails fast with dcs_unavailable when no etcd answers: refused and silent hosts', async () => {
    // A port where nobody listens, and a server that accepts TCP and never answers (a black hole).
    const accepted: Socket[] = [];
    const silent: Server = createServer((socket) => {
      accepted.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const silentHost = typeof address === 'object' && address ? `127.0.0.1:${address.port}` : '';
    try {
      for (const hosts of [['127.0.0.1:1'], [silentHost]]) {
        const dcs = new EtcdDcs({ hosts, scope: uniqueScope('down'), name: 'node1', ttl: 10, callTimeoutMs: 1500 });
        try {
          for (const call of [() => dcs.loadCluster(), () => dcs.attemptToAcquireLeader(), () => dcs.touchMember(memberData(1, 'replica', 1))]) {
            const started = Date.now();
            const error = await call().then(
              () => undefined,
              (err: unknown) => err,
            );
            const elapsed = Date.now() - started;
            expect(error).toBeInstanceOf(PgToolsError);
            expect((error as PgToolsError).code).toBe('dcs_unavailable');
            expect((error as PgToolsError).message).toContain(hosts[0]);
            expect(elapsed).toBeLessThan(1500 + 700);
          }
        } finally {
          await dcs.close();
        }
      }
    } finally {
      silent.close();
      for (const socket of accepted) socket.destroy();
    }
  });

  // Runs last: stops the etcd member.
  it('reports dcs_unavailable within the deadline when etcd stops, and the watch recovers when it is back', async () => {
    const scope = uniqueScope('stop');
    const a = factory.make({ scope, name: 'node1', callTimeoutMs: 2000 });
    const observer = factory.make({ scope, name: 'node2', callTimeoutMs: 2000 });
    expect(await a.attemptToAcquireLeader()).toBe(true);
    const wakes: ClusterView[] = [];
    const stop = observer.watch((view) => wakes.push(view));
    await eventually(() => observer.cachedView(), 5000, 'cache ready');

    const member = etcd.members[0];
    if (!member) throw new Error('no etcd member');
    await member.stop();
    for (const call of [() => a.updateLeader(), () => a.loadCluster(), () => a.setStatus({ optime: 5 }), () => observer.currentView()]) {
      const started = Date.now();
      const error = await call().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(PgToolsError);
      expect((error as PgToolsError).code).toBe('dcs_unavailable');
      expect((error as PgToolsError).message).toContain(etcd.hosts[0]);
      expect((error as PgToolsError).cause).toBeDefined();
      expect(Date.now() - started).toBeLessThan(2000 + 700);
    }
    expect(observer.cachedView()).toBeUndefined();

    await member.start();
    await eventually(
      async () => {
        try {
          return (await a.updateLeader()) ? true : undefined;
        } catch {
          return undefined;
        }
      },
      30_000,
      'leader refresh after etcd restart',
    );
    await eventually(() => observer.cachedView(), 15_000, 'watch resynced');
    expect(await a.deleteLeader()).toBe(true);
    await eventually(() => wakes.find((v) => v.leader === undefined), 5000, 'wake after recovery');
    stop();
  });
});

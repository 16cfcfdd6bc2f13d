import { PgToolsError } from '@pgtools/core';
import { startEtcd, type EtcdCluster } from '@pgtools/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterView, EtcdDcs } from '../src/index.js';
import { dcsFactory, eventually, memberData, sleep, uniqueScope } from './support.js';

// One scenario on a 3-member etcd cluster, in order: race, lose one etcd member, fail over on the
// two that remain, lose quorum.
let etcd: EtcdCluster;
let factory: ReturnType<typeof dcsFactory>;

beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
  factory = dcsFactory({ hosts: etcd.hosts });
});

afterAll(async () => {
  await factory?.closeAll();
  await etcd?.destroy();
});

const rotate = <T>(list: T[], by: number): T[] => [...list.slice(by), ...list.slice(0, by)];

async function timed<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = Date.now();
  try {
    return { value: await fn(), ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

describe('EtcdDcs on a 3-member etcd cluster', () => {
  const scope = uniqueScope('ha');
  const ttl = 3;
  const callTimeoutMs = 2500;
  let nodes: EtcdDcs[] = [];
  let leader: EtcdDcs;
  const wakes: ClusterView[] = [];

  it('elects exactly one leader among three members using different etcd hosts', async () => {
    nodes = [1, 2, 3].map((i) => factory.make({ scope, name: `node${i}`, ttl, callTimeoutMs, hosts: rotate(etcd.hosts, i - 1) }));
    await Promise.all(nodes.map((n, i) => n.touchMember(memberData(5432 + i, 'replica', 100))));
    const results = await Promise.all(nodes.map((n) => n.attemptToAcquireLeader()));
    expect(results.filter(Boolean)).toHaveLength(1);
    leader = nodes[results.indexOf(true)] as EtcdDcs;
    const view = await (nodes[2] as EtcdDcs).loadCluster();
    expect(view.leader?.name).toBe(leader.name);
    expect(view.members.map((m) => m.name)).toEqual(['node1', 'node2', 'node3']);
  });

  it('keeps working within the deadline when one etcd member stops', async () => {
    const observer = nodes.find((n) => n !== leader) as EtcdDcs;
    observer.watch((view) => wakes.push(view));
    await eventually(() => observer.cachedView(), 5000, 'cache ready');

    // A stopping etcd member may take seconds to close its streams (a watch may be on it), longer
    // than the ttl: the leader keeps refreshing meanwhile, as a real one would, and every refresh must hold.
    const refreshes: boolean[] = [];
    let stopped = false;
    const keeper = (async () => {
      while (!stopped) {
        refreshes.push(await leader.updateLeader());
        await sleep(500);
      }
    })();
    await etcd.members[0]?.stop();
    stopped = true;
    await keeper;
    expect(refreshes.length).toBeGreaterThan(0);
    expect(refreshes.every(Boolean)).toBe(true);
    for (let i = 0; i < 4; i++) {
      const calls: Array<() => Promise<unknown>> = [
        () => leader.updateLeader(),
        () => leader.loadCluster(),
        () => observer.touchMember(memberData(5440, 'replica', 200 + i)),
      ];
      for (const call of calls) {
        const result = await timed(call);
        expect(result.error).toBeUndefined();
        expect(result.ms).toBeLessThan(callTimeoutMs);
        if (call === calls[0]) expect(result.value).toBe(true);
      }
    }
    expect(await leader.updateLeader()).toBe(true);
    // The watch survives (or re-establishes itself on another member) and still wakes on a leader change.
    expect(await leader.deleteLeader()).toBe(true);
    await eventually(() => wakes.find((v) => v.leader === undefined), 15_000, 'wake on released leader key');
    expect(await leader.attemptToAcquireLeader()).toBe(true);
    await eventually(() => wakes.find((v) => v.leader?.name === leader.name), 15_000, 'wake on leader back');
  });

  it('hands the key to another member after ttl when the leader stops refreshing (two etcd members left)', async () => {
    const others = nodes.filter((n) => n !== leader);
    const stalledAt = Date.now();
    expect(await leader.updateLeader()).toBe(true);
    let winner: EtcdDcs | undefined;
    for (let i = 0; i < 60 && !winner; i++) {
      await sleep(150);
      for (const n of others) {
        // A member whose keepalive is not due yet must keep its member key alive too.
        await n.touchMember(memberData(5450, 'replica', 300));
        if (await n.attemptToAcquireLeader()) {
          winner = n;
          break;
        }
      }
    }
    expect(winner).toBeDefined();
    expect(Date.now() - stalledAt).toBeGreaterThanOrEqual(ttl * 1000 - 500);
    expect(await leader.updateLeader()).toBe(false);
    const view = await (winner as EtcdDcs).loadCluster();
    expect(view.leader?.name).toBe(winner?.name);
    leader = winner as EtcdDcs;
  });

  it('fails writes with dcs_unavailable within the deadline once quorum is lost', async () => {
    await etcd.members[1]?.stop();
    for (const call of [() => leader.updateLeader(), () => leader.setStatus({ optime: 12345 }), () => leader.attemptToAcquireLeader()]) {
      const result = await timed(call);
      expect(result.error).toBeInstanceOf(PgToolsError);
      expect((result.error as PgToolsError).code, (result.error as Error).message).toBe('dcs_unavailable');
      expect(result.ms).toBeLessThan(callTimeoutMs + 700);
    }
  });
});

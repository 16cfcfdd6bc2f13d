import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatScenarioSummary,
  healNode,
  partitionNode,
  runScenario,
  startScenarioCluster,
  waitForNewPrimary,
  type ScenarioCluster,
  type ScenarioResult,
} from '../src/index.js';

// Scenario 1 of issue 6: network loss (real cuts: each node in its own network namespace, its veth
// link to the bridge set down), of a replica, of the primary, of the primary and a replica at once.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let cluster: ScenarioCluster;
const results: ScenarioResult[] = [];

function acceptedBetween(r: ScenarioResult, from: number, to: number): string[] {
  return [...new Set(r.detector.acceptances.filter((a) => a.ackedAt >= from && a.ackedAt <= to).map((a) => a.node))];
}

beforeAll(async () => {
  cluster = await startScenarioCluster({ scope: 'netloss' });
}, 240_000);

afterAll(async () => {
  for (const r of results) console.log(formatScenarioSummary(r));
  await cluster?.destroy();
}, 120_000);

describe('network loss (network namespaces, ttl 10 / loop_wait 2 / retry_timeout 4)', () => {
  it('a replica cut off: no failover, no write lost, it streams again after the heal', async () => {
    const ttlMs = cluster.timings.ttl * 1000;
    const r = await runScenario(cluster, {
      name: 'replica network loss',
      fault: async ({ replicas }) => partitionNode(replicas[0]!),
      recover: async ({ replicas, marks }) => {
        await sleep(ttlMs + 5000);
        marks.healedAfterMs = ttlMs + 5000;
        await healNode(replicas[0]!);
      },
      lossBoundMs: 0,
    });
    results.push(r);
    console.log(formatScenarioSummary(r));
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(r.lostOutsideBound).toEqual([]);
    expect(r.leaderAfter).toBe(r.leaderBefore);
    expect(r.timelineAfter).toBe(r.timelineBefore);
  }, 240_000);

  it('the primary cut off: it stops accepting writes before a replica takes over; it rejoins as a replica', async () => {
    const ttlMs = cluster.timings.ttl * 1000;
    let newLeaderAt = 0;
    const r = await runScenario(cluster, {
      name: 'primary network loss',
      fault: async ({ leader }) => partitionNode(leader),
      recover: async (ctx) => {
        const faultAt = Date.now();
        newLeaderAt = (await waitForNewPrimary(ctx, ctx.leader.name, faultAt, 60_000)) ?? 0;
        ctx.marks.newPrimaryAfterMs = newLeaderAt ? newLeaderAt - faultAt : 'none in 60 s';
        await sleep(3000);
        await healNode(ctx.leader);
      },
    });
    const oldLast = r.detector.acceptances
      .filter((a) => a.node === r.leaderBefore && a.ackedAt > r.faultAt)
      .map((a) => a.ackedAt)
      .at(-1);
    r.marks.oldPrimaryLastWriteAfterMs = oldLast ? oldLast - r.faultAt : 'none after the cut';
    results.push(r);
    console.log(formatScenarioSummary(r));
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(r.lostOutsideBound).toEqual([]);
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    // The isolated leader must give up writes before its lease (ttl from its last refresh) can expire.
    if (oldLast !== undefined) expect(oldLast - r.faultAt).toBeLessThan(ttlMs);
  }, 240_000);

  it('the primary and a replica cut off at once: the last node has no etcd quorum, nobody accepts writes; recovery after the heal', async () => {
    const ttlMs = cluster.timings.ttl * 1000;
    let healAt = 0;
    const r = await runScenario(cluster, {
      name: 'primary+replica network loss',
      fault: async ({ leader, replicas }) => {
        const at = await partitionNode(leader);
        await partitionNode(replicas[0]!);
        return at;
      },
      recover: async ({ leader, replicas }) => {
        await sleep(ttlMs + 10_000);
        healAt = Date.now();
        await healNode(replicas[0]!);
        await healNode(leader);
      },
    });
    results.push(r);
    console.log(formatScenarioSummary(r));
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(r.lostOutsideBound).toEqual([]);
    // From one ttl after the cut until the heal, no node may accept a write (no quorum anywhere).
    expect(acceptedBetween(r, r.faultAt + ttlMs, healAt)).toEqual([]);
  }, 240_000);
});

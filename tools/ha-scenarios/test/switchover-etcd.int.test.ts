import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatScenarioSummary, runScenario, startEtcdAgain, startScenarioCluster, stopEtcd, type ScenarioCluster, type ScenarioResult } from '../src/index.js';

// Scenarios 6 and 7 of issue 6: a planned switchover under load, and etcd gone for longer than ttl.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let cluster: ScenarioCluster;
const results: ScenarioResult[] = [];

function report(r: ScenarioResult): void {
  results.push(r);
  console.log(formatScenarioSummary(r));
}

beforeAll(async () => {
  cluster = await startScenarioCluster({ scope: 'planned' });
}, 240_000);

afterAll(async () => {
  for (const r of results) console.log(formatScenarioSummary(r));
  await cluster?.destroy();
}, 120_000);

describe('switchover and etcd loss (ttl 10 / loop_wait 2 / retry_timeout 4)', () => {
  it('(6) planned switchover under load (REST POST /switchover): the candidate leads, nothing lost', async () => {
    let candidate = '';
    const r = await runScenario(cluster, {
      name: 'switchover under load',
      fault: async ({ leader, replicas, marks }) => {
        candidate = replicas[0]!.name;
        const at = Date.now();
        const res = await leader.rest('POST', '/switchover', { leader: leader.name, candidate }, 60_000);
        marks.answer = `${res.status} ${res.body.trim()}`;
        marks.answeredAfterMs = Date.now() - at;
        return at;
      },
      lossBoundMs: 0,
    });
    report(r);
    expect(r.marks.answer).toMatch(/^200 /);
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(r.lostOutsideBound).toEqual([]);
    expect(r.leaderAfter).toBe(candidate);
  }, 240_000);

  it('(7) etcd down longer than ttl: the leader stops accepting writes within ttl; the cluster recovers by itself', async () => {
    const ttlMs = cluster.timings.ttl * 1000;
    let restartedAt = 0;
    const r = await runScenario(cluster, {
      name: 'etcd down for ttl + 8 s',
      fault: async () => stopEtcd(cluster.etcd),
      recover: async () => {
        await sleep(ttlMs + 8000);
        restartedAt = await startEtcdAgain(cluster.etcd);
      },
    });
    const last = r.detector.acceptances.filter((a) => a.ackedAt > r.faultAt && a.ackedAt < restartedAt).at(-1);
    r.marks.lastDirectWriteAfterMs = last ? last.ackedAt - r.faultAt : 'none after the stop';
    r.marks.convergedAfterEtcdBackMs = r.faultAt + r.recoveredAfterMs - restartedAt;
    report(r);
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(r.lostOutsideBound).toEqual([]);
    const accepted = r.detector.acceptances.filter((a) => a.ackedAt >= r.faultAt + ttlMs && a.ackedAt < restartedAt);
    expect(
      accepted.map((a) => `${a.node}@+${a.ackedAt - r.faultAt}ms`),
      'direct writes accepted from ttl after etcd stopped until it returned',
    ).toEqual([]);
  }, 240_000);
});

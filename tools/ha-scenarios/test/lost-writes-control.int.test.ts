import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatScenarioSummary,
  powerLoss,
  runScenario,
  startScenarioCluster,
  waitForNewPrimary,
  waitForSyncStandby,
  type ScenarioCluster,
  type ScenarioContext,
  type ScenarioResult,
} from '../src/index.js';

// Negative control for the lost-writes check: replication to both replicas stalls (the primary's
// WAL senders SIGSTOPped) for 2 s of writes, then the primary loses power. With asynchronous
// replication the writes acknowledged meanwhile must show up as lost; in synchronous mode the same
// fault must lose none (commits wait for the synchronous standby). A check that never finds a lost
// write would make every "0 lost" elsewhere meaningless.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let cluster: ScenarioCluster;

beforeAll(async () => {
  cluster = await startScenarioCluster({ scope: 'lostctl' });
}, 240_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

async function stalledReplicationThenPowerLoss(name: string): Promise<ScenarioResult> {
  let faultAt = 0;
  return runScenario(cluster, {
    name,
    fault: async ({ leader, marks }) => {
      const senders = (await leader.query<{ pid: number }>("SELECT pid FROM pg_stat_replication WHERE state = 'streaming'")).map((r) => r.pid);
      if (senders.length !== 2) throw new Error(`${leader.name} streams to ${senders.length} replicas, expected 2`);
      faultAt = Date.now();
      for (const pid of senders) process.kill(pid, 'SIGSTOP');
      await sleep(2000);
      // powerLoss SIGKILLs the postmaster's whole process tree, the stopped senders included.
      marks.powerLossAfterMs = (await powerLoss(leader)).at - faultAt;
      return faultAt;
    },
    recover: async (ctx: ScenarioContext) => {
      const promotedAt = await waitForNewPrimary(ctx, ctx.leader.name, faultAt, 90_000);
      ctx.marks.newPrimaryAfterMs = promotedAt ? promotedAt - faultAt : 'none in 90 s';
      ctx.leader.startAgent();
    },
    lossBoundMs: 0,
  });
}

describe('negative control: lost acknowledged writes (ttl 10 / loop_wait 2 / retry_timeout 4)', () => {
  it('asynchronous replication, replication stalled, then power loss of the primary: the writes acknowledged meanwhile are reported lost', async () => {
    const r = await stalledReplicationThenPowerLoss('stalled replication + power loss, asynchronous');
    console.log(formatScenarioSummary(r));
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    expect(r.lost.length).toBeGreaterThan(0);
    expect(r.lostOutsideBound.length).toBeGreaterThan(0);
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
  }, 300_000);

  it('the same fault in synchronous mode loses nothing', async () => {
    await cluster.setDynamicConfig({ synchronous_mode: true });
    await waitForSyncStandby(cluster);
    const r = await stalledReplicationThenPowerLoss('stalled replication + power loss, synchronous');
    console.log(formatScenarioSummary(r));
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    expect(r.lost).toEqual([]);
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
  }, 300_000);
});

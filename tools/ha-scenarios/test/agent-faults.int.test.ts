import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatScenarioSummary,
  runScenario,
  signalAgent,
  stallAgent,
  startScenarioCluster,
  waitForNewPrimary,
  waitForSyncStandby,
  type ScenarioCluster,
  type ScenarioResult,
} from '../src/index.js';

// Scenarios 4 and 5 of issue 6: the primary's agent killed or stalled while its PostgreSQL runs.
// The software fence must stop PostgreSQL before a replica can take over. Synchronous mode is on,
// so no acknowledged write may be lost at all.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let cluster: ScenarioCluster;
const results: ScenarioResult[] = [];

function report(r: ScenarioResult): void {
  results.push(r);
  console.log(formatScenarioSummary(r));
}

/** When the old primary last accepted a direct write, relative to the new primary's first. */
function handover(r: ScenarioResult): { oldLast: number | undefined; newFirst: number | undefined } {
  const old = r.detector.acceptances.filter((a) => a.node === r.leaderBefore && a.ackedAt >= r.faultAt).map((a) => a.ackedAt);
  const fresh = r.detector.acceptances.filter((a) => a.node === r.leaderAfter && a.ackedAt >= r.faultAt).map((a) => a.ackedAt);
  return { oldLast: old.length ? Math.max(...old) : undefined, newFirst: fresh.length ? Math.min(...fresh) : undefined };
}

beforeAll(async () => {
  cluster = await startScenarioCluster({ scope: 'agentfault', synchronousMode: true });
}, 240_000);

afterAll(async () => {
  for (const r of results) console.log(formatScenarioSummary(r));
  await cluster?.destroy();
}, 120_000);

describe('agent faults on the primary, synchronous mode (ttl 10 / loop_wait 2 / retry_timeout 4)', () => {
  it('(4) agent SIGKILL on the primary: the fence stops PostgreSQL at once, a replica takes over, nothing lost, no split brain', async () => {
    let killedAt = 0;
    await waitForSyncStandby(cluster);
    const r = await runScenario(cluster, {
      name: 'agent SIGKILL on the primary',
      fault: async ({ leader }) => {
        signalAgent(leader, 'SIGKILL');
        killedAt = Date.now();
        return killedAt;
      },
      recover: async (ctx) => {
        const promotedAt = await waitForNewPrimary(ctx, ctx.leader.name, killedAt, 60_000);
        ctx.marks.newPrimaryAfterMs = promotedAt ? promotedAt - killedAt : 'none in 60 s';
        await ctx.leader.agent?.exited;
        ctx.leader.startAgent();
      },
      lossBoundMs: 0,
    });
    const h = handover(r);
    r.marks.oldPrimaryLastWriteAfterMs = h.oldLast !== undefined ? h.oldLast - killedAt : 'none';
    report(r);
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(r.lost).toEqual([]);
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    // The fence acts on the agent's death, not on a timeout: well within a second.
    if (h.oldLast !== undefined) expect(h.oldLast - killedAt).toBeLessThan(1000);
    expect(h.newFirst).toBeDefined();
    // Then it revokes the lease: the new primary does not wait for it. The lease was refreshed at
    // most loop_wait before the kill, so it could expire ttl - loop_wait (8 s) after it at the
    // earliest; a takeover well before that (the target is 2.5 s) is the revocation's doing.
    const leaseBound = (cluster.timings.ttl - cluster.timings.loopWait) * 1000;
    expect(typeof r.marks.newPrimaryAfterMs === 'number' ? r.marks.newPrimaryAfterMs : Infinity).toBeLessThan(leaseBound - 2000);
    expect(cluster.node(r.leaderBefore).fullLog()).toMatch(/fence/i);
  }, 300_000);

  it('(5) agent stalled (SIGSTOP) for less than retry_timeout: no failover, no demotion', async () => {
    const r = await runScenario(cluster, {
      name: 'agent stalled 3 s on the primary',
      fault: async ({ leader, marks }) => {
        const { stoppedAt, resumedAt } = await stallAgent(leader, (cluster.timings.retryTimeout - 1) * 1000);
        marks.stalledMs = resumedAt - stoppedAt;
        return stoppedAt;
      },
      recover: async () => sleep(2 * cluster.timings.loopWait * 1000),
      lossBoundMs: 0,
    });
    report(r);
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(r.lost).toEqual([]);
    expect(r.leaderAfter).toBe(r.leaderBefore);
    expect(r.timelineAfter).toBe(r.timelineBefore);
    expect(r.pgOutageMs).toBeLessThan(1000);
  }, 300_000);

  it('(5) agent stalled longer than ttl: fenced before the lease expires, a replica takes over, the agent rejoins as a replica on SIGCONT', async () => {
    let stoppedAt = 0;
    let stall: Promise<unknown> = Promise.resolve();
    await waitForSyncStandby(cluster);
    const r = await runScenario(cluster, {
      name: 'agent stalled 15 s on the primary',
      fault: async ({ leader }) => {
        stoppedAt = Date.now();
        // Resumes by itself (SIGCONT) at ttl + 5 s, while recovery is watched.
        stall = stallAgent(leader, (cluster.timings.ttl + 5) * 1000);
        return stoppedAt;
      },
      recover: async (ctx) => {
        const promotedAt = await waitForNewPrimary(ctx, ctx.leader.name, stoppedAt, 60_000);
        ctx.marks.newPrimaryAfterMs = promotedAt ? promotedAt - stoppedAt : 'none in 60 s';
        await stall;
      },
      lossBoundMs: 0,
    });
    const h = handover(r);
    r.marks.oldPrimaryLastWriteAfterMs = h.oldLast !== undefined ? h.oldLast - stoppedAt : 'none';
    report(r);
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(r.lost).toEqual([]);
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    expect(h.oldLast).toBeDefined();
    expect(h.newFirst).toBeDefined();
    expect(h.oldLast!).toBeLessThan(h.newFirst!);
    // Fenced at the lease's deadline minus the fence's margin, not before loop_wait + retry_timeout.
    const fencedAfter = h.oldLast! - stoppedAt;
    expect(fencedAfter).toBeGreaterThan((cluster.timings.retryTimeout - 1) * 1000);
    expect(fencedAfter).toBeLessThan(cluster.timings.ttl * 1000);
  }, 300_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatScenarioSummary, runScenario, signalAgent, startScenarioCluster, waitForNewPrimary, type ScenarioCluster } from '../src/index.js';

// Negative control for the split-brain detector: with the software fence turned off (what Patroni
// does without a watchdog device), killing the primary's agent leaves its PostgreSQL writable while
// a replica takes over. The detector must see two nodes accepting writes. A detector that never
// fires would make every "no split brain" elsewhere meaningless.
let cluster: ScenarioCluster;

beforeAll(async () => {
  cluster = await startScenarioCluster({ scope: 'fenceoff', softwareFence: false });
}, 240_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

describe('negative control: no fence (ttl 10 / loop_wait 2 / retry_timeout 4)', () => {
  it('agent SIGKILL on the primary without a fence: the old primary keeps accepting writes after the new one exists, and the detector says so', async () => {
    let killedAt = 0;
    const r = await runScenario(cluster, {
      name: 'agent SIGKILL on the primary, fence off',
      fault: async ({ leader }) => {
        signalAgent(leader, 'SIGKILL');
        killedAt = Date.now();
        return killedAt;
      },
      recover: async (ctx) => {
        const promotedAt = await waitForNewPrimary(ctx, ctx.leader.name, killedAt, 60_000);
        ctx.marks.newPrimaryAfterMs = promotedAt ? promotedAt - killedAt : 'none in 60 s';
        // Let both accept for a while, then bring the agent back: it demotes the orphan.
        await new Promise((res) => setTimeout(res, 3000));
        await ctx.leader.agent?.exited;
        ctx.leader.startAgent();
      },
      lossBoundMs: 0,
    });
    console.log(formatScenarioSummary(r));
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    expect(r.splitBrain).toBe(true);
    expect(r.evidence.join('\n')).toContain(r.leaderBefore);
  }, 300_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import {
  formatScenarioSummary,
  outageWindow,
  powerLoss,
  runScenario,
  startScenarioCluster,
  waitForNewPrimary,
  type ScenarioCluster,
  type ScenarioContext,
  type ScenarioNode,
  type ScenarioResult,
} from '../src/index.js';

// Issue 18 item 3 in the failure-scenario suite: quorum commit (`synchronous_mode: quorum`) on a
// primary and 3 replicas, real agents in their own network namespaces, a writer through HAProxy.
// Every acknowledged write is looked for on the final primary: none may be lost.
const SCOPE = 'quorum';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let cluster: ScenarioCluster;
const results: ScenarioResult[] = [];

function report(r: ScenarioResult): void {
  results.push(r);
  console.log(formatScenarioSummary(r));
}

interface SyncKey {
  leader: string | null;
  sync_standby: string | null;
  quorum?: number;
}

/** The `sync` key as etcd has it (read with etcdctl: any agent may be gone). */
async function syncKey(): Promise<SyncKey | undefined> {
  const text = await cluster.etcd.etcdctl(['get', '--print-value-only', `/service/${SCOPE}/sync`]);
  return text.trim() ? (JSON.parse(text) as SyncKey) : undefined;
}

/**
 * Waits until the key names the current leader with `voters` voters and `quorum`, and the leader's
 * `synchronous_standby_names` is `ANY k (...)`; returns the voters.
 */
async function waitForQuorum(voters: number, quorum: number, k: number): Promise<{ leader: ScenarioNode; voters: string[] }> {
  let last: SyncKey | undefined;
  let names = '';
  let leader: ScenarioNode | undefined;
  await waitFor(
    async () => {
      const { leader: name } = await cluster.converged({ timeoutMs: 60_000 }).catch(() => ({ leader: undefined }));
      leader = name ? cluster.node(name) : undefined;
      last = await syncKey();
      if (!leader) return false;
      const [row] = await leader.query<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s", [], 2000);
      names = row?.s ?? '';
      const listed = last?.sync_standby?.split(',') ?? [];
      return last?.leader === leader.name && listed.length === voters && (last.quorum ?? 0) === quorum && names.startsWith(`ANY ${k} (`);
    },
    { timeoutMs: 120_000, intervalMs: 500, describe: () => `sync key ${JSON.stringify(last)} / synchronous_standby_names ${names}` },
  );
  if (!leader) throw new Error('no leader');
  return { leader, voters: last?.sync_standby?.split(',') ?? [] };
}

/** Waits for the key alone (some nodes may be down, so no convergence). */
async function waitForKey(leader: string, voters: number, quorum: number): Promise<void> {
  let last: SyncKey | undefined;
  await waitFor(
    async () => {
      last = await syncKey();
      return last?.leader === leader && last.sync_standby?.split(',').length === voters && (last.quorum ?? 0) === quorum;
    },
    { timeoutMs: 60_000, intervalMs: 250, describe: () => `sync key ${JSON.stringify(last)}` },
  );
}

/** Waits (bounded) for a replica to take over from the primary that lost power at `lossAt`, then powers `nodes` back on. */
async function takeOverThenPowerOn(ctx: ScenarioContext, lossAt: number, nodes: ScenarioNode[]): Promise<void> {
  const promotedAt = await waitForNewPrimary(ctx, ctx.leader.name, lossAt, 90_000);
  ctx.marks.newPrimaryAfterMs = promotedAt ? promotedAt - lossAt : 'none in 90 s';
  for (const n of nodes) n.startAgent();
}

/** The primary's power loss cost no acknowledged write, a replica took over, never two primaries. */
function expectNothingLost(r: ScenarioResult): void {
  report(r);
  expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
  expect(r.lost).toEqual([]);
  expect(r.leaderAfter).not.toBe(r.leaderBefore);
}

beforeAll(async () => {
  cluster = await startScenarioCluster({ scope: SCOPE, dataNodes: 4, bootstrapTimeoutMs: 200_000 });
  await cluster.setDynamicConfig({ synchronous_mode: 'quorum', synchronous_node_count: 1 });
}, 300_000);

afterAll(async () => {
  for (const r of results) console.log(formatScenarioSummary(r));
  await cluster?.destroy();
}, 120_000);

describe('quorum commit, a primary and 3 replicas (ttl 10 / loop_wait 2 / retry_timeout 4)', () => {
  it('k = 1: power loss of the primary under writes through HAProxy: a replica takes over, 0 acknowledged writes lost, no split brain', async () => {
    const q = await waitForQuorum(3, 2, 1);
    expect(q.voters.sort()).toEqual(cluster.nodes.filter((n) => n !== q.leader).map((n) => n.name));
    let lossAt = 0;
    const r = await runScenario(cluster, {
      name: 'quorum k=1: primary power loss',
      fault: async ({ leader }) => {
        lossAt = (await powerLoss(leader)).at;
        return lossAt;
      },
      recover: (ctx) => takeOverThenPowerOn(ctx, lossAt, [ctx.leader]),
      lossBoundMs: 0,
      convergeTimeoutMs: 180_000,
    });
    expectNothingLost(r);
  }, 360_000);

  it('k = 2 at run time: power loss of a synchronous standby does not stop writes; then power loss of the primary loses 0 acknowledged writes', async () => {
    await cluster.setDynamicConfig({ synchronous_node_count: 2 });
    const q = await waitForQuorum(3, 1, 2);
    const standby = cluster.node(q.voters[0] ?? '');
    let primaryLossAt = 0;
    const r = await runScenario(cluster, {
      name: 'quorum k=2: synchronous standby power loss, then primary power loss',
      fault: async ({ leader, writer, marks }) => {
        const standbyLossAt = (await powerLoss(standby)).at;
        marks.standby = standby.name;
        // Writes through HAProxy go on: ANY 2 of the 2 voters left still confirm each commit.
        await waitFor(() => writer.acks.filter((a) => a.at > standbyLossAt + 500).length >= 20, {
          timeoutMs: 60_000,
          intervalMs: 100,
          describe: () => `writes acknowledged after ${standby.name} lost power (last error: ${writer.errors.at(-1)?.message})`,
        });
        // The key follows: 2 voters, quorum 0 (ANY 2 of 2).
        await waitForKey(leader.name, 2, 0);
        await sleep(1000);
        const gap = outageWindow(writer.acks, standbyLossAt, Date.now());
        marks.ackedAfterStandbyLoss = writer.acks.filter((a) => a.at > standbyLossAt).length;
        marks.standbyLossGapMs = gap.outageMs;
        console.log(
          `[measure] quorum k=2 (scenario suite): ${standby.name} (a synchronous standby) lost power, longest gap between acknowledged writes through HAProxy ${gap.outageMs} ms, ${marks.ackedAfterStandbyLoss} writes acknowledged after it`,
        );
        primaryLossAt = (await powerLoss(leader)).at;
        return primaryLossAt;
      },
      recover: (ctx) => takeOverThenPowerOn(ctx, primaryLossAt, [standby, ctx.leader]),
      lossBoundMs: 0,
      convergeTimeoutMs: 180_000,
    });
    expectNothingLost(r);
    expect(r.leaderAfter).not.toBe(standby.name);
    expect(r.marks.ackedAfterStandbyLoss).toBeGreaterThanOrEqual(20);
  }, 420_000);
});

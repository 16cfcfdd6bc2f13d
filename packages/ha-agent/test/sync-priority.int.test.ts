import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { HaCluster, sql, type HaNode } from './ha-cluster.js';

// tags.sync_priority on real servers in synchronous mode: the leader names the replica with the
// higher priority as its synchronous standby; priority 0 is never named.
let cluster: HaCluster;
let leader: HaNode;
// Whichever node leads, the highest priority among the others is never the first by name, which
// is what would be chosen without priorities.
const priority: Record<string, number> = { node1: 1, node2: 2, node3: 5 };

const syncStandby = async (): Promise<string | null | undefined> => (await leader.agent.dcs.loadCluster()).sync?.value.sync_standby;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'sync-priority', synchronousMode: true, tags: (name) => ({ sync_priority: priority[name] ?? 1 }) });
  leader = await cluster.waitForHealthy(cluster.nodes, 120_000);
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
});

describe('tags.sync_priority', () => {
  it('the replica with the higher priority becomes the synchronous standby', async () => {
    const others = cluster.nodes.filter((n) => n !== leader).map((n) => n.name);
    const expected = [...others].sort((a, b) => (priority[b] ?? 1) - (priority[a] ?? 1))[0];
    expect(expected).not.toBe([...others].sort()[0]);
    await waitFor(async () => (await syncStandby()) === expected, { timeoutMs: 60_000, describe: () => `the sync key names ${expected}` });
    await waitFor(
      async () => {
        const rows = await sql<{ application_name: string }>(leader.pgPort, "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'");
        return rows.length === 1 && rows[0]?.application_name === expected;
      },
      { timeoutMs: 30_000, describe: () => `${expected} is the sync standby in pg_stat_replication` },
    );
  });
});

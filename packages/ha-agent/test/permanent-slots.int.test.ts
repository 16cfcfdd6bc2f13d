import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, sql, type HaNode } from './ha-cluster.js';

// Permanent physical slots on every member, changed at runtime through the `config` key (PATCH
// /config, what `hactl edit-config` writes), ignore_slots, member_slots_ttl and use_slots: false.

const DCS = '    slots: {archiver: {type: physical}, keepme: {type: physical}}\n';
let cluster: HaCluster;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'haslots', editYaml: (yaml) => yaml.replace(/( {4}retry_timeout: \d+\n)/, `$1${DCS}`) });
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

async function slotsOn(node: HaNode): Promise<string[]> {
  return (await sql<{ slot_name: string }>(node.pgPort, 'SELECT slot_name FROM pg_replication_slots ORDER BY 1').catch(() => [])).map((r) => r.slot_name);
}

async function waitForSlots(nodes: HaNode[], check: (slots: string[], node: HaNode) => boolean, what: string): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const all = await Promise.all(nodes.map(async (n) => [n, await slotsOn(n)] as const));
      last = all.map(([n, s]) => `${n.name}: ${s.join(',')}`).join('; ');
      return all.every(([n, s]) => check(s, n));
    },
    { timeoutMs: 60_000, intervalMs: 500, describe: () => `${what} (now ${last})` },
  );
}

async function patch(node: HaNode, body: unknown): Promise<void> {
  expect((await api(node, 'PATCH', '/config', body)).status).toBe(200);
}

describe('permanent physical slots, ignore_slots, member_slots_ttl', () => {
  let leader: HaNode;

  it('bootstrap.dcs slots exist on the leader and on every replica; the leader publishes them in status', async () => {
    leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    await waitForSlots(cluster.nodes, (s) => s.includes('archiver') && s.includes('keepme'), 'archiver and keepme on every member');
    const status = JSON.parse(await cluster.etcd.etcdctl(['get', '--print-value-only', '/service/haslots/status'])) as Record<string, unknown>;
    expect(Object.keys(status.slots as object)).toEqual(
      expect.arrayContaining(['archiver', 'keepme', ...cluster.nodes.filter((n) => n !== leader).map((n) => n.name)]),
    );
    expect((status.retain_slots as string[]).sort()).toEqual(cluster.nodes.filter((n) => n !== leader).map((n) => n.name));
  });

  it('changed at runtime: a new slot is created everywhere, a removed one dropped, one ignore_slots matches kept', async () => {
    // A slot made by hand is not the agent's: it stays whatever the configuration says.
    await sql(leader.pgPort, "SELECT pg_create_physical_replication_slot('by_hand', true)");
    // PATCH semantics: null deletes a key.
    await patch(leader, { slots: { archiver: null, keepme: null, dr_site: { type: 'physical' } }, ignore_slots: [{ name: 'keepme', type: 'physical' }] });
    await waitForSlots(cluster.nodes, (s) => s.includes('dr_site') && !s.includes('archiver'), 'dr_site everywhere, archiver dropped everywhere');
    for (const n of cluster.nodes) expect(await slotsOn(n)).toContain('keepme');
    expect(await slotsOn(leader)).toContain('by_hand');
  });

  it("member_slots_ttl: a departed member's slot is kept for the TTL, then dropped", async () => {
    const gone = cluster.nodes.find((n) => n !== leader)!;
    await gone.agent.stop();
    await waitFor(async () => Object.keys(await cluster.memberKey(gone.name)).length === 0, {
      timeoutMs: 30_000,
      describe: () => `${gone.name}'s member key gone`,
    });
    // The default 30 min: still there several loops later.
    await new Promise((r) => setTimeout(r, 4 * cluster.timings.loopWait * 1000));
    expect(await slotsOn(leader)).toContain(gone.name);
    // A leader that never saw the member (a new agent, switched over to) keeps its slot from
    // `status.retain_slots`, as Patroni does on taking the key.
    const other = cluster.nodes.find((n) => n !== leader && n !== gone)!;
    await other.agent.stop();
    other.agent = cluster.newAgent(other);
    await other.agent.start();
    await cluster.waitForHealthy([leader, other], 90_000);
    let answer = '';
    await waitFor(
      async () => {
        const res = await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: other.name });
        answer = `${res.status} ${res.text}`;
        return res.status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 1000, describe: () => `the switchover accepted (last answer: ${answer})` },
    );
    expect(await cluster.waitForHealthy([leader, other], 90_000)).toBe(other);
    await waitForSlots([other], (s) => s.includes(gone.name), `${gone.name}'s slot on the new leader`);
    const t0 = Date.now();
    await patch(other, { member_slots_ttl: '5s' });
    await waitForSlots([other], (s) => !s.includes(gone.name), `${gone.name}'s slot dropped`);
    console.log(`[measure] member_slots_ttl 5s: the departed member's slot dropped ${((Date.now() - t0) / 1000).toFixed(1)} s after the change`);
  });

  it('use_slots: false: no permanent slot is kept (as Patroni: the ones it made are dropped), none created', async () => {
    const running = cluster.nodes.filter((x) => x.agent.role !== 'stopped');
    await patch(leader, { postgresql: { use_slots: false }, slots: { late: { type: 'physical' } } });
    await waitForSlots(running, (s) => !s.includes('dr_site'), 'dr_site dropped everywhere');
    await new Promise((r) => setTimeout(r, 3 * cluster.timings.loopWait * 1000));
    for (const n of running) expect(await slotsOn(n)).not.toContain('late');
    // ignore_slots still protects keepme; the slot made by hand is not the agent's.
    for (const n of running) expect(await slotsOn(n)).toContain('keepme');
    expect(await slotsOn(leader)).toContain('by_hand');
  });
});

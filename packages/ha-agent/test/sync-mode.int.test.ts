import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, patroni, powerLoss, sql, timingsFromEnv, Writer, type HaNode } from './ha-cluster.js';

// Synchronous mode, with its negative control: the same fault (replication to both replicas stalled,
// then the primary loses power) loses acknowledged writes with asynchronous replication and none in
// synchronous mode. A detector that never sees a loss proves nothing; this one is shown to see it.
const timings = timingsFromEnv();
let cluster: HaCluster;
let nextId = 1;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'hasync', timings });
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

/** The primary's WAL senders: stalling them stalls replication (a stopped WAL receiver would not: its socket keeps buffering). */
async function walSenderPids(primary: HaNode): Promise<number[]> {
  const rows = await sql<{ pid: number }>(primary.pgPort, "SELECT pid FROM pg_stat_replication WHERE state = 'streaming'");
  if (rows.length !== 2) throw new Error(`${primary.name} streams to ${rows.length} replicas, expected 2`);
  return rows.map((r) => r.pid);
}

async function syncKey(node: HaNode): Promise<{ leader: string | null; sync_standby: string | null } | undefined> {
  return (await node.agent.dcs.loadCluster()).sync?.value;
}

async function patchConfig(node: HaNode, body: unknown): Promise<void> {
  expect((await api(node, 'PATCH', '/config', body)).status).toBe(200);
}

/**
 * Writes through the primary, stalls replication to both replicas (WAL senders SIGSTOPped) for 2 s
 * of writes, cuts the primary's power (postmaster group SIGKILL, agent gone), waits for a new
 * leader, and counts the acknowledged writes it lacks. The old node then rejoins.
 */
async function stalledReplicasThenPowerLoss(): Promise<{ acked: number; ackedWhileStalled: number; lost: number[]; oldLeader: HaNode; newLeader: HaNode }> {
  const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
  const replicas = cluster.nodes.filter((n) => n !== leader);
  let killed = false;
  const writer = new Writer(() => cluster.nodes.filter((n) => n !== leader || !killed), nextId, 50).start();
  await waitFor(() => writer.acks.length >= 10, { timeoutMs: 20_000, describe: () => 'writer running' });
  const senders = await walSenderPids(leader);
  const stalledAt = Date.now();
  for (const pid of senders) process.kill(pid, 'SIGSTOP');
  await new Promise((r) => setTimeout(r, 2000));
  // Backends run in process groups of their own, and a stopped sender cannot notice its postmaster's
  // death: they are killed by PID with it.
  for (const pid of senders) process.kill(pid, 'SIGKILL');
  await powerLoss(leader);
  killed = true;
  const newLeader = await cluster.waitForHealthy(replicas, (timings.ttl + 6 * timings.loopWait + 40) * 1000);
  await writer.stop();
  nextId += writer.acks.length + 1000;
  const ackedOld = writer.acks.filter((a) => a.node === leader.name).map((a) => a.id);
  const present = new Set((await sql<{ id: number }>(newLeader.pgPort, 'SELECT id FROM ha_probe WHERE id = ANY($1)', [ackedOld])).map((r) => r.id));
  const lost = ackedOld.filter((id) => !present.has(id));
  const ackedWhileStalled = writer.acks.filter((a) => a.node === leader.name && a.at > stalledAt).length;

  leader.events.length = 0;
  leader.agent = cluster.newAgent(leader);
  await leader.agent.start();
  expect(await cluster.waitForHealthy(cluster.nodes, 90_000)).toBe(newLeader);
  return { acked: writer.acks.length, ackedWhileStalled, lost, oldLeader: leader, newLeader };
}

describe(`synchronous mode (ttl ${timings.ttl} / loop_wait ${timings.loopWait})`, () => {
  it('negative control: asynchronous replication with stalled replicas loses the writes acknowledged meanwhile', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    await sql(leader.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
    const r = await stalledReplicasThenPowerLoss();
    console.log(`[measure] asynchronous: ${r.ackedWhileStalled} writes acknowledged while the replicas stalled, ${r.lost.length} of them lost on failover`);
    expect(r.ackedWhileStalled).toBeGreaterThan(5);
    expect(r.lost.length).toBeGreaterThan(0);
  });

  it('turned on at run time: the leader names one streaming standby in the sync key only once PostgreSQL waits for it', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    await patchConfig(leader, { synchronous_mode: true });
    await waitFor(async () => (await syncKey(leader))?.sync_standby != null, { timeoutMs: 30_000, describe: () => 'a synchronous standby in the sync key' });
    const key = (await syncKey(leader))!;
    expect(key.leader).toBe(leader.name);
    const standby = cluster.byName(key.sync_standby!);
    expect(standby).not.toBe(leader);
    const rows = await sql<{ application_name: string; sync_state: string }>(leader.pgPort, 'SELECT application_name, sync_state FROM pg_stat_replication');
    expect(rows.find((x) => x.application_name === standby.name)?.sync_state).toBe('sync');
    expect((await sql<{ s: string }>(leader.pgPort, "SELECT current_setting('synchronous_standby_names') AS s"))[0]!.s).toBe(`"${standby.name}"`);
    const other = cluster.nodes.find((n) => n !== leader && n !== standby)!;
    // Each member sees the key at its next cycle (the etcd watch wakes it).
    await waitFor(async () => (await fetch(`http://127.0.0.1:${standby.apiPort}/sync`)).status === 200, {
      timeoutMs: 10_000,
      describe: () => 'GET /sync 200 on the sync standby',
    });
    expect((await fetch(`http://127.0.0.1:${other.apiPort}/sync`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${other.apiPort}/async`)).status).toBe(200);
    const roles = ((await (await fetch(`http://127.0.0.1:${leader.apiPort}/cluster`)).json()) as { members: Array<{ name: string; role: string }> }).members;
    expect(roles.find((m) => m.name === standby.name)?.role).toBe('sync_standby');
  });

  it('the same fault in synchronous mode loses no acknowledged write, and only the synchronous standby takes over', async () => {
    const before = (await syncKey(cluster.nodes[0]!))!;
    const r = await stalledReplicasThenPowerLoss();
    console.log(`[measure] synchronous: ${r.ackedWhileStalled} writes acknowledged while the replicas stalled, ${r.lost.length} lost on failover`);
    expect(r.oldLeader.name).toBe(before.leader);
    expect(r.newLeader.name).toBe(before.sync_standby);
    expect(r.lost).toEqual([]);
    // The new leader took the key before promoting, and assigns a standby again.
    await waitFor(async () => (await syncKey(r.newLeader))?.sync_standby != null, { timeoutMs: 30_000, describe: () => 'a new synchronous standby' });
    expect((await syncKey(r.newLeader))!.leader).toBe(r.newLeader.name);
    expect((await patroni(r.oldLeader)).role).toBe('replica');
  });

  it('turned off: the sync key is removed and commits no longer wait', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    await patchConfig(leader, { synchronous_mode: false });
    await waitFor(async () => (await syncKey(leader)) === undefined, { timeoutMs: 30_000, describe: () => 'the sync key removed' });
    await waitFor(async () => (await sql<{ s: string }>(leader.pgPort, "SELECT current_setting('synchronous_standby_names') AS s"))[0]!.s === '', {
      timeoutMs: 10_000,
      describe: () => 'synchronous_standby_names cleared',
    });
  });
});

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { HaCluster, patroni, sql, timingsFromEnv, type HaNode } from './ha-cluster.js';

// The software fence wired into the agent: the agent of the primary is lost while PostgreSQL keeps
// running (what a SIGKILL or OOM kill of the agent does). Without a fence the old primary would go
// on accepting writes after a replica took over (Patroni without a watchdog does exactly that).
const timings = timingsFromEnv();
let cluster: HaCluster;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'hafence', timings });
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

async function acceptsWrites(node: HaNode): Promise<boolean> {
  try {
    await sql(node.pgPort, 'INSERT INTO fence_probe (node) VALUES ($1)', [node.name]);
    return true;
  } catch {
    return false;
  }
}

describe(`software fence in the agent (ttl ${timings.ttl} / loop_wait ${timings.loopWait})`, () => {
  it('armed on the primary only; the agent lost while PostgreSQL runs: PostgreSQL stopped before the lease can expire, never two writable primaries', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    await sql(leader.pgPort, 'CREATE TABLE fence_probe (id bigserial PRIMARY KEY, node text, at timestamptz DEFAULT clock_timestamp())');
    await waitFor(() => leader.events.some((e) => e.type === 'fence' && e.event.type === 'armed'), {
      timeoutMs: 20_000,
      describe: () => 'the fence armed on the leader',
    });
    for (const n of cluster.nodes.filter((x) => x !== leader)) {
      expect(n.events.some((e) => e.type === 'fence' && e.event.type === 'armed')).toBe(false);
    }
    const leaseEnd = leader.agent.leaderLeaseExpiresAt!;
    expect(leaseEnd).toBeGreaterThan(Date.now());

    const rest = cluster.nodes.filter((n) => n !== leader);
    const pm = leader.agent.pg.postmaster!.pid;
    const lostAt = Date.now();
    await leader.agent.abandon();
    // Direct writes to every node, every 50 ms, from the loss until a new leader accepts them.
    const accepted: Array<{ node: string; at: number }> = [];
    const deadline = lostAt + (timings.ttl + 4 * timings.loopWait + 30) * 1000;
    let oldStoppedAt: number | undefined;
    while (Date.now() < deadline) {
      const round = await Promise.all(cluster.nodes.map(async (n) => ({ node: n.name, ok: await acceptsWrites(n), at: Date.now() })));
      for (const r of round) if (r.ok) accepted.push({ node: r.node, at: r.at });
      if (oldStoppedAt === undefined && !round.find((r) => r.node === leader.name)!.ok) oldStoppedAt = Date.now();
      if (round.some((r) => r.ok && r.node !== leader.name)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const firstNew = accepted.find((a) => a.node !== leader.name);
    expect(firstNew, 'a replica took over').toBeDefined();
    const lastOld = accepted.filter((a) => a.node === leader.name).at(-1);
    expect(oldStoppedAt).toBeDefined();
    // The fence acts on the agent's death at once, far ahead of the lease.
    expect(oldStoppedAt!).toBeLessThan(leaseEnd - 1000);
    if (lastOld) expect(lastOld.at).toBeLessThan(firstNew!.at);
    expect(accepted.filter((a) => a.node === leader.name && a.at >= firstNew!.at)).toEqual([]);
    expect(() => process.kill(pm, 0)).toThrow();
    // The stop proven, the fence revoked the lease: the takeover did not wait for it.
    expect(leader.events.some((e) => e.type === 'fence' && e.event.type === 'revoked')).toBe(true);
    expect(firstNew!.at).toBeLessThan(leaseEnd);
    console.log(
      `[measure] agent lost on the primary: PostgreSQL stopped ${((oldStoppedAt! - lostAt) / 1000).toFixed(2)} s after, ` +
        `${((leaseEnd - oldStoppedAt!) / 1000).toFixed(1)} s before the lease could expire; new primary after ${((firstNew!.at - lostAt) / 1000).toFixed(1)} s`,
    );

    const newLeader = await cluster.waitForHealthy(rest, 60_000);
    // The old node's agent comes back: it rejoins as a replica.
    leader.events.length = 0;
    leader.agent = cluster.newAgent(leader);
    await leader.agent.start();
    expect(await cluster.waitForHealthy(cluster.nodes, 90_000)).toBe(newLeader);
    expect((await patroni(leader)).role).toBe('replica');
  });

  it('negative control: the postmaster already gone when the fence acts (nothing to prove): no revocation, failover waits for the lease', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    await waitFor(() => leader.events.some((e) => e.type === 'fence' && e.event.type === 'armed'), {
      timeoutMs: 20_000,
      describe: () => 'the fence armed on the leader',
    });
    const rest = cluster.nodes.filter((n) => n !== leader);
    const before = leader.events.length;
    // Postmaster and agent lost together: the fence finds no postmaster whose stop it could prove
    // (its children were already orphaned), so it must not take the lease away. The postmaster must
    // be dead before the fence looks: this waits, without yielding to the event loop (so the agent
    // neither reaps it nor sees its death), until it is a zombie, then loses the agent in the same tick.
    const leaseEnd = leader.agent.leaderLeaseExpiresAt!;
    const pm = leader.agent.pg.postmaster!.pid;
    process.kill(pm, 'SIGKILL');
    const dead = (): boolean => {
      try {
        return /\) Z /.test(readFileSync(`/proc/${pm}/stat`, 'utf8'));
      } catch {
        return true; // already reaped
      }
    };
    const until = Date.now() + 5000;
    while (!dead() && Date.now() < until);
    expect(dead()).toBe(true);
    await leader.agent.abandon();
    await waitFor(() => leader.events.slice(before).some((e) => e.type === 'fence' && e.event.type === 'skipped'), {
      timeoutMs: 10_000,
      describe: () => 'the fence skipped',
    });
    let firstNewAt: number | undefined;
    while (firstNewAt === undefined && Date.now() < leaseEnd + 60_000) {
      const writable = await Promise.all(rest.map(acceptsWrites));
      if (writable.some(Boolean)) firstNewAt = Date.now();
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect(firstNewAt, 'a replica took over').toBeDefined();
    expect(leader.events.slice(before).some((e) => e.type === 'fence' && (e.event.type === 'revoked' || e.event.type === 'revoke_failed'))).toBe(false);
    console.log(`[measure] postmaster and agent lost together: new primary ${((firstNewAt! - leaseEnd) / 1000).toFixed(1)} s after the lease could expire`);
    // etcd counts the lease from when the refresh arrived, never earlier than the agent's estimate.
    expect(firstNewAt!).toBeGreaterThanOrEqual(leaseEnd);
    const newLeader = await cluster.waitForHealthy(rest, 60_000);

    leader.events.length = 0;
    leader.agent = cluster.newAgent(leader);
    await leader.agent.start();
    expect(await cluster.waitForHealthy(cluster.nodes, 120_000)).toBe(newLeader);
  });

  it('disarmed in pause: losing the agent then leaves the primary running, as an operator in maintenance expects', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    // Only events after the request count: an earlier disarm must not pass for this one.
    const before = leader.events.length;
    const res = await fetch(`http://127.0.0.1:${leader.apiPort}/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pause: true }),
    });
    expect(res.status).toBe(200);
    await waitFor(() => leader.events.slice(before).some((e) => e.type === 'fence' && e.event.type === 'disarmed'), {
      timeoutMs: 20_000,
      describe: () => 'the fence disarmed in pause',
    });
    await leader.agent.abandon();
    await new Promise((r) => setTimeout(r, 2000));
    expect(await acceptsWrites(leader)).toBe(true);

    leader.events.length = 0;
    leader.agent = cluster.newAgent(leader);
    await leader.agent.start();
    const resume = await fetch(`http://127.0.0.1:${leader.apiPort}/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pause: null }),
    });
    expect(resume.status).toBe(200);
    expect(await cluster.waitForHealthy(cluster.nodes, 60_000)).toBe(leader);
    await waitFor(() => leader.events.some((e) => e.type === 'fence' && e.event.type === 'armed'), {
      timeoutMs: 20_000,
      describe: () => 'armed again after resume',
    });
  });
});

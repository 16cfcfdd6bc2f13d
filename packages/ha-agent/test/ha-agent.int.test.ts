import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { HaCluster, patroni, sql, type HaNode } from './ha-cluster.js';

// Three agents in this process, a real 3-member etcd, real PostgreSQL 15; CI timings 10/2/4.
let cluster: HaCluster;
let nodes: HaNode[];

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'hatest', timings: { ttl: 10, loopWait: 2, retryTimeout: 4 } });
  nodes = cluster.nodes;
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

describe('HaAgent with three nodes (ttl 10, loop_wait 2, retry_timeout 4)', () => {
  it('bootstraps one leader and two streaming replicas on the same timeline; a row reaches both replicas', async () => {
    const leader = await cluster.waitForHealthy(nodes, 90_000);
    expect(cluster.leaders()).toEqual([leader]);
    const replicas = nodes.filter((n) => n !== leader);
    for (const r of replicas) {
      expect(r.agent.role).toBe('replica');
      expect((await patroni(r)).role).toBe('replica');
    }
    expect((await patroni(leader)).role).toBe('master');
    const res = await fetch(`http://127.0.0.1:${leader.apiPort}/primary`, { method: 'OPTIONS' });
    expect(res.status).toBe(200);
    await sql(leader.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
    await sql(leader.pgPort, 'INSERT INTO ha_probe (id) VALUES (1)');
    for (const r of replicas) await cluster.waitForRow(r, 1);
    // One physical slot per replica on the leader.
    const slots = await sql<{ slot_name: string; active: boolean }>(leader.pgPort, 'SELECT slot_name, active FROM pg_replication_slots ORDER BY 1');
    expect(slots.map((s) => s.slot_name)).toEqual(replicas.map((r) => r.name).sort());
  });

  it('restarts a SIGKILLed postmaster as primary in place, without failover', async () => {
    const leader = await cluster.waitForHealthy(nodes);
    const tlBefore = (await patroni(leader)).timeline;
    const pid = leader.agent.pg.postmaster!.pid;
    const acked: number[] = [];
    let stop = false;
    let id = 1000;
    const writer = (async () => {
      while (!stop) {
        try {
          await sql(leader.pgPort, 'INSERT INTO ha_probe (id) VALUES ($1)', [++id]);
          acked.push(Date.now());
        } catch {
          // outage
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await waitFor(() => acked.length >= 5, { timeoutMs: 10_000 });
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => acked.some((t) => t > killedAt + 200), { timeoutMs: 60_000, intervalMs: 100, describe: () => 'a write after the kill' });
    stop = true;
    await writer;
    const after = acked.filter((t) => t >= killedAt - 1000);
    let gap = 0;
    for (let i = 1; i < after.length; i++) gap = Math.max(gap, after[i]! - after[i - 1]!);
    console.log(`[measure] postmaster SIGKILL on the leader: write outage ${(gap / 1000).toFixed(2)} s (ttl 10 / loop_wait 2)`);
    expect(cluster.leaders()).toEqual([leader]);
    expect(leader.agent.pg.postmaster!.pid).not.toBe(pid);
    expect(leader.events.some((e) => e.type === 'postmaster_exited' && e.pid === pid)).toBe(true);
    expect(nodes.filter((n) => n !== leader).every((n) => !n.events.some((e) => e.type === 'promoted'))).toBe(true);
    const healthy = await cluster.waitForHealthy(nodes);
    expect(healthy).toBe(leader);
    expect((await patroni(leader)).timeline).toBe(tlBefore);
  });

  it('switches over to a named candidate through POST /switchover; the old primary follows', async () => {
    const old = await cluster.waitForHealthy(nodes);
    const candidate = nodes.find((n) => n !== old)!;
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
    });
    const body = await res.text();
    console.log(`[measure] switchover ${old.name} -> ${candidate.name}: REST answered in ${((Date.now() - t0) / 1000).toFixed(2)} s: ${res.status} ${body}`);
    expect(res.status).toBe(200);
    expect(body).toBe(`Successfully switched over to "${candidate.name}"`);
    const leader = await cluster.waitForHealthy(nodes);
    expect(leader).toBe(candidate);
    expect(old.agent.role).toBe('replica');
    await sql(candidate.pgPort, 'INSERT INTO ha_probe (id) VALUES (2)');
    for (const n of nodes.filter((x) => x !== candidate)) await cluster.waitForRow(n, 2);
    const history = (await (await fetch(`http://127.0.0.1:${candidate.apiPort}/history`)).json()) as unknown[][];
    expect(history.at(-1)?.[4]).toBe(candidate.name);
  });

  it('hands over promptly when the leader agent stops (SIGTERM semantics)', async () => {
    const old = await cluster.waitForHealthy(nodes);
    const t0 = Date.now();
    await old.agent.stop();
    const stoppedAt = Date.now();
    const rest = nodes.filter((n) => n !== old);
    await waitFor(() => rest.some((n) => n.agent.holdsLeaderKey && n.agent.role === 'primary'), {
      timeoutMs: 30_000,
      intervalMs: 100,
      describe: () => 'a new leader',
    });
    const newLeader = rest.find((n) => n.agent.holdsLeaderKey)!;
    await sql(newLeader.pgPort, 'INSERT INTO ha_probe (id) VALUES (3)');
    const writable = Date.now();
    console.log(
      `[measure] leader agent stop: stop() took ${((stoppedAt - t0) / 1000).toFixed(2)} s, new primary ${newLeader.name} writable ${((writable - t0) / 1000).toFixed(2)} s after stop() began`,
    );
    // Promptly = well before the old lease could have expired (ttl 10 s): the key was released.
    expect(writable - stoppedAt).toBeLessThan(8000);
    expect(old.agent.pg.isRunning).toBe(false);
    await cluster.waitForHealthy(rest);
    const other = rest.find((n) => n !== newLeader)!;
    await cluster.waitForRow(other, 3);
  });
});

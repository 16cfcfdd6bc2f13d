import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { HaCluster, patroni, sql, timingsFromEnv, Writer } from './ha-cluster.js';

// Write outage seen by a client committing every 50 ms, for a postmaster SIGKILL on the leader and a
// switchover. HA_TIMINGS=30/10/10 runs it at the seed article's timings (default 10/2/4).
const timings = timingsFromEnv();
const label = `ttl ${timings.ttl}/${timings.loopWait}/${timings.retryTimeout}`;
let cluster: HaCluster;
let writer: Writer;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'haoutage', timings });
  const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
  await sql(leader.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
  writer = new Writer(() => cluster.nodes, 1, 50).start();
}, 150_000);

afterAll(async () => {
  await writer?.stop();
  await cluster?.destroy();
}, 120_000);

async function lostWrites(): Promise<number> {
  const leader = await cluster.waitForHealthy();
  const ids = writer.acks.map((a) => a.id);
  const rows = await sql<{ n: string }>(leader.pgPort, 'SELECT count(*) AS n FROM ha_probe WHERE id = ANY($1)', [ids]);
  return ids.length - Number(rows[0]!.n);
}

describe(`write outage (${label})`, () => {
  it('postmaster SIGKILL on the leader: restarted in place, same leader and timeline', async () => {
    const leader = await cluster.waitForHealthy();
    await waitFor(() => writer.acks.length >= 20, { timeoutMs: 20_000 });
    const tl = (await patroni(leader)).timeline;
    const killedAt = Date.now();
    process.kill(leader.agent.pg.postmaster!.pid, 'SIGKILL');
    await waitFor(() => writer.acks.some((a) => a.at > killedAt + 500), { timeoutMs: 60_000, intervalMs: 100, describe: () => 'writes after the kill' });
    const { gapMs } = writer.maxGap(killedAt);
    console.log(`[measure] postmaster SIGKILL (${label}): write outage ${(gapMs / 1000).toFixed(2)} s`);
    expect(await cluster.waitForHealthy()).toBe(leader);
    expect((await patroni(leader)).timeline).toBe(tl);
    expect(await lostWrites()).toBe(0);
    // Restarted in place at once (the postmaster's death wakes the loop), not after a loop_wait or ttl.
    expect(gapMs).toBeLessThan(5000);
  });

  it('switchover through POST /switchover', async () => {
    const old = await cluster.waitForHealthy();
    const candidate = cluster.nodes.find((n) => n !== old)!;
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
    });
    expect(res.status).toBe(200);
    await waitFor(() => writer.acks.some((a) => a.at > t0 && a.node === candidate.name), {
      timeoutMs: 60_000,
      intervalMs: 100,
      describe: () => 'writes on the new primary',
    });
    const { gapMs } = writer.maxGap(t0);
    console.log(
      `[measure] switchover (${label}): write outage ${(gapMs / 1000).toFixed(2)} s, REST answered after ${((Date.now() - t0) / 1000).toFixed(2)} s or less`,
    );
    expect(await cluster.waitForHealthy()).toBe(candidate);
    // A switchover stops the old primary cleanly: every acknowledged write reached the candidate.
    expect(await lostWrites()).toBe(0);
  });

  it('primary_start_timeout 0: a postmaster SIGKILL fails over at once; the old primary rejoins', async () => {
    const old = await cluster.waitForHealthy();
    const res = await fetch(`http://127.0.0.1:${old.apiPort}/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ primary_start_timeout: 0 }),
    });
    expect(res.status).toBe(200);
    // Every agent applies the dynamic config at its next cycle.
    await new Promise((r) => setTimeout(r, (timings.loopWait + 1) * 1000));
    old.events.length = 0;
    const killedAt = Date.now();
    process.kill(old.agent.pg.postmaster!.pid, 'SIGKILL');
    await waitFor(() => writer.acks.some((a) => a.at > killedAt && a.node !== old.name), {
      timeoutMs: 60_000,
      intervalMs: 100,
      describe: () => 'writes on a new primary',
    });
    const { gapMs } = writer.maxGap(killedAt);
    console.log(`[measure] postmaster SIGKILL with primary_start_timeout 0 (${label}): failover, write outage ${(gapMs / 1000).toFixed(2)} s`);
    expect(old.events.some((e) => e.type === 'leader_released')).toBe(true);
    const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    expect(leader).not.toBe(old);
    expect(old.agent.role).toBe('replica');
    // Released well before the lease would have expired by itself.
    expect(gapMs).toBeLessThan(timings.ttl * 1000);
  });
});

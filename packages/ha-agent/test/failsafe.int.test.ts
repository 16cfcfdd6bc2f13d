import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, patroni, sql, timingsFromEnv, Writer, type HaNode } from './ha-cluster.js';

// failsafe_mode (Patroni's DCS failsafe mode) on a real 3-member etcd and PostgreSQL 15: with
// every etcd member stopped, the primary keeps taking writes while every member accepts its
// POST /failsafe (the software fence stays fed); with one member's agent gone it demotes; with
// failsafe_mode off it demotes as before (the negative control).
const timings = timingsFromEnv();
const SCOPE = 'hafailsafe';
let cluster: HaCluster;
let writer: Writer;

const readOnly = async (n: HaNode): Promise<boolean> =>
  (await sql<{ r: boolean }>(n.pgPort, 'SELECT pg_is_in_recovery() AS r').catch(() => [{ r: true }]))[0]?.r ?? true;

async function failsafeKey(): Promise<Record<string, string>> {
  const text = await cluster.etcd.etcdctl(['get', '--print-value-only', `/service/${SCOPE}/failsafe`]);
  return text.trim() ? (JSON.parse(text) as Record<string, string>) : {};
}

/** Stops every etcd member; resolves with when the stop began (members stop serving within milliseconds of it). */
async function stopEtcd(): Promise<number> {
  const at = Date.now();
  await Promise.all(cluster.etcd.members.map((m) => m.stop()));
  return at;
}

async function startEtcd(): Promise<void> {
  await Promise.all(cluster.etcd.members.map((m) => m.start()));
}

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: SCOPE, timings, editYaml: (y) => y.replace('    ttl:', '    failsafe_mode: true\n    ttl:') });
  const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
  await sql(leader.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
  writer = new Writer(() => cluster.nodes, 1, 100).start();
}, 150_000);

afterAll(async () => {
  await writer?.stop();
  await cluster?.destroy();
}, 120_000);

describe(`failsafe_mode (ttl ${timings.ttl} / loop_wait ${timings.loopWait} / retry_timeout ${timings.retryTimeout})`, () => {
  it('etcd fully down: the primary keeps taking writes for 3 x ttl; one agent cut off: it demotes; etcd back: the cluster recovers', async () => {
    const leader = await cluster.waitForHealthy();
    // The leader publishes the members it sees, with their REST API URLs, as Patroni names the key.
    await waitFor(async () => Object.keys(await failsafeKey()).length === 3, { timeoutMs: 30_000, describe: () => 'a failsafe key with 3 members' });
    expect((await failsafeKey())[leader.name]).toBe(`http://127.0.0.1:${leader.apiPort}/patroni`);
    await waitFor(() => writer.acks.length >= 10, { timeoutMs: 20_000, describe: () => 'writer running' });
    leader.events.length = 0;
    const failsafeKeyBefore = await failsafeKey();

    const stoppedAt = await stopEtcd();
    let victim: HaNode | undefined;
    try {
      // (a) 3 x ttl without etcd: writes keep being acknowledged by the same primary.
      const holdUntil = stoppedAt + 3 * timings.ttl * 1000;
      await new Promise((r) => setTimeout(r, holdUntil - Date.now() + 2000));
      const during = writer.acks.filter((a) => a.at > stoppedAt);
      const { gapMs } = writer.maxGap(stoppedAt);
      console.log(
        `[measure] etcd down with failsafe on: ${during.length} writes acked in ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s, longest gap ${(gapMs / 1000).toFixed(2)} s`,
      );
      expect(during.every((a) => a.node === leader.name)).toBe(true);
      expect(during.some((a) => a.at > holdUntil)).toBe(true);
      expect(gapMs).toBeLessThan(timings.ttl * 1000);
      expect(await readOnly(leader)).toBe(false);
      expect(leader.events.some((e) => e.type === 'demoted')).toBe(false);
      expect(leader.events.some((e) => e.type === 'failsafe' && e.active)).toBe(true);
      // The fence stayed armed and fed: it fenced nothing.
      expect(leader.events.some((e) => e.type === 'fence' && (e.event.type === 'fencing' || e.event.type === 'fenced'))).toBe(false);
      for (const r of cluster.nodes.filter((n) => n !== leader)) expect(await readOnly(r)).toBe(true);
      // Every member says so in /patroni, and the primary still answers /primary (HAProxy keeps routing to it).
      for (const n of cluster.nodes) expect((await patroni(n)).failsafe_mode_is_active).toBe(true);
      expect((await api(leader, 'GET', '/primary')).status).toBe(200);
      expect(JSON.parse((await api(leader, 'GET', '/failsafe')).text)).toEqual(failsafeKeyBefore);

      // (b) One replica's agent is gone (its REST API with it): the primary stops taking writes.
      victim = cluster.nodes.find((n) => n !== leader);
      if (!victim) throw new Error('no replica');
      const cutAt = Date.now();
      await victim.agent.abandon();
      await waitFor(() => readOnly(leader), { timeoutMs: (timings.ttl + 15) * 1000, intervalMs: 100, describe: () => 'the primary stops being writable' });
      const demotedAfter = Date.now() - cutAt;
      const lastAck = writer.acks.at(-1);
      console.log(
        `[measure] failsafe, ${victim.name}'s agent cut off: primary read-only after ${(demotedAfter / 1000).toFixed(2)} s, last write acked ${lastAck ? ((lastAck.at - cutAt) / 1000).toFixed(2) : '-'} s after the cut`,
      );
      expect(leader.events.some((e) => e.type === 'failsafe' && !e.active)).toBe(true);
      expect(demotedAfter).toBeLessThan((timings.ttl + 5) * 1000);
      // Nobody takes writes while etcd is down and a member does not answer.
      await new Promise((r) => setTimeout(r, 2000));
      const after = Date.now();
      await new Promise((r) => setTimeout(r, 2000));
      expect(writer.acks.filter((a) => a.at > after)).toEqual([]);
    } finally {
      await startEtcd();
      if (victim) {
        victim.agent = cluster.newAgent(victim);
        await victim.agent.start();
      }
    }
    const backAt = Date.now();
    const healthy = await cluster.waitForHealthy(cluster.nodes, 120_000);
    await waitFor(() => writer.acks.some((a) => a.at > backAt), { timeoutMs: 60_000, describe: () => 'writes after etcd returned' });
    console.log(`[measure] etcd back: healthy cluster (leader ${healthy.name}) after ${((Date.now() - backAt) / 1000).toFixed(2)} s`);
    const ids = writer.acks.map((a) => a.id);
    const rows = await sql<{ n: string }>(healthy.pgPort, 'SELECT count(*) AS n FROM ha_probe WHERE id = ANY($1)', [ids]);
    console.log(`[measure] acknowledged writes present after recovery: ${rows[0]?.n} of ${ids.length}`);
  });

  it('a replica answers POST /failsafe with Accepted and its WAL position; a primary refuses', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    const replica = cluster.nodes.find((n) => n !== leader);
    if (!replica) throw new Error('no replica');
    const res = await fetch(`http://127.0.0.1:${replica.apiPort}/failsafe`, {
      method: 'POST',
      body: JSON.stringify({ name: leader.name, api_url: `http://127.0.0.1:${leader.apiPort}/patroni`, conn_url: 'postgres://x' }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Accepted');
    expect(Number(res.headers.get('lsn'))).toBeGreaterThan(0);
    expect(await api(leader, 'POST', '/failsafe', { name: replica.name })).toEqual({ status: 500, text: 'Running as a leader' });
  });

  it('negative control: failsafe_mode off, etcd down: the primary demotes before its lease can expire', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    expect((await api(leader, 'PATCH', '/config', { failsafe_mode: false })).status).toBe(200);
    // Every agent applies the dynamic configuration at its next cycle.
    await new Promise((r) => setTimeout(r, (2 * timings.loopWait + 1) * 1000));
    const replica = cluster.nodes.find((n) => n !== leader);
    if (replica) expect((await api(replica, 'POST', '/failsafe', { name: leader.name })).status).toBe(502);
    const stoppedAt = await stopEtcd();
    try {
      await waitFor(() => readOnly(leader), { timeoutMs: (timings.ttl + 10) * 1000, intervalMs: 100, describe: () => 'the primary stops being writable' });
      console.log(`[measure] etcd down with failsafe off: primary read-only after ${((Date.now() - stoppedAt) / 1000).toFixed(2)} s (ttl ${timings.ttl})`);
      expect(Date.now() - stoppedAt).toBeLessThan((timings.ttl + 1) * 1000);
    } finally {
      await startEtcd();
    }
    await cluster.waitForHealthy(cluster.nodes, 120_000);
  });
});

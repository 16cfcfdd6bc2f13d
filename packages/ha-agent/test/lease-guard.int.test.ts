import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { HaCluster, patroni, sql, timingsFromEnv, Writer } from './ha-cluster.js';

// The leader that cannot refresh its lease stops taking writes before the lease can expire; pause mode.
const timings = timingsFromEnv();
const PATRONICTL = process.env.PATRONICTL_BIN ?? '/usr/bin/patronictl';
let cluster: HaCluster;

beforeAll(async () => {
  // The guard alone: with the software fence on, a lagging event loop could let the fence (its
  // deadline is a moment after the guard's) stop PostgreSQL first, and nothing here would say
  // whether the guard works. The fence has tests of its own (fence-agent.int.test.ts).
  cluster = await HaCluster.start({ scope: 'halease', timings, softwareFence: false });
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

function patronictl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const dir = cluster.nodes[0]!.dir.path;
  const cfg = join(dir, 'patronictl.yml');
  writeFileSync(cfg, `scope: halease\nnamespace: /service/\netcd3:\n  hosts: [${cluster.etcd.hosts.join(', ')}]\n`);
  return new Promise((resolve) => {
    execFile(
      PATRONICTL,
      ['-c', cfg, ...args],
      { env: { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8' }, timeout: 90_000, encoding: 'utf8' },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

describe(`lease guard and pause (ttl ${timings.ttl} / loop_wait ${timings.loopWait} / retry_timeout ${timings.retryTimeout})`, () => {
  it('a leader cut off from etcd (quorum lost) stops taking writes before its lease can expire; the cluster recovers by itself', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    await sql(leader.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
    const writer = new Writer(() => cluster.nodes, 1, 50).start();
    await waitFor(() => writer.acks.length >= 10, { timeoutMs: 20_000, describe: () => 'writer running' });

    // Follow the lease deadline as the leader refreshes it; once etcd is gone it stops moving.
    let deadline = leader.agent.leaderLeaseExpiresAt ?? 0;
    const tracker = setInterval(() => {
      const d = leader.agent.leaderLeaseExpiresAt;
      if (d !== undefined && d > deadline) deadline = d;
    }, 20);
    const [m1, m2] = [cluster.etcd.members[0]!, cluster.etcd.members[1]!];
    const cutAt = Date.now();
    await Promise.all([m1.stop(), m2.stop()]);
    const cutDone = Date.now();
    try {
      try {
        await waitFor(async () => (await sql<{ r: boolean }>(leader.pgPort, 'SELECT pg_is_in_recovery() AS r').catch(() => [{ r: true }]))[0]!.r, {
          timeoutMs: (timings.ttl + 10) * 1000,
          intervalMs: 100,
          describe: () => 'the leader stops being a writable primary',
        });
      } finally {
        clearInterval(tracker);
      }
      const demotedSeenAt = Date.now();
      const lastAck = writer.acks.at(-1)!;
      const rel = (t: number): string => ((t - cutDone) / 1000).toFixed(2);
      console.log(
        `[measure] etcd quorum lost (2 of 3 members stopped, stop took ${((cutDone - cutAt) / 1000).toFixed(2)} s): relative to the stop completing, ` +
          `last write acked at ${rel(lastAck.at)} s, primary gone at ${rel(demotedSeenAt)} s, lease deadline ${rel(deadline)} s (ttl ${timings.ttl})`,
      );
      // The contract: no write is acknowledged once the lease could have expired (and a replica been promoted).
      expect(deadline).toBeGreaterThan(0);
      expect(lastAck.at).toBeLessThan(deadline);
      expect(demotedSeenAt).toBeLessThan(deadline + 1000);
      // The stop completes a moment before the agent reports it.
      await waitFor(() => leader.events.some((e) => e.type === 'demoted'), { timeoutMs: 5000, describe: () => 'the demoted event' });
      // Replicas stay read-only while etcd is down: nobody can win a race without quorum.
      await new Promise((r) => setTimeout(r, 2000));
      expect(writer.acks.filter((a) => a.at > deadline)).toEqual([]);
    } finally {
      // Whatever failed above, the next test needs etcd back.
      await Promise.all([m1.start(), m2.start()]);
    }
    const t0 = Date.now();
    const newLeader = await cluster.waitForHealthy(cluster.nodes, 120_000);
    await waitFor(() => writer.acks.some((a) => a.at > t0), { timeoutMs: 30_000, describe: () => 'writes after etcd returned' });
    await writer.stop();
    console.log(`[measure] etcd back: healthy cluster (leader ${newLeader.name}) after ${((Date.now() - t0) / 1000).toFixed(2)} s`);
    const ids = writer.acks.map((a) => a.id);
    const rows = await sql<{ n: string }>(newLeader.pgPort, 'SELECT count(*) AS n FROM ha_probe WHERE id = ANY($1)', [ids]);
    console.log(`[measure] acknowledged writes present on the leader after recovery: ${rows[0]!.n} of ${ids.length}`);
  });

  it('pause: a killed postmaster is left alone; resume restores management', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    const res = await fetch(`http://127.0.0.1:${leader.apiPort}/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pause: true }),
    });
    expect(res.status).toBe(200);
    await waitFor(async () => (await Promise.all(cluster.nodes.map((n) => patroni(n)))).every((p) => p.pause === true), {
      timeoutMs: 20_000,
      describe: () => 'every member reports pause',
    });
    const pid = leader.agent.pg.postmaster!.pid;
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, (3 * timings.loopWait + 2) * 1000));
    expect(leader.agent.pg.isRunning).toBe(false);
    expect(leader.agent.holdsLeaderKey).toBe(true);
    for (const n of cluster.nodes.filter((x) => x !== leader)) {
      expect(n.agent.role).toBe('replica');
      expect(n.events.some((e) => e.type === 'promoted')).toBe(false);
    }
    const r = await patronictl(['resume', '--wait']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain('Success: cluster management is resumed');
    await waitFor(() => leader.agent.pg.isRunning && leader.agent.role === 'primary', {
      timeoutMs: 30_000,
      describe: () => 'the leader restarted after resume',
    });
    expect(await cluster.waitForHealthy()).toBe(leader);
    expect((await patroni(leader)).pause).toBeUndefined();
  });
});

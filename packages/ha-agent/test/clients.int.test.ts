import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, startHaproxy, waitFor, type Haproxy, type TempDir } from '@pgtools/testkit';
import { HaCluster, patroni, sql, type HaNode } from './ha-cluster.js';

// Real clients against three real agents: Debian's patronictl 3.0.2 and HAProxy with the seed's checks.
const PATRONICTL = process.env.PATRONICTL_BIN ?? '/usr/bin/patronictl';
const SCOPE = 'haclients';
const AUTH = { username: 'admin', password: 'rest-S3cret' };
let cluster: HaCluster;
let proxy: Haproxy | undefined;
let ctlDir: TempDir;
let ctlConfig: string;

function patronictl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      PATRONICTL,
      ['-c', ctlConfig, ...args],
      { env: { ...process.env, HOME: ctlDir.path, LC_ALL: 'C.UTF-8' }, timeout: 90_000, encoding: 'utf8' },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

/** One query through a proxy port on a fresh connection. */
async function viaProxy<R extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres', connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const whoami = 'SELECT pg_is_in_recovery() AS r, inet_server_port() AS port';

/** HAProxy starts with every server up until its checks fail (fall 2 x 1 s): wait until `n` connections in a row pass. */
async function settled(port: number, ok: (row: { r: boolean; port: number }) => boolean, what: string, n = 6): Promise<void> {
  await waitFor(
    async () => {
      for (let i = 0; i < n; i++) {
        const row = (await viaProxy<{ r: boolean; port: number }>(port, whoami).catch(() => []))[0];
        if (!row || !ok(row)) return false;
      }
      return true;
    },
    { timeoutMs: 20_000, intervalMs: 250, describe: () => what },
  );
}

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: SCOPE, restapiAuth: AUTH });
  ctlDir = await makeTempDir('patronictl');
  ctlConfig = join(ctlDir.path, 'patronictl.yml');
  writeFileSync(
    ctlConfig,
    `scope: ${SCOPE}\nnamespace: /service/\netcd3:\n  hosts: [${cluster.etcd.hosts.join(', ')}]\nrestapi:\n  authentication: {username: ${AUTH.username}, password: ${AUTH.password}}\n`,
    { mode: 0o600 },
  );
}, 120_000);

afterAll(async () => {
  await proxy?.destroy();
  await cluster?.destroy();
  ctlDir?.remove();
}, 120_000);

describe('real clients: patronictl and HAProxy', () => {
  let leader: HaNode;

  it('patronictl list -f json shows one Leader and two Replicas on the same timeline', async () => {
    leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    await sql(leader.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
    // Member keys are published once per loop: wait until each shows its running state and timeline.
    let rows: Record<string, unknown>[] = [];
    await waitFor(
      async () => {
        const r = await patronictl(['list', '-f', 'json']);
        if (r.code !== 0) return false;
        rows = JSON.parse(r.out) as Record<string, unknown>[];
        return rows.length === 3 && rows.every((m) => m.State === 'running' && m.TL !== undefined);
      },
      { timeoutMs: 30_000, intervalMs: 1000, describe: () => `patronictl list: ${JSON.stringify(rows)}` },
    );
    const byRole = (role: string) => rows.filter((m) => m.Role === role).map((m) => m.Member);
    expect(byRole('Leader')).toEqual([leader.name]);
    expect(byRole('Replica').sort()).toEqual(
      cluster.nodes
        .filter((n) => n !== leader)
        .map((n) => n.name)
        .sort(),
    );
    expect(new Set(rows.map((m) => m.TL)).size).toBe(1);
    expect(rows.find((m) => m.Member === leader.name)?.Host).toBe(`127.0.0.1:${leader.pgPort}`);
    expect(rows.every((m) => m.Cluster === SCOPE)).toBe(true);
  });

  it('HAProxy sends writes to the primary and reads to the replicas', async () => {
    proxy = await startHaproxy({ nodes: cluster.nodes.map((n) => ({ name: n.name, pgPort: n.pgPort, apiPort: n.apiPort })), interMs: 1000, fall: 2, rise: 1 });
    const p = proxy;
    await settled(p.primaryPort, (row) => row.port === leader.pgPort, 'the writer port reaches only the primary');
    const w = await viaProxy<{ r: boolean; port: number }>(p.primaryPort, whoami);
    expect(w[0]).toEqual({ r: false, port: leader.pgPort });
    await viaProxy(p.primaryPort, 'INSERT INTO ha_probe (id) VALUES (1)');
    const replicaPorts = cluster.nodes.filter((n) => n !== leader).map((n) => n.pgPort);
    await settled(p.replicaPort, (row) => row.r, 'the reader port reaches only replicas');
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const r = (await viaProxy<{ r: boolean; port: number }>(p.replicaPort, whoami))[0]!;
      expect(r.r).toBe(true);
      expect(replicaPorts).toContain(r.port);
      seen.add(r.port);
    }
    expect(seen.size).toBe(2); // round robin over both replicas
  });

  it('patronictl switchover goes through our REST API; HAProxy follows the new primary', async () => {
    const candidate = cluster.nodes.find((n) => n !== leader)!;
    // A client writing through HAProxy's writer port all along (new connection per write, like a pooler retrying).
    const acks: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let id = 1000; writing; id++) {
        try {
          await viaProxy(proxy!.primaryPort, 'INSERT INTO ha_probe (id) VALUES ($1)', [id]);
          acks.push(Date.now());
        } catch {
          // outage
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    await waitFor(() => acks.length >= 5, { timeoutMs: 10_000 });
    const t0 = Date.now();
    const r = await patronictl(['switchover', '--leader', leader.name, '--candidate', candidate.name, '--force']);
    console.log(`[measure] patronictl switchover ${leader.name} -> ${candidate.name} took ${((Date.now() - t0) / 1000).toFixed(2)} s:\n${r.out}${r.err}`);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`Successfully switched over to "${candidate.name}"`));
    expect(r.out + r.err).not.toMatch(/falling back to DCS/);
    // The REST call was really served by the old leader's agent, with credentials (not the DCS fallback).
    expect(leader.events.some((e) => e.type === 'api_request' && e.method === 'POST' && e.path === '/switchover' && e.status === 200)).toBe(true);
    const newLeader = await cluster.waitForHealthy();
    expect(newLeader).toBe(candidate);
    expect(leader.agent.role).toBe('replica');
    expect((await patroni(leader)).role).toBe('replica');

    const p = proxy!;
    // The old primary stays UP in the writer backend until its check fails twice: one connection
    // reaching the candidate does not yet mean that every one does.
    await settled(p.primaryPort, (row) => row.port === candidate.pgPort, 'the writer port follows the new primary, and only it');
    await waitFor(() => acks.some((a) => a > Date.now() - 200), { timeoutMs: 15_000, describe: () => 'writes through HAProxy again' });
    writing = false;
    await writer;
    let gap = 0;
    for (let i = 1; i < acks.length; i++) if (acks[i]! >= t0) gap = Math.max(gap, acks[i]! - acks[i - 1]!);
    console.log(`[measure] switchover seen through HAProxy (inter 1 s, fall 2, rise 1): write outage ${(gap / 1000).toFixed(2)} s`);
    await viaProxy(p.primaryPort, 'INSERT INTO ha_probe (id) VALUES (2)');
    await cluster.waitForRow(leader, 2);
    const readers = new Set<number>();
    await waitFor(
      async () => {
        const row = (await viaProxy<{ r: boolean; port: number }>(p.replicaPort, whoami).catch(() => []))[0];
        if (row?.r === true) readers.add(row.port);
        return readers.has(leader.pgPort);
      },
      { timeoutMs: 15_000, intervalMs: 250, describe: () => 'the reader port includes the old primary' },
    );
    expect(readers.has(candidate.pgPort)).toBe(false);
  });

  it("patronictl restart and reinit are served by the replica's agent", async () => {
    const leaderNow = await cluster.waitForHealthy();
    const replica = cluster.nodes.find((n) => n !== leaderNow)!;
    const pid = replica.agent.pg.postmaster!.pid;
    const r = await patronictl(['restart', SCOPE, replica.name, '--force']);
    expect(r.out + r.err).toContain(`Success: restart on member ${replica.name}`);
    expect(replica.agent.pg.postmaster!.pid).not.toBe(pid);
    replica.events.length = 0;
    const ri = await patronictl(['reinit', SCOPE, replica.name, '--force', '--wait']);
    expect(ri.out + ri.err).toContain(`Success: reinitialize for member ${replica.name}`);
    expect(ri.out).toContain(`Reinitialize is completed on: ${replica.name}`);
    expect(replica.events.some((e) => e.type === 'cloned')).toBe(true);
    expect(await cluster.waitForHealthy()).toBe(leaderNow);
    await cluster.waitForRow(replica, 2);
  });

  it('patronictl schedules a switchover through our API, list shows it, flush cancels it', async () => {
    const leaderNow = await cluster.waitForHealthy();
    const candidate = cluster.nodes.find((n) => n !== leaderNow)!;
    const at = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, '+00:00');
    const s = await patronictl(['switchover', '--leader', leaderNow.name, '--candidate', candidate.name, '--scheduled', at, '--force']);
    expect(s.out, s.err).toContain('Switchover scheduled');
    expect(s.out + s.err).not.toMatch(/falling back to DCS/);
    const list = await patronictl(['list']);
    expect(list.out).toContain('Switchover scheduled at: ');
    const f = await patronictl(['flush', SCOPE, 'switchover']);
    expect(f.out).toContain('Success: scheduled switchover deleted');
    expect((await patronictl(['list'])).out).not.toContain('Switchover scheduled at');
    expect(cluster.leaders()).toEqual([leaderNow]);
  });

  it('refuses an unauthenticated switchover', async () => {
    const leaderNow = cluster.leaders()[0]!;
    const res = await fetch(`http://127.0.0.1:${leaderNow.apiPort}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: leaderNow.name }),
    });
    expect(res.status).toBe(401);
  });
});

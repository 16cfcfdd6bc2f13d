import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isAlive, makeTempDir, pgBinDir, serverUser, startEtcd, startReaper, waitFor, type EtcdCluster, type Reaper, type TempDir } from '@pgtools/testkit';
import { HaAgent, parseConfig, type HaAgentEvent } from '../src/index.js';

// Three agents in this process, a real 3-member etcd, real PostgreSQL 15; CI timings 10/2/4.
const SCOPE = 'hatest';
const user = serverUser();
const runAs = user ? { uid: user.uid, gid: user.gid } : undefined;

interface Node {
  name: string;
  dir: TempDir;
  pgPort: number;
  apiPort: number;
  agent: HaAgent;
  events: HaAgentEvent[];
}

let etcd: EtcdCluster | undefined;
const nodes: Node[] = [];
const postmasterPids = new Set<number>();
const reapers: Reaper[] = [];

function configYaml(name: string, dir: string, pgPort: number, apiPort: number, hosts: string[]): string {
  return `
scope: ${SCOPE}
name: ${name}
restapi: {listen: 127.0.0.1:${apiPort}, connect_address: 127.0.0.1:${apiPort}}
etcd3: {hosts: [${hosts.join(', ')}]}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters: {wal_level: replica, hot_standby: "on", wal_log_hints: "on", max_wal_senders: 10, max_replication_slots: 10, wal_keep_size: 128MB}
  initdb: [{encoding: UTF8}, {locale: C}]
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${pgPort}
  connect_address: 127.0.0.1:${pgPort}
  data_dir: ${join(dir, 'data')}
  bin_dir: ${pgBinDir()}
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: postgres, password: postgres}
  parameters: {unix_socket_directories: '${dir}', fsync: "off", shared_buffers: 16MB}
watchdog: {mode: "off"}
`;
}

async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const leaders = (): Node[] => nodes.filter((n) => n.agent.holdsLeaderKey && n.agent.role === 'primary');
const byName = (name: string): Node => nodes.find((n) => n.name === name)!;

async function patroni(node: Node): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}/patroni`, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as Record<string, unknown>;
}

/** Waits for exactly one leader and the other running nodes streaming from it on its timeline. */
async function waitForHealthyCluster(running: Node[], timeoutMs = 60_000): Promise<Node> {
  let leader: Node | undefined;
  await waitFor(
    async () => {
      const ls = running.filter((n) => n.agent.holdsLeaderKey && n.agent.role === 'primary');
      if (ls.length !== 1) return false;
      leader = ls[0]!;
      const rows = await sql<{ application_name: string; state: string }>(leader.pgPort, 'SELECT application_name, state FROM pg_stat_replication');
      const others = running.filter((n) => n !== leader);
      if (!others.every((o) => rows.some((r) => r.application_name === o.name && r.state === 'streaming'))) return false;
      const tls = await Promise.all(running.map(async (n) => (await patroni(n)).timeline));
      return tls.every((t) => t === tls[0]);
    },
    { timeoutMs, intervalMs: 250, describe: () => `one leader and ${running.length - 1} streaming replicas` },
  );
  return leader!;
}

async function waitForRow(node: Node, id: number): Promise<void> {
  await waitFor(async () => (await sql(node.pgPort, 'SELECT 1 FROM ha_probe WHERE id = $1', [id])).length === 1, {
    timeoutMs: 20_000,
    intervalMs: 100,
    describe: () => `row ${id} on ${node.name}`,
  });
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
  for (let i = 1; i <= 3; i++) {
    const name = `node${i}`;
    const dir = await makeTempDir(`ha-${name}`, user);
    const pgPort = await freePort();
    const apiPort = await freePort();
    const { config } = parseConfig(configYaml(name, dir.path, pgPort, apiPort, etcd.hosts), {});
    const events: HaAgentEvent[] = [];
    const log = (level: string) => (msg: string, fields?: unknown) => {
      if (process.env.HA_TEST_LOG) console.error(`${new Date().toISOString()} ${name} ${level}: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
    };
    const agent = new HaAgent(config, {
      logger: { debug: () => undefined, info: log('INFO'), warn: log('WARN'), error: log('ERROR') },
      ...(runAs ? { runAs } : {}),
      postgresLogFile: join(dir.path, 'postgres.log'),
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'postmaster_started') {
          postmasterPids.add(e.pid);
          // Stops this postmaster by PID if the test process dies before afterAll runs.
          reapers.push(startReaper({ pid: e.pid, signal: 'SIGQUIT' }));
        }
      },
    });
    nodes.push({ name, dir, pgPort, apiPort, agent, events });
  }
  for (const n of nodes) await n.agent.start();
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => Promise.race([n.agent.stop(), new Promise((r) => setTimeout(r, 30_000))]).catch(() => undefined)));
  for (const pid of postmasterPids) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const r of reapers) r.dismiss();
  await etcd?.destroy();
  for (const n of nodes) n.dir.remove();
}, 90_000);

describe('HaAgent with three nodes (ttl 10, loop_wait 2, retry_timeout 4)', () => {
  it('bootstraps one leader and two streaming replicas on the same timeline; a row reaches both replicas', async () => {
    const leader = await waitForHealthyCluster(nodes, 90_000);
    expect(leaders()).toEqual([leader]);
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
    for (const r of replicas) await waitForRow(r, 1);
    // One physical slot per replica on the leader.
    const slots = await sql<{ slot_name: string; active: boolean }>(leader.pgPort, 'SELECT slot_name, active FROM pg_replication_slots ORDER BY 1');
    expect(slots.map((s) => s.slot_name)).toEqual(replicas.map((r) => r.name).sort());
  });

  it('restarts a SIGKILLed postmaster as primary in place, without failover', async () => {
    const leader = await waitForHealthyCluster(nodes);
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
    expect(leaders()).toEqual([leader]);
    expect(leader.agent.pg.postmaster!.pid).not.toBe(pid);
    expect(leader.events.some((e) => e.type === 'postmaster_exited' && e.pid === pid)).toBe(true);
    expect(nodes.filter((n) => n !== leader).every((n) => !n.events.some((e) => e.type === 'promoted'))).toBe(true);
    const healthy = await waitForHealthyCluster(nodes);
    expect(healthy).toBe(leader);
    expect((await patroni(leader)).timeline).toBe(tlBefore);
  });

  it('switches over to a named candidate through POST /switchover; the old primary follows', async () => {
    const old = await waitForHealthyCluster(nodes);
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
    const leader = await waitForHealthyCluster(nodes);
    expect(leader).toBe(candidate);
    expect(old.agent.role).toBe('replica');
    await sql(candidate.pgPort, 'INSERT INTO ha_probe (id) VALUES (2)');
    for (const n of nodes.filter((x) => x !== candidate)) await waitForRow(n, 2);
    const history = (await (await fetch(`http://127.0.0.1:${candidate.apiPort}/history`)).json()) as unknown[][];
    expect(history.at(-1)?.[4]).toBe(candidate.name);
  });

  it('hands over promptly when the leader agent stops (SIGTERM semantics)', async () => {
    const old = await waitForHealthyCluster(nodes);
    const t0 = Date.now();
    await old.agent.stop();
    const stoppedAt = Date.now();
    const rest = nodes.filter((n) => n !== old);
    await waitFor(() => rest.some((n) => n.agent.holdsLeaderKey && n.agent.role === 'primary'), { timeoutMs: 30_000, intervalMs: 100, describe: () => 'a new leader' });
    const newLeader = rest.find((n) => n.agent.holdsLeaderKey)!;
    await sql(newLeader.pgPort, 'INSERT INTO ha_probe (id) VALUES (3)');
    const writable = Date.now();
    console.log(
      `[measure] leader agent stop: stop() took ${((stoppedAt - t0) / 1000).toFixed(2)} s, new primary ${newLeader.name} writable ${((writable - t0) / 1000).toFixed(2)} s after stop() began`,
    );
    // Promptly = well before the old lease could have expired (ttl 10 s): the key was released.
    expect(writable - stoppedAt).toBeLessThan(8000);
    expect(old.agent.pg.isRunning).toBe(false);
    await waitForHealthyCluster(rest);
    const other = rest.find((n) => n !== newLeader)!;
    await waitForRow(other, 3);
  });
});

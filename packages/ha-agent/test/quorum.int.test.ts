import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, powerLoss, sql, timingsFromEnv, Writer, type HaNode } from './ha-cluster.js';

// Quorum commit (`synchronous_mode: quorum`, Patroni 4's `ANY k (...)` and the `sync` key's
// `quorum`) on a primary and 3 replicas, k = 1 then k = 2, and `synchronous_mode: on` with
// `synchronous_node_count: 2`. Every write a client saw acknowledged is looked for on the final primary.
const timings = timingsFromEnv();
let cluster: HaCluster;
let nextId = 1;
const allAcks: number[] = [];

beforeAll(async () => {
  cluster = await HaCluster.start(
    {
      scope: 'haquorum',
      timings,
      editYaml: (y) => y.replace('synchronous_mode: false', 'synchronous_mode: quorum\n    synchronous_node_count: 1'),
    },
    4,
  );
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

interface Key {
  leader: string | null;
  sync_standby: string | null;
  quorum?: number;
}

/** The `sync` key as etcd has it (read with etcdctl: any agent may be gone). */
async function syncKey(): Promise<Key | undefined> {
  const text = await cluster.etcd.etcdctl(['get', '--print-value-only', '/service/haquorum/sync']);
  return text.trim() ? (JSON.parse(text) as Key) : undefined;
}

async function ssn(node: HaNode): Promise<string> {
  return (await sql<{ s: string }>(node.pgPort, "SELECT current_setting('synchronous_standby_names') AS s"))[0]!.s;
}

async function patchConfig(node: HaNode, body: unknown): Promise<void> {
  expect((await api(node, 'PATCH', '/config', body)).status).toBe(200);
}

/** Waits for the key to name `leader`, `voters` members and `quorum`, and `synchronous_standby_names` to match `pattern`. */
async function waitForQuorum(leader: HaNode, voters: number, quorum: number, pattern: RegExp): Promise<string[]> {
  let last: Key | undefined;
  let names = '';
  await waitFor(
    async () => {
      last = await syncKey();
      names = await ssn(leader);
      const listed = last?.sync_standby?.split(',') ?? [];
      return last?.leader === leader.name && listed.length === voters && (last.quorum ?? 0) === quorum && pattern.test(names);
    },
    { timeoutMs: 60_000, intervalMs: 250, describe: () => `sync key ${JSON.stringify(last)} / synchronous_standby_names ${names}` },
  );
  return last?.sync_standby?.split(',') ?? [];
}

/** The key names 3 voters with `quorum` and `synchronous_standby_names` matches `pattern`. */
async function quorumReady(leader: HaNode, quorum: number, pattern: RegExp): Promise<boolean> {
  const key = await syncKey();
  return key?.leader === leader.name && key.sync_standby?.split(',').length === 3 && (key.quorum ?? 0) === quorum && pattern.test(await ssn(leader));
}

const status = async (node: HaNode, path: string): Promise<number> => (await fetch(`http://127.0.0.1:${node.apiPort}${path}`)).status;

/** A node that lost power comes back with a new agent on its data dir and rejoins. */
async function rejoin(node: HaNode): Promise<void> {
  node.events.length = 0;
  node.agent = cluster.newAgent(node);
  await node.agent.start();
}

/** The acknowledged writes the final primary lacks (all phases). */
async function lostOn(primary: HaNode, acks: number[]): Promise<number[]> {
  const present = new Set((await sql<{ id: number }>(primary.pgPort, 'SELECT id FROM ha_probe WHERE id = ANY($1)', [acks])).map((r) => r.id));
  return acks.filter((id) => !present.has(id));
}

/** WAL senders of `replicas` on `primary`: stalling them stalls those replicas. */
async function senderPids(primary: HaNode, replicas: HaNode[]): Promise<number[]> {
  const rows = await sql<{ pid: number; application_name: string }>(primary.pgPort, 'SELECT pid, application_name FROM pg_stat_replication');
  return rows.filter((r) => replicas.some((n) => n.name === r.application_name)).map((r) => r.pid);
}

/**
 * Whether a commit on `primary` completes within 1 s while the WAL senders of `stalled` are
 * SIGSTOPped: proof that commits wait (or not) for the standbys. The senders go on afterwards.
 */
async function commitsWithout(primary: HaNode, stalled: HaNode[]): Promise<boolean> {
  const pids = await senderPids(primary, stalled);
  expect(pids).toHaveLength(stalled.length);
  const client = new pg.Client({ host: '127.0.0.1', port: primary.pgPort, user: 'postgres', password: 'postgres', database: 'postgres' });
  await client.connect();
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  try {
    let done = false;
    const commit = client.query('INSERT INTO ha_probe (id) VALUES ($1)', [nextId++]).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 1000));
    const within = done;
    for (const pid of pids) process.kill(pid, 'SIGCONT');
    await commit;
    return within;
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
    await client.end();
  }
}

describe(`quorum commit, a primary and 3 replicas (ttl ${timings.ttl} / loop_wait ${timings.loopWait})`, () => {
  it('k = 1: ANY 1 of the 3 replicas, the key names all three with quorum 2; /quorum answers for them', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 120_000);
    await sql(leader.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
    const voters = await waitForQuorum(leader, 3, 2, /^ANY 1 \(/);
    expect(voters.sort()).toEqual(cluster.nodes.filter((n) => n !== leader).map((n) => n.name));
    expect(leader.events.some((e) => e.type === 'sync_quorum_changed' && e.quorum === 2 && e.voters.length === 3)).toBe(true);
    for (const r of cluster.nodes.filter((n) => n !== leader)) {
      await waitFor(async () => (await status(r, '/quorum')) === 200, { timeoutMs: 15_000, describe: () => `GET /quorum 200 on ${r.name}` });
      expect(await status(r, '/sync')).toBe(503);
      expect(await status(r, '/async')).toBe(503);
      expect(await status(r, '/read-only-quorum')).toBe(200);
    }
    expect(await status(leader, '/quorum')).toBe(503);
    expect(await status(leader, '/read-only-quorum')).toBe(200);
    // ANY 1: a commit waits while no replica confirms it, and goes on with any one of them.
    const replicas = cluster.nodes.filter((n) => n !== leader);
    expect(await commitsWithout(leader, replicas)).toBe(false);
    expect(await commitsWithout(leader, replicas.slice(0, 2))).toBe(true);
  });

  it('k = 1: two replicas stalled, then the primary loses power: the one that acknowledged takes over, 0 acknowledged writes lost', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    const replicas = cluster.nodes.filter((n) => n !== leader);
    const [keep, ...stalled] = replicas as [HaNode, HaNode, HaNode];
    let killed = false;
    const writer = new Writer(() => cluster.nodes.filter((n) => n !== leader || !killed), nextId, 50).start();
    await waitFor(() => writer.acks.length >= 10, { timeoutMs: 20_000, describe: () => 'writer running' });
    const pids = await senderPids(leader, stalled);
    expect(pids).toHaveLength(2);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    const stalledAt = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    const ackedWhileStalled = writer.acks.filter((a) => a.at > stalledAt).length;
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await powerLoss(leader);
    killed = true;
    const newLeader = await cluster.waitForHealthy(replicas, 120_000);
    await writer.stop();
    nextId += writer.acks.length + 1000;
    allAcks.push(...writer.acks.map((a) => a.id));
    const lost = await lostOn(newLeader, allAcks);
    console.log(
      `[measure] quorum k=1: ${ackedWhileStalled} writes acknowledged by ${keep.name} alone while 2 replicas stalled; new leader ${newLeader.name}; ${lost.length} of ${allAcks.length} acknowledged writes lost`,
    );
    expect(ackedWhileStalled).toBeGreaterThan(5);
    expect(newLeader).toBe(keep);
    expect(lost).toEqual([]);
    await rejoin(leader);
    expect(await cluster.waitForHealthy(cluster.nodes, 120_000)).toBe(newLeader);
    await waitForQuorum(newLeader, 3, 2, /^ANY 1 \(/);
  });

  it('k = 2 at run time: ANY 2, quorum 1; losing one synchronous standby does not stop writes; then a primary power loss loses nothing', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    await patchConfig(leader, { synchronous_node_count: 2 });
    await waitForQuorum(leader, 3, 1, /^ANY 2 \(/);
    const replicas = cluster.nodes.filter((n) => n !== leader);
    expect(await commitsWithout(leader, replicas.slice(0, 2))).toBe(false);
    expect(await commitsWithout(leader, replicas.slice(0, 1))).toBe(true);
    let dead: HaNode[] = [];
    const writer = new Writer(() => cluster.nodes.filter((n) => !dead.includes(n)), nextId, 50).start();
    await waitFor(() => writer.acks.length >= 10, { timeoutMs: 20_000, describe: () => 'writer running' });
    const standby = cluster.nodes.find((n) => n !== leader)!;
    const lossAt = await powerLoss(standby);
    dead = [standby];
    await waitFor(() => writer.acks.filter((a) => a.at > lossAt + 500).length >= 20, {
      timeoutMs: 15_000,
      describe: () => 'writes go on without the lost standby',
    });
    const gap = writer.maxGap(lossAt);
    console.log(`[measure] quorum k=2: one synchronous standby lost, longest gap between acknowledged writes ${gap.gapMs} ms`);
    // The key follows: 2 voters with quorum 0 (ANY 2 of 2).
    await waitForQuorum(leader, 2, 0, /^ANY 2 \(/);
    const rest = cluster.nodes.filter((n) => n !== leader && n !== standby);
    await new Promise((r) => setTimeout(r, 1000));
    await powerLoss(leader);
    dead = [standby, leader];
    const newLeader = await cluster.waitForHealthy(rest, 120_000);
    await writer.stop();
    nextId += writer.acks.length + 1000;
    allAcks.push(...writer.acks.map((a) => a.id));
    const lost = await lostOn(newLeader, allAcks);
    console.log(`[measure] quorum k=2: primary power loss, new leader ${newLeader.name}; ${lost.length} of ${allAcks.length} acknowledged writes lost`);
    expect(lost).toEqual([]);
    await rejoin(standby);
    await rejoin(leader);
    expect(await cluster.waitForHealthy(cluster.nodes, 150_000)).toBe(newLeader);
  });

  it('synchronous_mode: on with synchronous_node_count: 2: `2 (a,b)`, both in the key, /sync answers for them', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    await patchConfig(leader, { synchronous_mode: true });
    const voters = await waitForQuorum(leader, 2, 0, /^2 \("[^"]+","[^"]+"\)$/);
    const rows = await sql<{ application_name: string; sync_state: string }>(leader.pgPort, 'SELECT application_name, sync_state FROM pg_stat_replication');
    for (const v of voters) expect(rows.find((r) => r.application_name === v)?.sync_state).toBe('sync');
    for (const v of voters)
      await waitFor(async () => (await status(cluster.byName(v), '/sync')) === 200, { timeoutMs: 15_000, describe: () => `GET /sync 200 on ${v}` });
    const other = cluster.nodes.find((n) => n !== leader && !voters.includes(n.name))!;
    // Each member sees the key at its next cycle.
    await waitFor(async () => (await status(other, '/sync')) === 503 && (await status(other, '/quorum')) === 503, {
      timeoutMs: 15_000,
      describe: () => `GET /sync and /quorum 503 on ${other.name}`,
    });
    const lost = await lostOn(leader, allAcks);
    expect(lost).toEqual([]);
  });

  it('[measure] commit latency: asynchronous, quorum k = 1 and k = 2, on the same cluster in the same run', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 60_000);
    await sql(leader.pgPort, 'CREATE TABLE lat_probe (id bigserial PRIMARY KEY, v int)');
    const modes = [
      { name: 'asynchronous', config: { synchronous_mode: false }, ready: async () => (await ssn(leader)) === '' && (await syncKey()) === undefined },
      { name: 'quorum k=1', config: { synchronous_mode: 'quorum', synchronous_node_count: 1 }, ready: async () => quorumReady(leader, 2, /^ANY 1 \(/) },
      { name: 'quorum k=2', config: { synchronous_mode: 'quorum', synchronous_node_count: 2 }, ready: async () => quorumReady(leader, 1, /^ANY 2 \(/) },
    ];
    const samples = new Map<string, number[]>(modes.map((m) => [m.name, []]));
    const client = new pg.Client({ host: '127.0.0.1', port: leader.pgPort, user: 'postgres', password: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      // Two interleaved rounds of 300 single-row commits per mode, after 20 unmeasured ones.
      for (let round = 0; round < 2; round++) {
        for (const mode of modes) {
          await patchConfig(leader, mode.config);
          await waitFor(mode.ready, { timeoutMs: 60_000, intervalMs: 250, describe: () => `${mode.name} in place` });
          for (let i = 0; i < 320; i++) {
            const t0 = process.hrtime.bigint();
            await client.query('INSERT INTO lat_probe (v) VALUES ($1)', [i]);
            if (i >= 20) samples.get(mode.name)!.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
        }
      }
    } finally {
      await client.end();
    }
    const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
    for (const [name, xs] of samples) {
      console.log(
        `[measure] ${name}: ${xs.length} commits, median ${pct(xs, 0.5).toFixed(2)} ms, p99 ${pct(xs, 0.99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`,
      );
    }
    expect(samples.get('quorum k=2')!.length).toBe(600);
  });
});

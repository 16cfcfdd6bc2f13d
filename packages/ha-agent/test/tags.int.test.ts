import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, serverUser, waitFor, type TempDir } from '@pgtools/testkit';
import { api, HaCluster, patroni, powerLoss, sql, type HaNode } from './ha-cluster.js';

// Patroni 4's tags on three real agents (real etcd, PostgreSQL 15), one cluster in sequence:
// failover_priority decides a race at equal WAL position; replicatefrom makes a cascading replica
// (and hactl topology shows the tree pg_stat_wal_receiver reports); nostream replays from the
// archive only; a member with failover_priority 0 never takes over. Tags change with
// `agent.reload()` (Patroni re-reads them on SIGHUP).
const SCOPE = 'hatags';
const HACTL = resolve(dirname(fileURLToPath(import.meta.url)), '../../../apps/ha-agent/bin/hactl.js');
const run = promisify(execFile);
let cluster: HaCluster;
let archive: TempDir;

beforeAll(async () => {
  // The archive is written and read by the PostgreSQL OS user.
  archive = await makeTempDir('ha-archive', serverUser());
  const a = archive.path;
  cluster = await HaCluster.start({
    scope: SCOPE,
    parameters: { archive_mode: 'on', archive_command: `test ! -f ${a}/%f && cp %p ${a}/%f`, restore_command: `cp ${a}/%f %p` },
  });
}, 150_000);

afterAll(async () => {
  await cluster?.destroy();
  archive?.remove();
}, 120_000);

/** Gives `node` these tags (on top of its configuration), as a SIGHUP with an edited file would. */
function retag(node: HaNode, tags: Record<string, unknown>): void {
  node.agent.reload(cluster.configOf(node, (y) => `${y}tags: ${JSON.stringify(tags)}\n`));
}

/** The port `node`'s WAL receiver streams from, or undefined when it has none streaming. */
async function receiverPort(node: HaNode): Promise<number | undefined> {
  const rows = await sql<{ sender_port: number }>(node.pgPort, "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'");
  return rows[0]?.sender_port;
}

async function streamsFrom(replica: HaNode, upstream: HaNode, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      if ((await receiverPort(replica)) !== upstream.pgPort) return false;
      const rows = await sql(upstream.pgPort, "SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", [replica.name]);
      return rows.length === 1;
    },
    { timeoutMs, intervalMs: 250, describe: () => `${replica.name} streaming from ${upstream.name}` },
  );
}

async function hactlTopology(node: HaNode): Promise<string> {
  const { stdout } = await run(process.execPath, [HACTL, '-c', node.configFile, 'topology'], {
    timeout: 30_000,
    env: { ...process.env, PATRONICTL_CONFIG_FILE: '' },
  });
  return stdout;
}

/** Messages of `node`'s decisions seen after `since`. */
const messagesOf = (node: HaNode, since: number): string[] => node.events.flatMap((e) => (e.type === 'action' && e.at >= since ? [e.action.message] : []));

describe('tags on a real cluster', () => {
  let first: HaNode;
  let high: HaNode;
  let low: HaNode;

  it('failover_priority: at the same WAL position the higher priority wins the race', async () => {
    first = await cluster.waitForHealthy(cluster.nodes, 90_000);
    [high, low] = cluster.nodes.filter((n) => n !== first) as [HaNode, HaNode];
    retag(high, { failover_priority: 2 });
    retag(low, { failover_priority: 1 });
    await sql(first.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY)');
    await sql(first.pgPort, 'INSERT INTO ha_probe VALUES (1)');
    // Same WAL position on both replicas: what the primary flushed, received by each.
    await waitFor(
      async () => {
        const [flush] = await sql<{ lsn: string }>(first.pgPort, 'SELECT pg_current_wal_flush_lsn()::text AS lsn');
        const got = await Promise.all(
          [high, low].map(async (n) => (await sql<{ lsn: string }>(n.pgPort, 'SELECT pg_last_wal_receive_lsn()::text AS lsn'))[0]?.lsn),
        );
        return got.every((l) => l === flush?.lsn);
      },
      { timeoutMs: 30_000, intervalMs: 200, describe: () => 'both replicas at the primary flush position' },
    );
    const killedAt = Date.now();
    expect(first.agent.pg.postmaster?.pid).toBeDefined();
    // Power loss of the primary: no final WAL, the leader key expires after ttl.
    await powerLoss(first);
    await waitFor(() => cluster.leaders([high, low]).length === 1, { timeoutMs: 90_000, intervalMs: 200, describe: () => 'a new leader' });
    expect(cluster.leaders([high, low]).map((n) => n.name)).toEqual([high.name]);
    // Every race the lower-priority replica ran, it lost for its priority (not for its WAL position).
    const raced = messagesOf(low, killedAt).filter((m) => /not the healthiest node|acquiring session lock/.test(m));
    for (const m of raced)
      expect(m).toBe(
        `following a different leader because I am not the healthiest node: ${high.name} has equally tolerable WAL position and priority 2, while this node has priority 1`,
      );
    await streamsFrom(low, high);
  }, 180_000);

  it('replicatefrom: the replica streams from the named replica, back to the leader while that one is down; hactl topology shows the real tree', async () => {
    const leader = high;
    const middle = first;
    const leaf = low;
    // The old primary comes back as a replica (rewound).
    middle.agent = cluster.newAgent(middle);
    await middle.agent.start();
    await cluster.waitForHealthy(cluster.nodes, 90_000);

    retag(leaf, { replicatefrom: middle.name });
    await streamsFrom(leaf, middle);
    // Its slot is on the replica it streams from; the leader dropped its own once unused.
    await waitFor(async () => (await sql(middle.pgPort, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [leaf.name])).length === 1, {
      timeoutMs: 30_000,
      describe: () => `an active slot for ${leaf.name} on ${middle.name}`,
    });
    await waitFor(async () => (await sql(leader.pgPort, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [leaf.name])).length === 0, {
      timeoutMs: 30_000,
      describe: () => `no slot for ${leaf.name} on the leader`,
    });
    let tree = '';
    await waitFor(
      async () => {
        tree = await hactlTopology(leader);
        const rows = tree.split('\n').filter((l) => l.startsWith('| '));
        const at = (label: string) => rows.findIndex((l) => l.startsWith(`| ${label} `));
        const l = at(leader.name);
        const m = at(`+ ${middle.name}`);
        const f = at(`  + ${leaf.name}`);
        return l >= 0 && m === l + 1 && f === m + 1;
      },
      { timeoutMs: 30_000, intervalMs: 1000, describe: () => `hactl topology with ${leaf.name} under ${middle.name}:\n${tree}` },
    );

    // The named replica stops: back to the leader (its key says stopped), by a reload.
    const stoppedAt = Date.now();
    await middle.agent.stop();
    await streamsFrom(leaf, leader);
    expect(leaf.events.some((e) => e.type === 'upstream_changed' && e.at >= stoppedAt && e.upstream === leader.name)).toBe(true);
    await waitFor(async () => (await hactlTopology(leader)).includes(`| + ${leaf.name} `), {
      timeoutMs: 30_000,
      intervalMs: 1000,
      describe: () => 'topology after the stop',
    });

    // It comes back: the cascade resumes.
    middle.agent = cluster.newAgent(middle);
    await middle.agent.start();
    await streamsFrom(leaf, middle, 90_000);
  }, 240_000);

  it('nostream: the replica replays from the archive only (no WAL receiver, no slot); failover_priority 0 never takes over', async () => {
    const leader = high;
    const middle = first;
    const archived = low;
    retag(archived, { nostream: true, failover_priority: 0 });
    await waitFor(async () => (await sql(archived.pgPort, 'SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL')).length === 0, {
      timeoutMs: 30_000,
      describe: () => `no WAL receiver on ${archived.name}`,
    });
    expect((await sql<{ primary_conninfo: string }>(archived.pgPort, 'SHOW primary_conninfo'))[0]?.primary_conninfo).toBe('');
    await sql(leader.pgPort, 'INSERT INTO ha_probe VALUES (3)');
    await sql(leader.pgPort, 'SELECT pg_switch_wal()');
    await cluster.waitForRow(archived, 3, 60_000);
    expect(await sql(archived.pgPort, 'SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL')).toEqual([]);
    // The REST API tells the two kinds of replica apart, as Patroni 4 does: `replication_state` in
    // /patroni, `?replication_state=streaming` on the replica checks, and /readiness (streaming only).
    const codes = async (n: HaNode): Promise<number[]> =>
      Promise.all(
        ['/replica?replication_state=streaming', '/readiness', '/read-only?replication_state=streaming'].map(
          async (path) => (await api(n, 'GET', path)).status,
        ),
      );
    await waitFor(async () => (await patroni(archived)).replication_state === 'in archive recovery', {
      timeoutMs: 10_000,
      describe: () => `${archived.name} in archive recovery`,
    });
    expect(await codes(archived)).toEqual([503, 503, 503]);
    expect((await patroni(middle)).replication_state).toBe('streaming');
    await waitFor(async () => (await codes(middle)).every((c) => c === 200), { timeoutMs: 10_000, describe: () => `${middle.name} ready and streaming` });
    expect((await api(leader, 'GET', '/read-only-sync')).status).toBe(200);
    // No slot for it anywhere: the leader's and the former upstream's are dropped.
    for (const n of [leader, middle]) {
      await waitFor(async () => (await sql(n.pgPort, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [archived.name])).length === 0, {
        timeoutMs: 30_000,
        describe: () => `no slot for ${archived.name} on ${n.name}`,
      });
    }

    // Alone with failover_priority 0: it stays a replica and the cluster stays without a leader.
    await middle.agent.stop();
    const killedAt = Date.now();
    expect(leader.agent.pg.postmaster?.pid).toBeDefined();
    await powerLoss(leader);
    await waitFor(() => messagesOf(archived, killedAt).some((m) => m.endsWith('not the healthiest node: nofailover is set')), {
      timeoutMs: 60_000,
      intervalMs: 200,
      describe: () => `${archived.name} out of the race: ${JSON.stringify(messagesOf(archived, killedAt).slice(-3))}`,
    });
    await new Promise((r) => setTimeout(r, 3 * cluster.timings.loopWait * 1000));
    expect(archived.agent.holdsLeaderKey).toBe(false);
    expect((await sql<{ r: boolean }>(archived.pgPort, 'SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(true);
  }, 180_000);
});

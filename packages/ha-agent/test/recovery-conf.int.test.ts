import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, sql, type HaNode } from './ha-cluster.js';

// postgresql.recovery_conf on real servers: the replica runs with the extra recovery setting (here a
// one-hour apply delay, which shows in replay), the primary never gets it, and a switchover moves it
// with the standby role.
const SCOPE = 'recovery-conf';
const DELAY = `\n  recovery_conf: {recovery_min_apply_delay: 1h}`;
const withDelay = (yaml: string) => yaml.replace(/(\n  parameters: \{unix_socket_directories[^\n]*)/, `$1${DELAY}`);

let cluster: HaCluster;
let leader: HaNode;
let replica: HaNode;

const setting = async (node: HaNode) => (await sql<{ v: string }>(node.pgPort, "SELECT current_setting('recovery_min_apply_delay') AS v"))[0]?.v;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: SCOPE }, 2);
  leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
  replica = cluster.nodes.find((n) => n !== leader)!;
  // Both agents restart with the delay in their local configuration.
  for (const node of [replica, leader]) {
    await node.agent.stop();
    node.agent = cluster.newAgent(node, withDelay);
    await node.agent.start();
  }
  leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
  replica = cluster.nodes.find((n) => n !== leader)!;
}, 240_000);

afterAll(async () => {
  await cluster?.destroy();
});

describe('postgresql.recovery_conf', () => {
  it('the replica runs with it and delays replay; the primary does not have it', async () => {
    expect(await setting(replica)).toBe('1h');
    expect(await setting(leader)).toBe('0');
    await sql(leader.pgPort, 'CREATE TABLE IF NOT EXISTS delayed (id int)');
    await sql(leader.pgPort, 'INSERT INTO delayed VALUES (1)');
    const lsn = (await sql<{ l: string }>(leader.pgPort, 'SELECT pg_current_wal_lsn()::text AS l'))[0]!.l;
    // Received right away, not replayed: the delay is in force.
    await waitFor(async () => (await sql<{ ok: boolean }>(replica.pgPort, 'SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AS ok', [lsn]))[0]?.ok === true, {
      timeoutMs: 20_000,
      describe: () => 'the replica received the insert',
    });
    expect((await sql<{ ok: boolean }>(replica.pgPort, 'SELECT pg_last_wal_replay_lsn() < $1::pg_lsn AS ok', [lsn]))[0]?.ok).toBe(true);
  });

  it('follows the role: after a switchover the new primary drops it and the new replica gets it', async () => {
    // The delayed replica could never catch up for a switchover; drop the delay on it through a new agent first.
    await replica.agent.stop();
    replica.agent = cluster.newAgent(replica);
    await replica.agent.start();
    await cluster.waitForHealthy(cluster.nodes, 90_000);
    const res = await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: replica.name });
    expect(res.status).toBe(200);
    expect(await cluster.waitForHealthy(cluster.nodes, 90_000)).toBe(replica);
    await waitFor(async () => (await setting(leader)) === '1h', { timeoutMs: 30_000, describe: () => 'the old primary runs as a replica with the delay' });
    expect(await setting(replica)).toBe('0');
  });
});

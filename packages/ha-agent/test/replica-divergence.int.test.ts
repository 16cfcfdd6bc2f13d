import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { HaCluster, sql, timingsFromEnv, type HaNode } from './ha-cluster.js';

// A replica that keeps streaming from an old primary which goes on writing after a failover (here:
// the fence is off and the old primary's agent is lost) ends up past the new leader's fork point.
// It must be found from the leader's timeline history and rewound, not left failing to stream.
// The follower's agent is away during the failover (its PostgreSQL keeps streaming from the old
// primary): with its agent there, it may repoint at the new leader before the fork and be right not
// to rewind, and the test would prove nothing.
const timings = timingsFromEnv();
let cluster: HaCluster;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'hadiverge', timings, softwareFence: false });
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

describe('a replica past the new leader fork point', () => {
  it('is rewound from the new leader and streams again', async () => {
    const old = await cluster.waitForHealthy(cluster.nodes, 90_000);
    const [winner, follower] = cluster.nodes.filter((n) => n !== old) as [HaNode, HaNode];
    await follower.agent.abandon();
    await sql(old.pgPort, 'CREATE TABLE diverge_probe (id bigserial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())');

    // Keep committing on the old primary, every few ms, through the failover.
    const client = new pg.Client({ host: '127.0.0.1', port: old.pgPort, user: 'postgres', password: 'postgres', database: 'postgres' });
    client.on('error', () => undefined);
    await client.connect();
    let writing = true;
    const writes = (async () => {
      while (writing) {
        await client.query('INSERT INTO diverge_probe DEFAULT VALUES').catch(() => undefined);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await old.agent.abandon();
      await waitFor(() => winner.agent.holdsLeaderKey && winner.agent.role === 'primary', {
        timeoutMs: (timings.ttl + 4 * timings.loopWait + 30) * 1000,
        intervalMs: 50,
        describe: () => `${winner.name} promoted`,
      });
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      writing = false;
      await writes;
      await client.end().catch(() => undefined);
    }
    // End the split brain: the orphan stops (its postmaster and backends).
    process.kill(-old.agent.pg.postmaster!.pid, 'SIGKILL');

    const [fork] = await sql<{ fork: string }>(
      winner.pgPort,
      "SELECT split_part(split_part(pg_read_file('pg_wal/00000002.history'), E'\\t', 2), E'\\n', 1) AS fork",
    );
    const [past] = await sql<{ past: boolean }>(follower.pgPort, 'SELECT pg_last_wal_replay_lsn() > $1::pg_lsn AS past', [fork?.fork]);
    expect(past?.past, `the follower replayed past the fork point ${fork?.fork}`).toBe(true);

    follower.events.length = 0;
    follower.agent = cluster.newAgent(follower);
    await follower.agent.start();
    const rest = [winner, follower];
    expect(await cluster.waitForHealthy(rest, 90_000)).toBe(winner);
    expect(follower.events.some((e) => e.type === 'rewound')).toBe(true);
    const repl = await sql<{ application_name: string; state: string }>(winner.pgPort, 'SELECT application_name, state FROM pg_stat_replication');
    expect(repl.find((r) => r.application_name === follower.name)?.state).toBe('streaming');
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, patroni, sql, timingsFromEnv, type HaNode } from './ha-cluster.js';

// Rewind and timelines on real servers: use_pg_rewind is OFF in the dynamic configuration and
// check_timeline ON. (a) a diverged former primary whose own postgresql section says
// use_pg_rewind: true is rewound; (b) one that says remove_data_directory_on_diverged_timelines
// is cloned again; (c) a member on an old timeline does not win the leader race.
// A former primary diverges for sure: its agent is lost (no fence), its replicas are cut off, and
// it keeps committing after another member was promoted, then it loses power.
const timings = timingsFromEnv();
let cluster: HaCluster;

const dcsEdit = (yaml: string): string =>
  yaml.replace('      use_pg_rewind: true', '      use_pg_rewind: false').replace(/^( {4}retry_timeout: .*)$/m, '$1\n    check_timeline: true');
const localKey = (line: string) => (yaml: string) => yaml.replace(/^postgresql:\n/m, `postgresql:\n  ${line}\n`);

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'harewind', timings, softwareFence: false, editYaml: dcsEdit });
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

/** Loses `old` (the leader) while it keeps committing past the promotion of another member; returns the new leader. */
async function divergeLeader(old: HaNode, rest: HaNode[]): Promise<HaNode> {
  await sql(old.pgPort, 'CREATE TABLE IF NOT EXISTS diverge_probe (id bigserial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())');
  await old.agent.abandon();
  // The replicas stop receiving from it at the same position (else one may hold WAL the other
  // lacks, or their positions keep moving past each other in the race): its pg_hba.conf (the agent
  // that wrote it is gone) rejects new replication connections, and once both have everything,
  // the senders end.
  const hba = join(old.dir.path, 'data', 'pg_hba.conf');
  writeFileSync(hba, `host replication all 127.0.0.1/32 reject\n${readFileSync(hba, 'utf8')}`);
  await sql(old.pgPort, 'SELECT pg_reload_conf()');
  const [{ lsn } = { lsn: '' }] = await sql<{ lsn: string }>(old.pgPort, 'SELECT pg_current_wal_lsn()::text AS lsn');
  await waitFor(
    async () => {
      const rows = await sql<{ caught: boolean }>(old.pgPort, 'SELECT flush_lsn >= $1::pg_lsn AS caught FROM pg_stat_replication', [lsn]);
      return rows.length === rest.length && rows.every((r) => r.caught);
    },
    { timeoutMs: 30_000, intervalMs: 50, describe: () => `the replicas of ${old.name} at ${lsn}` },
  );
  await sql(old.pgPort, 'SELECT pg_terminate_backend(pid) FROM pg_stat_replication');
  // From here on it writes WAL nobody else has.
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
  let winner: HaNode | undefined;
  try {
    await waitFor(
      () => {
        winner = cluster.leaders(rest)[0];
        return winner !== undefined;
      },
      { timeoutMs: (timings.ttl + 4 * timings.loopWait + 30) * 1000, intervalMs: 50, describe: () => 'a new leader promoted' },
    );
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    writing = false;
    await writes;
    await client.end().catch(() => undefined);
  }
  process.kill(-old.agent.pg.postmaster!.pid, 'SIGKILL');
  return winner!;
}

/** The timeline `node` reports on `GET /patroni`. */
async function timelineOf(node: HaNode): Promise<number> {
  return Number((await patroni(node)).timeline);
}

describe('rewind and timelines with use_pg_rewind off in the dynamic configuration', () => {
  it('(a) a diverged former primary with use_pg_rewind: true in its local postgresql section is rewound and rejoins', async () => {
    const old = await cluster.waitForHealthy(cluster.nodes, 90_000);
    const rest = cluster.nodes.filter((n) => n !== old);
    const winner = await divergeLeader(old, rest);
    expect(await cluster.waitForHealthy(rest, 90_000)).toBe(winner);

    old.events.length = 0;
    old.agent = cluster.newAgent(old, localKey('use_pg_rewind: true'));
    await old.agent.start();
    expect(await cluster.waitForHealthy(cluster.nodes, 120_000)).toBe(winner);
    const rewinds = old.events.filter((e) => e.type === 'rewound');
    // Once: a rewound replica replaying onto the leader's timeline does not look diverged again.
    expect(rewinds, 'the former primary ran pg_rewind once').toHaveLength(1);
    const rewound = rewinds[0];
    expect(rewound?.type === 'rewound' && rewound.changed, 'pg_rewind had WAL to undo (it diverged)').toBe(true);
    expect(old.events.some((e) => e.type === 'cloned')).toBe(false);
    expect(await timelineOf(old)).toBe(await timelineOf(winner));
  });

  it('(b) a diverged former primary without pg_rewind and remove_data_directory_on_diverged_timelines: true is cloned again', async () => {
    const old = await cluster.waitForHealthy(cluster.nodes, 90_000);
    const rest = cluster.nodes.filter((n) => n !== old);
    const winner = await divergeLeader(old, rest);
    expect(await cluster.waitForHealthy(rest, 90_000)).toBe(winner);

    old.events.length = 0;
    old.agent = cluster.newAgent(old, localKey('remove_data_directory_on_diverged_timelines: true'));
    await old.agent.start();
    expect(await cluster.waitForHealthy(cluster.nodes, 120_000)).toBe(winner);
    const actions = old.events.flatMap((e) => (e.type === 'action' ? [e.action] : []));
    expect(actions.filter((a) => a.kind === 'reinitialize' && /diverged timelines/.test(a.message))).toHaveLength(1);
    expect(old.events.filter((e) => e.type === 'cloned')).toHaveLength(1);
    expect(old.events.some((e) => e.type === 'rewound')).toBe(false);
    // Nothing it wrote after the fork survived: its diverge_probe rows are the new leader's.
    const [mine] = await sql<{ n: string }>(old.pgPort, 'SELECT count(*) AS n FROM diverge_probe');
    const [theirs] = await sql<{ n: string }>(winner.pgPort, 'SELECT count(*) AS n FROM diverge_probe');
    expect(mine?.n).toBe(theirs?.n);
  });

  it('(c) check_timeline: a member on an old timeline does not win the race; a member on the cluster timeline does', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    const [behind, candidate] = cluster.nodes.filter((n) => n !== leader) as [HaNode, HaNode];
    // `behind` stops on the current timeline; a switchover then moves the cluster to the next one.
    await behind.agent.stop();
    const before = await timelineOf(leader);
    const res = await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: candidate.name });
    expect(res.status).toBe(200);
    expect(await cluster.waitForHealthy([leader, candidate], 90_000)).toBe(candidate);
    expect(await timelineOf(candidate)).toBe(before + 1);
    // Nobody holds the key: the two on the new timeline stop (the leader last, releasing it).
    await leader.agent.stop();
    await candidate.agent.stop();

    behind.events.length = 0;
    behind.agent = cluster.newAgent(behind);
    await behind.agent.start();
    const lostOnTimeline = (): boolean =>
      behind.events.some((e) => e.type === 'action' && e.action.kind === 'follow' && /behind last known cluster timeline/.test(e.action.message));
    await waitFor(lostOnTimeline, { timeoutMs: 60_000, intervalMs: 200, describe: () => `${behind.name} refusing to race on timeline ${before}` });
    // Several more loops: it never takes the key (without check_timeline it would: nobody is ahead of it).
    await new Promise((r) => setTimeout(r, 4 * timings.loopWait * 1000));
    expect(behind.agent.holdsLeaderKey).toBe(false);
    expect(behind.events.some((e) => e.type === 'leader_acquired' || e.type === 'promoted')).toBe(false);

    candidate.agent = cluster.newAgent(candidate);
    await candidate.agent.start();
    expect(await cluster.waitForHealthy([behind, candidate], 90_000)).toBe(candidate);
    // The candidate came back without the key: it started read-only and promoted again (one more timeline).
    expect(await timelineOf(behind)).toBe(await timelineOf(candidate));
    expect(await timelineOf(behind)).toBeGreaterThan(before + 1);
  });
});

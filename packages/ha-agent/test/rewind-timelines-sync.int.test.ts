import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, sql, timingsFromEnv, type HaNode } from './ha-cluster.js';

// Synchronous mode on real servers: (e) maximum_lag_on_syncnode swaps out a synchronous standby
// that stopped confirming WAL while still connected; (d) primary_stop_timeout forces the stop of a
// demoting primary whose shutdown waits for a standby that does not answer.
// A standby "hangs" by its WAL receiver being SIGSTOPped: the primary keeps its connection (its
// pg_stat_replication row stays `streaming`) while its flush position freezes, and a shutting-down
// primary's WAL sender waits for it to confirm the shutdown checkpoint (until wal_sender_timeout, 60 s).
const timings = timingsFromEnv();
let cluster: HaCluster;
const MAX_LAG = 1_048_576;
const STOP_TIMEOUT = 3;

beforeAll(async () => {
  cluster = await HaCluster.start({
    scope: 'harewindsync',
    timings,
    synchronousMode: true,
    editYaml: (y) => y.replace(/^( {4}retry_timeout: .*)$/m, `$1\n    primary_stop_timeout: ${STOP_TIMEOUT}\n    maximum_lag_on_syncnode: ${MAX_LAG}`),
  });
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

async function syncStandby(node: HaNode): Promise<string | null | undefined> {
  return (await node.agent.dcs.loadCluster()).sync?.value.sync_standby;
}

/** SIGSTOPs `node`'s WAL receiver; returns a function that lets it go on. */
async function hangReceiver(node: HaNode): Promise<() => void> {
  const [row] = await sql<{ pid: number }>(node.pgPort, 'SELECT pid FROM pg_stat_wal_receiver');
  if (!row) throw new Error(`${node.name} has no WAL receiver`);
  process.kill(row.pid, 'SIGSTOP');
  let resumed = false;
  return () => {
    if (resumed) return;
    resumed = true;
    try {
      process.kill(row.pid, 'SIGCONT');
    } catch {
      // already gone
    }
  };
}

describe('synchronous mode with maximum_lag_on_syncnode and primary_stop_timeout', () => {
  it('(e) a synchronous standby lagging more than maximum_lag_on_syncnode is replaced by the healthy one', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    let current: string | null | undefined;
    await waitFor(async () => (current = await syncStandby(leader)) != null, { timeoutMs: 60_000, describe: () => 'a synchronous standby named' });
    const lagging = cluster.byName(String(current));
    const healthy = cluster.nodes.find((n) => n !== leader && n !== lagging)!;
    const resume = await hangReceiver(lagging);
    try {
      // WAL the hung standby never confirms, without waiting for it (synchronous_commit local).
      await sql(leader.pgPort, "SET synchronous_commit = local; CREATE TABLE lag_fill AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 30000) g");
      await waitFor(async () => (await syncStandby(leader)) === healthy.name, {
        timeoutMs: 60_000,
        intervalMs: 200,
        describe: () => `${healthy.name} named synchronous standby instead of ${lagging.name}`,
      });
      // Swapped for its lag, not for a lost connection: it still shows as streaming, far behind.
      const rows = await sql<{ application_name: string; state: string; lag: string; sync_state: string }>(
        leader.pgPort,
        'SELECT application_name, state, sync_state, (pg_current_wal_flush_lsn() - flush_lsn)::text AS lag FROM pg_stat_replication',
      );
      const row = rows.find((r) => r.application_name === lagging.name);
      expect(row?.state).toBe('streaming');
      expect(Number(row?.lag)).toBeGreaterThan(MAX_LAG);
      expect(rows.find((r) => r.application_name === healthy.name)?.sync_state).toBe('sync');
      expect(leader.events.some((e) => e.type === 'sync_standby_changed' && e.standby === healthy.name)).toBe(true);
    } finally {
      resume();
    }
    await cluster.waitForHealthy(cluster.nodes, 90_000);
  });

  it('(d) a switchover whose primary stop hangs on a standby is forced after primary_stop_timeout', async () => {
    const leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    let candidateName: string | null | undefined;
    await waitFor(async () => (candidateName = await syncStandby(leader)) != null, { timeoutMs: 60_000, describe: () => 'a synchronous standby named' });
    const candidate = cluster.byName(String(candidateName));
    const other = cluster.nodes.find((n) => n !== leader && n !== candidate)!;
    // Patroni refuses a switchover to a member that is not a synchronous standby, before acting.
    const refused = await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: other.name });
    expect([refused.status, refused.text]).toEqual([412, 'candidate name does not match with sync_standby']);
    const resume = await hangReceiver(other);
    const t0 = Date.now();
    try {
      const res = await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: candidate.name });
      expect(res.status).toBe(200);
      await waitFor(() => leader.events.some((e) => e.type === 'postgres_stop_forced'), {
        timeoutMs: 40_000,
        intervalMs: 100,
        describe: () => `${leader.name}'s stop forced after primary_stop_timeout`,
      });
    } finally {
      resume();
    }
    const forced = leader.events.find((e) => e.type === 'postgres_stop_forced');
    expect(forced?.type === 'postgres_stop_forced' && forced.timeoutSeconds).toBe(STOP_TIMEOUT);
    // Well before the 60 s the WAL sender would have waited for the hung standby.
    expect((forced?.at ?? Infinity) - t0).toBeLessThan(25_000);
    expect(await cluster.waitForHealthy(cluster.nodes, 120_000)).toBe(candidate);
  });
});

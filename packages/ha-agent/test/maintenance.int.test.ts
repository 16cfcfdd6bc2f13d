import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, patroni, sql, type HaNode } from './ha-cluster.js';

// POST/DELETE /restart, POST /reinitialize and a scheduled switchover against three real agents.
let cluster: HaCluster;
let leader: HaNode;
let replica: HaNode;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: 'hamaint' });
  leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
  replica = cluster.nodes.find((n) => n !== leader)!;
  await sql(leader.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
}, 150_000);

afterAll(async () => {
  await cluster?.destroy();
}, 120_000);

const inSeconds = (s: number): string => new Date(Date.now() + s * 1000).toISOString().replace('Z', '+00:00');

describe('REST maintenance: restart, reinitialize, scheduled switchover', () => {
  it('POST /restart restarts a replica in place; role filters that do not match answer 503', async () => {
    const pid = replica.agent.pg.postmaster!.pid;
    expect(await api(replica, 'POST', '/restart', { role: 'primary' })).toEqual({ status: 503, text: 'restart conditions are not satisfied' });
    expect(replica.agent.pg.postmaster!.pid).toBe(pid);
    expect(await api(replica, 'POST', '/restart', { role: 'replica' })).toEqual({ status: 200, text: 'restarted successfully' });
    expect(replica.agent.pg.postmaster!.pid).not.toBe(pid);
    expect(replica.agent.role).toBe('replica');
    expect(await cluster.waitForHealthy()).toBe(leader);
  });

  it('POST /restart on the leader keeps the leader key and the timeline', async () => {
    const pid = leader.agent.pg.postmaster!.pid;
    const tl = (await patroni(leader)).timeline;
    expect(await api(leader, 'POST', '/restart', {})).toEqual({ status: 200, text: 'restarted successfully' });
    expect(leader.agent.pg.postmaster!.pid).not.toBe(pid);
    expect(await cluster.waitForHealthy()).toBe(leader);
    expect((await patroni(leader)).timeline).toBe(tl);
    expect(cluster.nodes.some((n) => n.events.some((e) => e.type === 'promoted'))).toBe(false);
  });

  it('a scheduled restart shows in GET /patroni, can be deleted, and runs at its time', async () => {
    const r1 = await api(replica, 'POST', '/restart', { schedule: inSeconds(60) });
    expect(r1).toEqual({ status: 202, text: 'Restart scheduled' });
    expect((await patroni(replica)).scheduled_restart).toMatchObject({ schedule: expect.any(String) });
    expect(await api(replica, 'POST', '/restart', { schedule: inSeconds(90) })).toEqual({ status: 409, text: 'Another restart is already scheduled' });
    expect(await api(replica, 'DELETE', '/restart')).toEqual({ status: 200, text: 'scheduled restart deleted' });
    expect(await api(replica, 'DELETE', '/restart')).toEqual({ status: 404, text: 'no restarts are scheduled' });
    expect((await patroni(replica)).scheduled_restart).toBeUndefined();

    const pid = replica.agent.pg.postmaster!.pid;
    const at = Date.now() + 4000;
    expect((await api(replica, 'POST', '/restart', { schedule: new Date(at).toISOString().replace('Z', '+00:00') })).status).toBe(202);
    await waitFor(() => replica.agent.pg.postmaster?.pid !== pid, { timeoutMs: 20_000, intervalMs: 100, describe: () => 'the scheduled restart' });
    expect(Date.now()).toBeGreaterThanOrEqual(at - 1000); // ISO seconds are truncated to ms precision: allow rounding
    await cluster.waitForHealthy();
  });

  it('POST /reinitialize clones a replica again from the leader; the leader refuses', async () => {
    expect(await api(leader, 'POST', '/reinitialize', {})).toEqual({ status: 503, text: 'I am the leader, can not reinitialize' });
    await sql(leader.pgPort, 'INSERT INTO ha_probe (id) VALUES (1)');
    replica.events.length = 0;
    expect(await api(replica, 'POST', '/reinitialize', {})).toEqual({ status: 200, text: 'reinitialize started' });
    await waitFor(() => replica.events.some((e) => e.type === 'cloned'), { timeoutMs: 60_000, describe: () => 'the clone' });
    expect(await cluster.waitForHealthy()).toBe(leader);
    await cluster.waitForRow(replica, 1);
  });

  it('a scheduled switchover waits for its time, then hands over', async () => {
    const candidate = cluster.nodes.find((n) => n !== leader && n !== replica)!;
    const at = Date.now() + 6000;
    const r = await api(leader, 'POST', '/switchover', {
      leader: leader.name,
      candidate: candidate.name,
      scheduled_at: new Date(at).toISOString().replace('Z', '+00:00'),
    });
    expect(r).toEqual({ status: 202, text: 'Switchover scheduled' });
    await new Promise((res) => setTimeout(res, 3000));
    expect(cluster.leaders()).toEqual([leader]);
    await waitFor(() => cluster.leaders()[0] === candidate, { timeoutMs: 30_000, intervalMs: 100, describe: () => 'the scheduled switchover' });
    // Judged on when the old leader starts handing over, not on when the candidate is done (a
    // checkpoint, a shutdown and a promotion on a loaded machine).
    const startedAt = leader.events.find((e) => e.type === 'action' && e.action.kind === 'do_switchover')?.at;
    console.log(
      `[measure] scheduled switchover started ${(((startedAt ?? NaN) - at) / 1000).toFixed(2)} s after its time, done ${((Date.now() - at) / 1000).toFixed(2)} s after`,
    );
    expect(startedAt).toBeGreaterThanOrEqual(at);
    expect(startedAt! - at).toBeLessThan(1000); // at its time, not a loop_wait (2 s) later
    expect(await cluster.waitForHealthy()).toBe(candidate);
  });
});

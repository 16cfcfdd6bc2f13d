import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, makeTempDir, serverUser, waitFor, type TempDir } from '@pgtools/testkit';
import { api, HaCluster, powerLoss, sql, type HaNode } from './ha-cluster.js';

// Patroni's postgresql.callbacks on two real agents (real etcd, PostgreSQL 15): a script appends
// the words it was called with to callbacks.log in its node's directory.
const SCOPE = 'hacb';
let cluster: HaCluster;
let scripts: TempDir;

beforeAll(async () => {
  // Callbacks run as the PostgreSQL OS user (like Patroni's own user): the script must be theirs to run.
  scripts = await makeTempDir('callbacks', serverUser());
  const script = join(scripts.path, 'cb.sh');
  // argv: <node dir> <action> <role> <cluster name>. With <node dir>/slow present, it stays
  // running with a child (sleep) until killed.
  writeFileSync(
    script,
    `#!/bin/sh
echo "$2 $3 $4" >> "$1/callbacks.log"
if [ -e "$1/slow" ]; then sleep 60 & echo $! > "$1/slow-child.pid"; wait; fi
`,
    { mode: 0o755 },
  );
  const actions = ['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'];
  cluster = await HaCluster.start({ scope: SCOPE, callbacks: (dir) => Object.fromEntries(actions.map((a) => [a, `${script} ${dir}`])) }, 2);
}, 150_000);

afterAll(async () => {
  await cluster?.destroy();
  scripts?.remove();
}, 120_000);

const logOf = (node: HaNode): string[] => {
  const file = join(node.dir.path, 'callbacks.log');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
};
/** Every callback but on_reload (a follower reloads when its primary_conninfo changes). */
const lifecycleOf = (node: HaNode): string[] => logOf(node).filter((l) => !l.startsWith('on_reload '));

/** Waits until `node` logged exactly `expected` (lifecycle callbacks) after its first `from` lines, and nothing more for a moment. */
async function expectCallbacks(node: HaNode, from: number, expected: string[], timeoutMs = 30_000): Promise<void> {
  const fresh = (): string[] => lifecycleOf(node).slice(from);
  await waitFor(() => fresh().length >= expected.length, {
    timeoutMs,
    intervalMs: 100,
    describe: () => `${node.name} callbacks ${JSON.stringify(expected)}, got ${JSON.stringify(fresh())}`,
  });
  await new Promise((r) => setTimeout(r, 1000));
  expect(fresh()).toEqual(expected);
}

describe('postgresql.callbacks on a real cluster', () => {
  let leader: HaNode;
  let replica: HaNode;

  it('bootstrap: on_start primary on the leader, on_start replica on the cloned replica', async () => {
    leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
    replica = cluster.nodes.find((n) => n !== leader)!;
    await expectCallbacks(leader, 0, [`on_start primary ${SCOPE}`]);
    await expectCallbacks(replica, 0, [`on_start replica ${SCOPE}`]);
  });

  it('POST /reload: on_reload with the role', async () => {
    const before = logOf(replica).length;
    expect(await api(replica, 'POST', '/reload')).toEqual({ status: 202, text: 'reload scheduled' });
    await waitFor(() => logOf(replica).slice(before).includes(`on_reload replica ${SCOPE}`), { timeoutMs: 20_000, describe: () => 'on_reload on the replica' });
  });

  it('POST /restart: on_restart only (no on_stop, no on_start)', async () => {
    const from = lifecycleOf(replica).length;
    expect(await api(replica, 'POST', '/restart', {})).toEqual({ status: 200, text: 'restarted successfully' });
    await expectCallbacks(replica, from, [`on_restart replica ${SCOPE}`]);
  });

  it('agent stop: on_stop; a new agent starting PostgreSQL again: on_start', async () => {
    const from = lifecycleOf(replica).length;
    await replica.agent.stop();
    await expectCallbacks(replica, from, [`on_stop replica ${SCOPE}`]);
    replica.agent = cluster.newAgent(replica);
    await replica.agent.start();
    expect(await cluster.waitForHealthy(cluster.nodes, 60_000)).toBe(leader);
    await expectCallbacks(replica, from, [`on_stop replica ${SCOPE}`, `on_start replica ${SCOPE}`]);
  });

  it('switchover: on_stop then on_role_change replica on the old primary, on_role_change primary on the new one', async () => {
    const [fromOld, fromNew] = [lifecycleOf(leader).length, lifecycleOf(replica).length];
    const res = await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: replica.name });
    expect(res).toEqual({ status: 200, text: `Successfully switched over to "${replica.name}"` });
    expect(await cluster.waitForHealthy(cluster.nodes, 60_000)).toBe(replica);
    await expectCallbacks(replica, fromNew, [`on_role_change primary ${SCOPE}`]);
    await expectCallbacks(leader, fromOld, [`on_stop primary ${SCOPE}`, `on_role_change replica ${SCOPE}`]);
    [leader, replica] = [replica, leader];
  });

  it('a callback still running when the next one starts is killed with its child; the agent does not wait for it', async () => {
    const marker = join(replica.dir.path, 'slow');
    const childFile = join(replica.dir.path, 'slow-child.pid');
    const from = lifecycleOf(replica).length;
    writeFileSync(marker, '');
    const t0 = Date.now();
    expect(await api(replica, 'POST', '/restart', {})).toEqual({ status: 200, text: 'restarted successfully' });
    await waitFor(() => existsSync(childFile) && Number(readFileSync(childFile, 'utf8')) > 0, {
      timeoutMs: 20_000,
      describe: () => 'the slow on_restart and its child',
    });
    const slow = replica.events.filter((e) => e.type === 'callback_started' && e.action === 'on_restart').at(-1);
    expect(slow?.type).toBe('callback_started');
    const sleeper = Number(readFileSync(childFile, 'utf8'));
    expect(isAlive(sleeper)).toBe(true);
    // Still running well after the restart answered: the HA loop went on.
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(replica.events.some((e) => e.type === 'callback_exited' && slow?.type === 'callback_started' && e.pid === slow.pid)).toBe(false);
    rmSync(marker);
    rmSync(childFile);
    expect(await api(replica, 'POST', '/restart', {})).toEqual({ status: 200, text: 'restarted successfully' });
    await waitFor(() => replica.events.some((e) => e.type === 'callback_exited' && slow?.type === 'callback_started' && e.pid === slow.pid), {
      timeoutMs: 20_000,
      describe: () => 'the slow callback ended',
    });
    expect(replica.events.find((e) => e.type === 'callback_exited' && slow?.type === 'callback_started' && e.pid === slow.pid)).toMatchObject({
      signal: 'SIGKILL',
      code: null,
    });
    await waitFor(() => !isAlive(sleeper), { timeoutMs: 5000, describe: () => 'the killed callback’s child gone' });
    await expectCallbacks(replica, from, [`on_restart replica ${SCOPE}`, `on_restart replica ${SCOPE}`]);
  });

  it('failover after the primary node is lost: on_role_change primary on the replica that takes over', async () => {
    const from = lifecycleOf(replica).length;
    await powerLoss(leader);
    await waitFor(() => replica.agent.holdsLeaderKey && replica.agent.role === 'primary', { timeoutMs: 60_000, describe: () => `${replica.name} promoted` });
    await expectCallbacks(replica, from, [`on_role_change primary ${SCOPE}`]);
  });

  it('lease guard: a primary cut off from etcd stops (on_stop primary) and starts again when etcd is back', async () => {
    const survivor = replica;
    await sql(survivor.pgPort, 'SELECT 1');
    const from = lifecycleOf(survivor).length;
    const [m1, m2] = [cluster.etcd.members[0]!, cluster.etcd.members[1]!];
    await Promise.all([m1.stop(), m2.stop()]);
    try {
      // Whichever notices first stops PostgreSQL: the lease guard's timer ('leader lease expired') or,
      // on a loaded machine, the HA loop once the lease has run out ('DCS is not accessible'). The
      // guard itself is tested in lease-guard.int.test.ts; here the callback is what counts.
      const cutOff = ['leader lease expired', 'DCS is not accessible'];
      await waitFor(() => survivor.events.some((e) => e.type === 'demoted' && cutOff.includes(e.reason)), {
        timeoutMs: 40_000,
        describe: () =>
          `PostgreSQL stopped for the lost lease; events: ${JSON.stringify(survivor.events.filter((e) => e.type === 'demoted' || e.type === 'role_changed'))}`,
      });
      // The first callback is the stop. The whole sequence is checked below, once etcd is back: a
      // quick loop may already restart PostgreSQL read-only while etcd is still down.
      await waitFor(() => lifecycleOf(survivor).length > from, { timeoutMs: 30_000, describe: () => 'a callback after the cut-off' });
      expect(lifecycleOf(survivor)[from]).toBe(`on_stop primary ${SCOPE}`);
    } finally {
      await Promise.all([m1.start(), m2.start()]);
    }
    await waitFor(() => survivor.agent.holdsLeaderKey && survivor.agent.role === 'primary' && survivor.agent.pg.isRunning, {
      timeoutMs: 90_000,
      describe: () => 'the primary back',
    });
    await new Promise((r) => setTimeout(r, 2000));
    const after = lifecycleOf(survivor).slice(from);
    console.log(`[callbacks] after the lease guard: ${JSON.stringify(after)}`);
    // Its leader key expired during the outage: it starts as a replica (a role change, like
    // Patroni's offline demotion) and is promoted again. Or etcd's new leader renewed the key's
    // lease on the way back: it still holds the key and restarts in place as primary (on_start).
    expect([
      [`on_stop primary ${SCOPE}`, `on_role_change replica ${SCOPE}`, `on_role_change primary ${SCOPE}`],
      [`on_stop primary ${SCOPE}`, `on_start primary ${SCOPE}`],
    ]).toContainEqual(after);
  });
});

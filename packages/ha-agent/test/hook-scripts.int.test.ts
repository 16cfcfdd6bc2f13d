import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, type HaNode } from './ha-cluster.js';

// postgresql.pre_promote and postgresql.before_stop on real servers. The scripts append what they
// saw to a log in the node's directory; pre_promote fails while a `fail` marker file exists.
const SCOPE = 'hook-scripts';

const logOf = (node: HaNode): string[] => {
  const file = join(node.dir.path, 'hooks.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
};

const hooks = (yaml: string, dir: string): string => {
  const log = join(dir, 'hooks.log');
  const pre = `sh -c 'echo pre_promote >> ${log}; test ! -f ${join(dir, 'fail')}'`;
  // Runs while PostgreSQL still runs: its pid file is there.
  const stop = `sh -c 'test -f ${join(dir, 'data', 'postmaster.pid')} && echo before_stop running >> ${log}'`;
  return yaml.replace(/(\n  parameters: \{unix_socket_directories[^\n]*)/, `$1\n  pre_promote: ${JSON.stringify(pre)}\n  before_stop: ${JSON.stringify(stop)}`);
};

let cluster: HaCluster;
let leader: HaNode;
let replica: HaNode;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: SCOPE, editYaml: hooks }, 2);
  leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
  replica = cluster.nodes.find((n) => n !== leader)!;
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
});

describe('pre_promote and before_stop', () => {
  it('the bootstrap leader ran no pre_promote (nothing was promoted)', () => {
    expect(logOf(leader)).not.toContain('pre_promote');
  });

  it('a failing pre_promote gives the leader key back and the old primary leads again; before_stop ran before its stop', async () => {
    writeFileSync(join(replica.dir.path, 'fail'), '');
    const res = await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: replica.name });
    expect(res.status).toBeLessThan(600);
    await waitFor(() => replica.events.some((e) => e.type === 'script_exited' && e.script === 'pre_promote' && e.code === 1), {
      timeoutMs: 60_000,
      describe: () => 'the candidate ran pre_promote and it failed',
    });
    expect(await cluster.waitForHealthy(cluster.nodes, 90_000)).toBe(leader);
    expect(replica.events.some((e) => e.type === 'promoted')).toBe(false);
    expect(logOf(replica)).toContain('pre_promote');
    // The old primary was stopped for the switchover: its before_stop saw PostgreSQL running.
    expect(logOf(leader)).toContain('before_stop running');
  });

  it('once the script succeeds (after the backoff), the switchover promotes the candidate', async () => {
    rmSync(join(replica.dir.path, 'fail'));
    const before = logOf(replica).filter((l) => l === 'pre_promote').length;
    await waitFor(async () => (await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: replica.name })).status === 200, {
      timeoutMs: 60_000,
      describe: () => 'a switchover the candidate accepts',
    });
    expect(await cluster.waitForHealthy(cluster.nodes, 90_000)).toBe(replica);
    expect(logOf(replica).filter((l) => l === 'pre_promote').length).toBeGreaterThan(before);
    expect(replica.events.some((e) => e.type === 'script_exited' && e.script === 'pre_promote' && e.code === 0)).toBe(true);
  });
});

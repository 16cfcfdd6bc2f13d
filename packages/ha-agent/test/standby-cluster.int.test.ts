import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { api, HaCluster, patroni, sql, timingsFromEnv, type HaNode } from './ha-cluster.js';

// A standby cluster (issue 18 item 4): a second scope on the same 3-member etcd whose leader, the
// "standby leader", streams from the main cluster's primary (through a slot made for it there)
// and whose other members cascade from it. A switchover, then its leader's loss, elect another
// standby leader that follows the main cluster, promoting nothing; removing `standby_cluster` from its `config` key
// (what `hactl promote-cluster` does) promotes it, and its members stream from it after that.
const timings = timingsFromEnv();
let main: HaCluster | undefined;
let dr: HaCluster | undefined;
/** After the first test: the main cluster's primary and the promoted standby cluster's. */
let mainPrimary: HaNode | undefined;
let drPrimary: HaNode | undefined;

afterAll(async () => {
  await dr?.destroy();
  await main?.destroy();
}, 180_000);

const PATRONICTL = process.env.PATRONICTL_BIN ?? '/usr/bin/patronictl';

/** `patronictl -c <file> list <scope> -f json` (Debian's patronictl 3.0.2) against `hosts`, parsed. */
function patronictlList(dir: string, hosts: string[], scope: string): Promise<Array<{ Member: string; Role: string }>> {
  const config = join(dir, 'patronictl.yml');
  writeFileSync(config, `namespace: /service/\netcd3:\n  hosts: [${hosts.join(', ')}]\n`, { mode: 0o600 });
  return new Promise((resolve, reject) => {
    execFile(
      PATRONICTL,
      ['-c', config, 'list', scope, '-f', 'json'],
      { env: { ...process.env, HOME: '/nonexistent', LC_ALL: 'C.UTF-8' }, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => (error ? reject(new Error(`patronictl failed: ${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    );
  });
}

/** Names of the members streaming from the server on `port` (its pg_stat_replication). */
async function streamingFrom(port: number): Promise<string[]> {
  const rows = await sql<{ application_name: string }>(port, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
  return rows.map((r) => r.application_name).sort();
}

function standbyLeaders(nodes: HaNode[]): HaNode[] {
  return nodes.filter((n) => n.agent.holdsLeaderKey && n.agent.role === 'standby_leader');
}

async function waitForStandbyLeader(nodes: HaNode[], streamers: (leader: HaNode) => HaNode[], timeoutMs: number): Promise<HaNode> {
  let found: HaNode | undefined;
  await waitFor(
    async () => {
      const ls = standbyLeaders(nodes);
      if (ls.length !== 1 || !ls[0]) return false;
      found = ls[0];
      const members = streamers(found);
      // pg_basebackup's walsender has the member's name too: the copy must be done and running.
      if (!members.every((n) => n.agent.role === 'replica')) return false;
      const wanted = members.map((n) => n.name).sort();
      return JSON.stringify(await streamingFrom(found.pgPort).catch(() => [])) === JSON.stringify(wanted);
    },
    { timeoutMs, intervalMs: 250, describe: () => `one standby leader with ${nodes.length - 1} members cascading from it` },
  );
  if (!found) throw new Error('no standby leader');
  return found;
}

describe('a standby cluster', () => {
  it('follows the main cluster, cascades, survives the loss of its leader and is promoted', async () => {
    main = await HaCluster.start({ scope: 'sc-main', timings, namePrefix: 'main' });
    const primary = await main.waitForHealthy(main.nodes, 90_000);
    await sql(primary.pgPort, 'CREATE TABLE ha_probe (id int PRIMARY KEY)');
    await sql(primary.pgPort, 'INSERT INTO ha_probe VALUES (1)');
    // Patroni leaves the remote slot to the main cluster (its permanent slots); made by hand here.
    await sql(primary.pgPort, "SELECT pg_create_physical_replication_slot('dr_site', true)");

    const standby = `    standby_cluster: {host: 127.0.0.1, port: ${primary.pgPort}, primary_slot_name: dr_site, create_replica_methods: [basebackup]}\n`;
    dr = await HaCluster.start({ scope: 'sc-dr', timings, namePrefix: 'dr', etcd: main.etcd, editYaml: (y) => y.replace('  dcs:\n', `  dcs:\n${standby}`) });
    const drNodes = dr.nodes;
    const leader = await waitForStandbyLeader(drNodes, (l) => drNodes.filter((n) => n !== l), 120_000);

    // Patroni's role words: the member key and GET /patroni say standby_leader, GET /cluster too.
    expect((await dr.memberKey(leader.name)).role).toBe('standby_leader');
    expect((await patroni(leader)).role).toBe('standby_leader');
    const cluster = JSON.parse((await api(leader, 'GET', '/cluster')).text) as { members: Array<{ name: string; role: string }> };
    expect(cluster.members.find((m) => m.name === leader.name)?.role).toBe('standby_leader');
    expect((await api(leader, 'GET', '/standby-leader')).status).toBe(200);
    const listed = await patronictlList(leader.dir.path, main.etcd.hosts, 'sc-dr');
    expect(listed.find((m) => m.Member === leader.name)?.Role).toBe('Standby Leader');
    expect((await api(leader, 'GET', '/primary')).status).toBe(503);
    // The standby leader streams from the main primary through its slot; nobody in the DR site is a primary.
    expect(await streamingFrom(primary.pgPort)).toContain(leader.name);
    const [slot] = await sql<{ active: boolean }>(primary.pgPort, "SELECT active FROM pg_replication_slots WHERE slot_name = 'dr_site'");
    expect(slot?.active).toBe(true);
    for (const n of drNodes) expect((await sql<{ r: boolean }>(n.pgPort, 'SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(true);

    // Writes on the main cluster reach every member of the standby cluster.
    await sql(primary.pgPort, 'INSERT INTO ha_probe VALUES (2)');
    for (const n of drNodes) await dr.waitForRow(n, 2, 60_000);
    // The standby leader publishes how far it got in the standby cluster's status key.
    const drCluster = dr;
    await waitFor(
      async () => {
        const text = await drCluster.etcd.etcdctl(['get', '--print-value-only', '/service/sc-dr/status']);
        return text.trim() !== '' && (JSON.parse(text) as { optime: number }).optime > 0;
      },
      { timeoutMs: 30_000, intervalMs: 250, describe: () => 'an optime in /service/sc-dr/status' },
    );

    // A switchover hands the key to the candidate, which follows the main primary; the old
    // standby leader cascades from it.
    const candidate = drNodes.find((n) => n !== leader);
    if (!candidate) throw new Error('no candidate');
    const sw = await api(leader, 'POST', '/switchover', { leader: leader.name, candidate: candidate.name });
    expect(sw).toEqual({ status: 200, text: `Successfully switched over to "${candidate.name}"` });
    expect(await waitForStandbyLeader(drNodes, (l) => drNodes.filter((n) => n !== l), 120_000)).toBe(candidate);
    expect(await streamingFrom(primary.pgPort)).toContain(candidate.name);

    // The standby leader goes away: another member takes the key and follows the main primary;
    // none is promoted.
    await candidate.agent.stop();
    const rest = drNodes.filter((n) => n !== candidate);
    const second = await waitForStandbyLeader(rest, (l) => rest.filter((n) => n !== l), 120_000);
    expect(await streamingFrom(primary.pgPort)).toContain(second.name);
    await sql(primary.pgPort, 'INSERT INTO ha_probe VALUES (3)');
    for (const n of rest) await dr.waitForRow(n, 3, 60_000);
    for (const n of rest) expect((await sql<{ r: boolean }>(n.pgPort, 'SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(true);

    // promote-cluster: PATCH /config {"standby_cluster": null}, as patronictl sends it.
    expect((await api(second, 'PATCH', '/config', { standby_cluster: null })).status).toBe(200);
    await waitFor(() => second.agent.holdsLeaderKey && second.agent.role === 'primary', {
      timeoutMs: 60_000,
      intervalMs: 100,
      describe: () => `${second.name} promoted`,
    });
    await sql(second.pgPort, 'INSERT INTO ha_probe VALUES (4)');
    const follower = rest.find((n) => n !== second);
    if (!follower) throw new Error('no follower');
    await dr.waitForRow(follower, 4, 60_000);
    // It streams from its new primary (not from an archive, not from the main cluster).
    await waitFor(async () => (await streamingFrom(second.pgPort)).includes(follower.name), {
      timeoutMs: 60_000,
      intervalMs: 250,
      describe: () => `${follower.name} streaming from ${second.name}`,
    });
    const [receiver] = await sql<{ sender_port: number; status: string }>(follower.pgPort, 'SELECT sender_port, status FROM pg_stat_wal_receiver');
    expect(receiver).toEqual({ sender_port: second.pgPort, status: 'streaming' });
    expect((await dr.memberKey(second.name)).role).toBe('master');
    expect(await streamingFrom(primary.pgPort)).not.toContain(second.name);

    // Every acknowledged write is on the final primary.
    const ids = await sql<{ id: number }>(second.pgPort, 'SELECT id FROM ha_probe ORDER BY id');
    expect(ids.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    mainPrimary = primary;
    drPrimary = second;
  }, 300_000);

  it('demote-cluster: the former main cluster becomes a standby cluster of the promoted one', async () => {
    if (!main || !mainPrimary || !drPrimary) throw new Error('the first test did not finish');
    const [m, target] = [main, drPrimary];
    // What `hactl demote-cluster --host 127.0.0.1 --port <port>` sends to the leader.
    const standby = { host: '127.0.0.1', port: target.pgPort };
    expect((await api(mainPrimary, 'PATCH', '/config', { standby_cluster: standby })).status).toBe(200);
    // The old primary kept the key, was rewound past its shutdown checkpoint and follows the new primary.
    const leader = await waitForStandbyLeader(m.nodes, (l) => m.nodes.filter((n) => n !== l), 120_000);
    expect(leader).toBe(mainPrimary);
    expect((await m.memberKey(leader.name)).role).toBe('standby_leader');
    expect(await streamingFrom(target.pgPort)).toContain(leader.name);
    await sql(target.pgPort, 'INSERT INTO ha_probe VALUES (5)');
    for (const n of m.nodes) await m.waitForRow(n, 5, 60_000);
    for (const n of m.nodes) expect((await sql<{ r: boolean }>(n.pgPort, 'SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(true);
    const ids = await sql<{ id: number }>(target.pgPort, 'SELECT id FROM ha_probe ORDER BY id');
    expect(ids.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
  }, 240_000);
});

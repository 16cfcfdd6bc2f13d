import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, makeTempDir, pgBinDir, serverUser, waitFor, type TempDir } from '@pgtools/testkit';
import { emptyDataDir } from '../src/internals.js';
import { api, HaCluster, patroni, type HaNode } from './ha-cluster.js';

// postgresql.create_replica_methods on a real 2-node cluster (real etcd, PostgreSQL 15): node2 is
// made again and again with other methods. clone.sh is a custom method that records the argv the
// agent gave it and then runs pg_basebackup itself; fail.sh leaves junk in the data dir and fails.
const SCOPE = 'harm';
const HACTL = resolve(__dirname, '../../../apps/ha-agent/bin/hactl.js');
const run = promisify(execFile);
let cluster: HaCluster;
let scripts: TempDir;
let replica: HaNode;
let leader: HaNode;

const CLONE = `#!/bin/sh
rec=""; datadir=""; conn=""; bindir=""; pause=0
for a in "$@"; do
  case "$a" in
    --record=*) rec="\${a#--record=}";;
    --datadir=*) datadir="\${a#--datadir=}";;
    --connstring=*) conn="\${a#--connstring=}";;
    --bindir=*) bindir="\${a#--bindir=}";;
    --pause=*) pause="\${a#--pause=}";;
  esac
done
printf '%s\\n' "$@" > "$rec"
echo "entries=$(ls -A "$datadir" | wc -l)" > "$rec.state"
echo $$ > "$rec.pid"
if [ "$pause" != 0 ]; then
  mkdir -p "$datadir/partial" && echo x > "$datadir/partial/file"
  sleep "$pause" & echo $! > "$rec.sleep.pid"; wait
fi
exec "$bindir/pg_basebackup" -D "$datadir" -X stream -c fast -d "$conn"
`;

const FAIL = `#!/bin/sh
for a in "$@"; do case "$a" in --datadir=*) d="\${a#--datadir=}";; esac; done
mkdir -p "$d/base" && echo junk > "$d/junk"
exit 1
`;

// A no_leader method: restores a plain pg_basebackup copy taken earlier (--backup=<dir>).
const RESTORE = `#!/bin/sh
for a in "$@"; do
  case "$a" in
    --datadir=*) d="\${a#--datadir=}";;
    --backup=*) b="\${a#--backup=}";;
    --record=*) rec="\${a#--record=}";;
  esac
done
printf '%s\\n' "$@" > "$rec"
cp -a "$b/." "$d/"
`;

beforeAll(async () => {
  // The methods run as the PostgreSQL OS user: the scripts and their records must be theirs.
  scripts = await makeTempDir('replica-methods', serverUser());
  writeFileSync(join(scripts.path, 'clone.sh'), CLONE, { mode: 0o755 });
  writeFileSync(join(scripts.path, 'fail.sh'), FAIL, { mode: 0o755 });
  writeFileSync(join(scripts.path, 'restore.sh'), RESTORE, { mode: 0o755 });
  cluster = await HaCluster.start({ scope: SCOPE }, 2);
  leader = await cluster.waitForHealthy(cluster.nodes, 120_000);
  replica = cluster.nodes.find((n) => n !== leader)!;
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
  scripts?.remove();
}, 120_000);

const dataDir = (n: HaNode): string => join(n.dir.path, 'data');

/** Stops the replica's agent, empties its data dir and starts a new agent with `postgresql` lines added. */
async function remake(node: HaNode, postgresqlLines: string): Promise<void> {
  await node.agent.stop();
  await emptyDataDir(dataDir(node));
  node.events.length = 0;
  node.agent = cluster.newAgent(node, (y) => y.replace('\npostgresql:\n', `\npostgresql:\n${postgresqlLines}`));
  await node.agent.start();
}

const cloneMethod = (name: string, record: string, extra = ''): string =>
  `  ${name}: {command: ${join(scripts.path, 'clone.sh')}, record: ${join(scripts.path, record)}, bindir: ${pgBinDir()}${extra}}\n`;
const failMethod = (): string => `  broken: {command: ${join(scripts.path, 'fail.sh')}}\n`;

/** Waits for the node to be cloned, running as a replica, and streaming (pg_basebackup's own WAL stream alone does not count). */
async function waitForReplica(node: HaNode): Promise<void> {
  await waitFor(() => node.events.some((e) => e.type === 'cloned') && node.agent.role === 'replica', {
    timeoutMs: 120_000,
    describe: () => `${node.name} cloned and running as a replica`,
  });
  await cluster.waitForHealthy(cluster.nodes, 120_000);
}

const lines = (file: string): string[] => readFileSync(join(scripts.path, file), 'utf8').split('\n').filter(Boolean);

describe('postgresql.create_replica_methods on a real cluster', () => {
  it('a custom method gets --scope/--role/--datadir/--connstring and makes a streaming replica', async () => {
    await remake(replica, `  create_replica_methods: [custom]\n${cloneMethod('custom', 'a.argv')}`);
    await waitForReplica(replica);
    const argv = lines('a.argv');
    expect(argv).toEqual([
      `--record=${join(scripts.path, 'a.argv')}`,
      `--bindir=${pgBinDir()}`,
      `--scope=${SCOPE}`,
      '--role=replica',
      `--datadir=${dataDir(replica)}`,
      expect.stringMatching(
        new RegExp(`^--connstring=host='127\\.0\\.0\\.1' port='\\d+' user='replicator' dbname='postgres' application_name='${replica.name}'$`),
      ),
    ]);
    expect(replica.events.find((e) => e.type === 'cloned')).toMatchObject({ method: 'custom' });
  });

  it('reinit --from-leader (hactl) copies the leader with pg_basebackup, not with the configured method; a plain reinit uses the method again', async () => {
    const ctl = join(scripts.path, 'hactl-reinit.yml');
    writeFileSync(ctl, `scope: ${SCOPE}\netcd3: {hosts: [${cluster.etcd.hosts.join(', ')}]}\n`, { mode: 0o600 });
    const reinit = (...flags: string[]) =>
      run(process.execPath, [HACTL, '-c', ctl, 'reinit', SCOPE, replica.name, '--force', ...flags], {
        timeout: 60_000,
        env: { ...process.env, PATRONICTL_CONFIG_FILE: '' },
      });
    const record = join(scripts.path, 'a.argv');
    rmSync(record);
    replica.events.length = 0;
    expect((await reinit('--from-leader')).stdout).toContain(`Success: reinitialize for member ${replica.name}\n`);
    await waitForReplica(replica);
    expect(replica.events.find((e) => e.type === 'cloned')).toMatchObject({ from: leader.name, method: 'basebackup' });
    expect(existsSync(record)).toBe(false);

    replica.events.length = 0;
    expect((await reinit()).stdout).toContain(`Success: reinitialize for member ${replica.name}\n`);
    await waitForReplica(replica);
    expect(replica.events.find((e) => e.type === 'cloned')).toMatchObject({ method: 'custom' });
    expect(existsSync(record)).toBe(true);
  }, 240_000);

  it('a failed method is cleaned up after and the next one is used (custom with keep_data, then basebackup with waldir and max-rate)', async () => {
    await remake(replica, `  create_replica_methods: [broken, custom]\n${failMethod()}${cloneMethod('custom', 'b.argv', ', keep_data: true')}`);
    await waitForReplica(replica);
    expect(replica.events.filter((e) => e.type === 'replica_method_failed').map((e) => e.type === 'replica_method_failed' && e.method)).toEqual(['broken']);
    // keep_data: the agent did not empty the data dir before `custom`; the failed method's junk was already gone.
    expect(lines('b.argv.state')).toEqual(['entries=0']);
    expect(lines('b.argv')).toContain('--keep_data=True');
    expect(existsSync(join(dataDir(replica), 'junk'))).toBe(false);

    const wal = join(scripts.path, 'waldir');
    await remake(replica, `  create_replica_methods: [broken, basebackup]\n${failMethod()}  basebackup: [{max-rate: 64M}, {waldir: ${wal}}, verbose]\n`);
    await waitForReplica(replica);
    expect(replica.events.find((e) => e.type === 'cloned')).toMatchObject({ method: 'basebackup' });
    expect(lstatSync(join(dataDir(replica), 'pg_wal')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dataDir(replica), 'pg_wal'))).toBe(wal);
    expect(readdirSync(wal).some((f) => /^[0-9A-F]{24}$/.test(f))).toBe(true);
    expect(existsSync(join(dataDir(replica), 'junk'))).toBe(false);
  });

  it('shows "creating replica" while a slow method runs, logs progress, and a stop kills it and empties the data dir', async () => {
    await remake(replica, `  create_replica_methods: [custom]\n${cloneMethod('custom', 'c.argv', ', pause: 600')}`);
    const pidFile = join(scripts.path, 'c.argv.pid');
    const sleepPidFile = join(scripts.path, 'c.argv.sleep.pid');
    await waitFor(() => existsSync(sleepPidFile) && readFileSync(sleepPidFile, 'utf8').trim() !== '', {
      timeoutMs: 60_000,
      describe: () => 'the slow method started',
    });
    const scriptPid = Number(readFileSync(pidFile, 'utf8').trim());
    const sleepPid = Number(readFileSync(sleepPidFile, 'utf8').trim());
    expect(isAlive(scriptPid)).toBe(true);
    expect((await patroni(replica)).state).toBe('creating replica');
    const ctl = join(scripts.path, 'hactl.yml');
    writeFileSync(ctl, `scope: ${SCOPE}\netcd3: {hosts: [${cluster.etcd.hosts.join(', ')}]}\n`, { mode: 0o600 });
    let listed = '';
    await waitFor(
      async () => {
        const { stdout } = await run(process.execPath, [HACTL, '-c', ctl, 'list'], { timeout: 30_000, env: { ...process.env, PATRONICTL_CONFIG_FILE: '' } });
        listed = stdout;
        return new RegExp(`${replica.name}.*creating replica`).test(stdout);
      },
      { timeoutMs: 30_000, describe: () => `hactl list showing ${replica.name} creating replica, got:\n${listed}` },
    );
    // Still creating after several loops: the member key is refreshed, the loop is not blocked.
    await waitFor(() => replica.events.some((e) => e.type === 'replica_progress'), { timeoutMs: 40_000, describe: () => 'a progress report' });
    expect((await patroni(replica)).state).toBe('creating replica');
    expect(existsSync(join(dataDir(replica), 'partial'))).toBe(true);
    // A restart cannot run meanwhile (Patroni's answer while its async executor is busy).
    expect(await api(replica, 'POST', '/restart', {})).toEqual({ status: 503, text: `bootstrap from leader '${leader.name}' already in progress` });

    const t0 = Date.now();
    await replica.agent.stop();
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(isAlive(scriptPid)).toBe(false);
    expect(isAlive(sleepPid)).toBe(false);
    expect(readdirSync(dataDir(replica))).toEqual([]);
    expect(replica.events.some((e) => e.type === 'cloned')).toBe(false);
  }, 180_000);

  it('without a leader only a no_leader method runs (basebackup is skipped), with an empty --connstring', async () => {
    // The backup is taken as the PostgreSQL OS user, so that the restore (run as that user) can read it.
    const backup = join(scripts.path, 'backup');
    const user = serverUser();
    await run(
      join(pgBinDir(), 'pg_basebackup'),
      ['-D', backup, '-X', 'stream', '-c', 'fast', '-h', '127.0.0.1', '-p', String(leader.pgPort), '-U', 'replicator'],
      {
        timeout: 120_000,
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      },
    );
    await leader.agent.stop();
    await emptyDataDir(dataDir(replica));
    replica.events.length = 0;
    const record = join(scripts.path, 'e.argv');
    replica.agent = cluster.newAgent(replica, (y) =>
      y.replace(
        '\npostgresql:\n',
        `\npostgresql:\n  create_replica_methods: [basebackup, restore]\n  restore: {command: ${join(scripts.path, 'restore.sh')}, no_leader: 1, backup: ${backup}, record: ${record}}\n`,
      ),
    );
    await replica.agent.start();
    await waitFor(() => replica.events.some((e) => e.type === 'cloned'), { timeoutMs: 90_000, describe: () => 'the restore without a leader' });
    expect(replica.events.find((e) => e.type === 'cloned')).toMatchObject({ from: '', method: 'restore' });
    expect(replica.events.some((e) => e.type === 'action' && e.action.message === 'trying to bootstrap (without leader)')).toBe(true);
    expect(lines('e.argv')).toEqual([
      '--no_leader=1',
      `--backup=${backup}`,
      `--record=${record}`,
      `--scope=${SCOPE}`,
      '--role=replica',
      `--datadir=${dataDir(replica)}`,
      '--connstring=',
    ]);
    // The restored copy starts, then (the only member left) takes the leader key.
    await waitFor(() => replica.agent.role === 'primary' && replica.agent.holdsLeaderKey, {
      timeoutMs: 90_000,
      describe: () => `${replica.name} leading after the restore`,
    });
  }, 240_000);
});

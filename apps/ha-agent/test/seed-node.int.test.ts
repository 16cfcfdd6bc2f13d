import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  isAlive,
  makeTempDir,
  packageDirFor,
  pgBinDir,
  serverUser,
  spawnManaged,
  startEtcd,
  waitFor,
  type EtcdCluster,
  type ManagedProcess,
  type TempDir,
} from '@pgtools/testkit';

// The seed article's node configuration, adapted to loopback and temp dirs, runs a working node
// with the real `ha-agent` CLI (as the PostgreSQL OS user); hactl list/pause/resume drive it.
const HACTL = resolve(__dirname, '../bin/hactl.js');
const FIXTURE = resolve(__dirname, '../../../packages/ha-agent/test/fixtures/seed-config-loopback.yml');
const user = serverUser();
// Run as the PostgreSQL OS user: from a copy it can read when the checkout is in /root.
const AGENT = join(packageDirFor('@pgtools/ha-agent-cli', resolve(__dirname, '..'), user), 'bin', 'ha-agent.js');

let etcd: EtcdCluster;
let dir: TempDir;
let configFile: string;
let agent: ManagedProcess | undefined;
let pgPort: number;
let apiPort: number;

function hactl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [HACTL, '-c', configFile, ...args],
      { timeout: 60_000, encoding: 'utf8', env: { ...process.env, HOME: dir.path } },
      (error, stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
    child.stdin?.end();
  });
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  dir = await makeTempDir('seed-node', user);
  pgPort = await freePort();
  apiPort = await freePort();
  const doc = parseDocument(readFileSync(FIXTURE, 'utf8'));
  // Only what loopback and a temp dir require; every other key is the seed's.
  doc.setIn(['restapi', 'listen'], `127.0.0.1:${apiPort}`);
  doc.setIn(['restapi', 'connect_address'], `127.0.0.1:${apiPort}`);
  doc.setIn(['etcd3', 'hosts'], etcd.hosts.join(','));
  doc.setIn(['postgresql', 'listen'], `127.0.0.1:${pgPort}`);
  doc.setIn(['postgresql', 'connect_address'], `127.0.0.1:${pgPort}`);
  doc.setIn(['postgresql', 'data_dir'], join(dir.path, 'data'));
  doc.setIn(['postgresql', 'bin_dir'], pgBinDir());
  doc.setIn(['postgresql', 'pgpass'], join(dir.path, 'pgpass0'));
  doc.setIn(['postgresql', 'parameters', 'unix_socket_directories'], dir.path);
  // No /dev/watchdog here: `required` would (rightly) keep the node from ever becoming leader.
  doc.setIn(['watchdog', 'mode'], 'automatic');
  configFile = join(dir.path, 'postgres0.yml');
  writeFileSync(configFile, doc.toString(), { mode: 0o600 });
  if (user) execFileSync('chown', [`${user.uid}:${user.gid}`, configFile]);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATRONI_')));
  agent = spawnManaged(process.execPath, [AGENT, configFile], {
    env,
    cwd: dir.path,
    logFile: join(dir.path, 'ha-agent.log'),
    ...(user ? { user } : {}),
    stopSignal: 'SIGTERM',
  });
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGTERM', 30_000);
  const pidFile = join(dir.path, 'data', 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGQUIT');
  }
  await etcd?.destroy();
  dir?.remove();
}, 90_000);

describe('the seed article configuration with the ha-agent CLI', () => {
  it('bootstraps a primary: REST /primary 200, md5 login with the seed passwords, users and initdb options applied', async () => {
    await waitFor(
      async () => {
        if (!agent!.isRunning()) throw new Error(`ha-agent exited:\n${agent!.logTail(30)}`);
        const res = await fetch(`http://127.0.0.1:${apiPort}/primary`, { method: 'GET', signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 90_000, intervalMs: 500, describe: () => `the node becomes primary:\n${agent!.logTail(30)}` },
    );
    const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'admin', password: 'admin', database: 'postgres' });
    await c.connect();
    try {
      const r = await c.query<{ rolcreaterole: boolean; rolcreatedb: boolean }>('SELECT rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user');
      expect(r.rows[0]).toEqual({ rolcreaterole: true, rolcreatedb: true });
      expect((await c.query<{ data_checksums: string }>('SHOW data_checksums')).rows[0]!.data_checksums).toBe('on');
      expect((await c.query<{ server_encoding: string }>('SHOW server_encoding')).rows[0]!.server_encoding).toBe('UTF8');
      expect((await c.query<{ cluster_name: string }>('SHOW cluster_name')).rows[0]!.cluster_name).toBe('stampede');
    } finally {
      await c.end();
    }
    // Like Patroni, bootstrap.pg_hba is appended to initdb's pg_hba.conf (whose own lines come first).
    const hba = readFileSync(join(dir.path, 'data', 'pg_hba.conf'), 'utf8');
    expect(hba).toContain('host replication replicator 127.0.0.1/32 md5\nhost replication replicator 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 md5');
  });

  it('hactl list shows the leader; pause and resume reach the running agent', async () => {
    let list = await hactl(['list', '-f', 'json']);
    await waitFor(
      async () => {
        list = await hactl(['list', '-f', 'json']);
        const rows = list.code === 0 ? (JSON.parse(list.out) as Array<Record<string, unknown>>) : [];
        return rows.length === 1 && rows[0]!.Role === 'Leader' && rows[0]!.State === 'running';
      },
      { timeoutMs: 30_000, intervalMs: 1000, describe: () => `hactl list: ${list.out}${list.err}` },
    );
    expect(JSON.parse(list.out)).toMatchObject([
      { Cluster: 'stampede', Member: 'node1', Host: `127.0.0.1:${pgPort}`, Role: 'Leader', State: 'running', TL: 1 },
    ]);
    const pause = await hactl(['pause', '--wait']);
    expect(pause.code, pause.err).toBe(0);
    expect(pause.out).toContain('Success: cluster management is paused');
    expect(((await (await fetch(`http://127.0.0.1:${apiPort}/patroni`)).json()) as { pause?: boolean }).pause).toBe(true);
    const resume = await hactl(['resume', '--wait']);
    expect(resume.code, resume.err).toBe(0);
    expect(resume.out).toContain('Success: cluster management is resumed');
  });

  it('SIGTERM stops PostgreSQL cleanly and exits 0', async () => {
    const pidFile = join(dir.path, 'data', 'postmaster.pid');
    expect(existsSync(pidFile)).toBe(true);
    agent!.signal('SIGTERM');
    expect(await agent!.exited).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
    expect(agent!.logTail(50)).toMatch(/received a stop signal/);
  });
});

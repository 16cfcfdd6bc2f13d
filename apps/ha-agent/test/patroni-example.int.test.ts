import { execFileSync } from 'node:child_process';
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

// Patroni's own example configuration (postgres0.yml from its docs, `etcd:` renamed `etcd3:`) runs a
// working node with the real `ha-agent` CLI. Only what loopback and a temp dir need is changed:
// addresses, etcd, bin_dir; data_dir stays relative (`data/postgresql0`, from the agent's cwd) and
// the socket directory stays `..` (relative to the data dir), as the example has them.
const FIXTURE = resolve(__dirname, '../../../packages/ha-agent/test/fixtures/patroni-postgres0.yml');
const user = serverUser();
const AGENT = join(packageDirFor('@pgtools/ha-agent-cli', resolve(__dirname, '..'), user), 'bin', 'ha-agent.js');

let etcd: EtcdCluster;
let dir: TempDir;
let agent: ManagedProcess | undefined;
let pgPort: number;
let apiPort: number;
const dataDir = () => join(dir.path, 'data', 'postgresql0');

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  dir = await makeTempDir('patroni-example', user);
  pgPort = await freePort();
  apiPort = await freePort();
  const doc = parseDocument(readFileSync(FIXTURE, 'utf8'));
  doc.setIn(['restapi', 'listen'], `127.0.0.1:${apiPort}`);
  doc.setIn(['restapi', 'connect_address'], `127.0.0.1:${apiPort}`);
  doc.setIn(['etcd3', 'host'], etcd.hosts[0]);
  doc.setIn(['postgresql', 'listen'], `127.0.0.1:${pgPort}`);
  doc.setIn(['postgresql', 'connect_address'], `127.0.0.1:${pgPort}`);
  doc.setIn(['postgresql', 'bin_dir'], pgBinDir());
  doc.setIn(['postgresql', 'pgpass'], join(dir.path, 'pgpass0'));
  const configFile = join(dir.path, 'postgres0.yml');
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
  const pidFile = join(dataDir(), 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGQUIT');
  }
  await etcd?.destroy();
  dir?.remove();
}, 90_000);

describe("Patroni's example postgres0.yml with the ha-agent CLI", () => {
  it('starts without a configuration warning and bootstraps a primary', async () => {
    await waitFor(
      async () => {
        if (!agent!.isRunning()) throw new Error(`ha-agent exited:\n${agent!.logTail(30)}`);
        const res = await fetch(`http://127.0.0.1:${apiPort}/primary`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 90_000, intervalMs: 500, describe: () => `the node becomes primary:\n${agent!.logTail(30)}` },
    );
    // No configuration warning (the only WARNING here is the missing /dev/watchdog, a machine fact).
    expect(agent!.logTail(200)).not.toMatch(/unknown key|not supported|ignored/);
  });

  it("honours its keys: md5 logins from the dynamic pg_hba, the users, initdb options, the socket in the data dir's parent", async () => {
    // The dynamic pg_hba ends with `host all all 0.0.0.0/0 md5`: a wrong password is refused.
    const bad = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', password: 'wrong', database: 'postgres' });
    await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
    await bad.end().catch(() => undefined);
    const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', password: 'patroni', database: 'postgres' });
    await c.connect();
    try {
      const rules = await c.query<{ type: string; database: string[]; user_name: string[]; auth_method: string }>(
        'SELECT type, database, user_name, auth_method FROM pg_hba_file_rules ORDER BY line_number',
      );
      expect(rules.rows).toEqual([
        { type: 'host', database: ['replication'], user_name: ['replicator'], auth_method: 'md5' },
        { type: 'host', database: ['all'], user_name: ['all'], auth_method: 'md5' },
      ]);
      const roles = await c.query<{ rolname: string; rolreplication: boolean }>(
        "SELECT rolname, rolreplication FROM pg_roles WHERE rolname IN ('replicator', 'rewind_user') ORDER BY 1",
      );
      expect(roles.rows).toEqual([
        { rolname: 'replicator', rolreplication: true },
        { rolname: 'rewind_user', rolreplication: false },
      ]);
      const settings = await c.query<{ name: string; setting: string }>(
        "SELECT name, setting FROM pg_settings WHERE name IN ('data_checksums', 'server_encoding', 'unix_socket_directories', 'wal_log_hints', 'cluster_name') ORDER BY name",
      );
      expect(Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]))).toEqual({
        cluster_name: 'batman',
        data_checksums: 'on',
        server_encoding: 'UTF8',
        unix_socket_directories: '..',
        wal_log_hints: 'on',
      });
    } finally {
      await c.end();
    }
    // unix_socket_directories '..' is relative to the data dir: the socket is in data/.
    expect(existsSync(join(dir.path, 'data', `.s.PGSQL.${pgPort}`))).toBe(true);
  });

  it('SIGTERM stops PostgreSQL cleanly and exits 0', async () => {
    const pidFile = join(dataDir(), 'postmaster.pid');
    expect(existsSync(pidFile)).toBe(true);
    agent!.signal('SIGTERM');
    expect(await agent!.exited).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });
});

import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTempDir, packageDirFor, pgBinDir, serverUser, spawnManaged, waitFor, type TempDir } from '@pgtools/testkit';
import { main } from '../src/ha-agent.js';

// The errors a newcomer meets first, each produced for real: a missing bin_dir, ports taken by
// real listeners, an etcd address where nothing answers. No mock: main() runs as the CLI does.
const FIXTURE = resolve(__dirname, '../../../packages/ha-agent/test/fixtures/seed-config-loopback.yml');
const user = serverUser();
// Run as the PostgreSQL OS user: from a copy it can read when the checkout is in /root.
const agentBin = (): string => join(packageDirFor('@pgtools/ha-agent-cli', resolve(__dirname, '..'), user), 'bin', 'ha-agent.js');

let dir: TempDir;
const servers: Server[] = [];

function sink(): { write(c: string): boolean; text(): string } {
  const chunks: string[] = [];
  return { write: (c: string) => chunks.push(c) > 0, text: () => chunks.join('') };
}

function listenOn(port: number): Promise<void> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(port, '127.0.0.1', () => done());
    servers.push(s);
  });
}

/** The seed's node configuration on loopback, with free ports, a temp data dir and an etcd where nothing listens. */
async function writeConfig(
  name: string,
  change: (doc: ReturnType<typeof parseDocument>) => void = () => {},
): Promise<{ file: string; pgPort: number; apiPort: number; etcdPort: number }> {
  const [pgPort, apiPort, etcdPort] = [await freePort(), await freePort(), await freePort()];
  const doc = parseDocument(readFileSync(FIXTURE, 'utf8'));
  doc.setIn(['restapi', 'listen'], `127.0.0.1:${apiPort}`);
  doc.setIn(['restapi', 'connect_address'], `127.0.0.1:${apiPort}`);
  doc.setIn(['etcd3', 'hosts'], `127.0.0.1:${etcdPort}`);
  doc.setIn(['bootstrap', 'dcs', 'ttl'], 10);
  doc.setIn(['bootstrap', 'dcs', 'loop_wait'], 2);
  doc.setIn(['bootstrap', 'dcs', 'retry_timeout'], 3);
  doc.setIn(['postgresql', 'listen'], `127.0.0.1:${pgPort}`);
  doc.setIn(['postgresql', 'connect_address'], `127.0.0.1:${pgPort}`);
  doc.setIn(['postgresql', 'data_dir'], join(dir.path, `${name}-data`));
  doc.setIn(['postgresql', 'bin_dir'], pgBinDir());
  doc.setIn(['postgresql', 'pgpass'], join(dir.path, `${name}-pgpass`));
  doc.setIn(['postgresql', 'parameters', 'unix_socket_directories'], dir.path);
  doc.setIn(['watchdog', 'mode'], 'off');
  change(doc);
  const file = join(dir.path, `${name}.yml`);
  writeFileSync(file, doc.toString(), { mode: 0o600 });
  if (user) execFileSync('chown', [`${user.uid}:${user.gid}`, file]);
  return { file, pgPort, apiPort, etcdPort };
}

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATRONI_')));

beforeAll(async () => {
  dir = await makeTempDir('first-contact', user);
});

afterAll(async () => {
  for (const s of servers) s.close();
  dir?.remove();
});

describe('ha-agent first-contact errors', () => {
  it("PostgreSQL binaries not found: names postgresql.bin_dir, the path tried and this machine's server directory (exit 2)", async () => {
    // The seed article's own bin_dir (PostgreSQL 12), as a newcomer would paste it.
    const { file } = await writeConfig('bins', (doc) => doc.setIn(['postgresql', 'bin_dir'], '/usr/lib/postgresql/12/bin'));
    const err = sink();
    expect(await main([file], { uid: 1000, stderr: err, env })).toBe(2);
    const text = err.text();
    expect(text).toContain('not found in /usr/lib/postgresql/12/bin');
    expect(text).toContain('postgresql.bin_dir is /usr/lib/postgresql/12/bin');
    expect(text).toContain(`set postgresql.bin_dir: ${pgBinDir()}`);
  });

  it('PostgreSQL port already in use: names the port, postgresql.listen and how to find the owner (exit 2)', async () => {
    const { file, pgPort } = await writeConfig('pgport');
    await listenOn(pgPort);
    const err = sink();
    expect(await main([file], { uid: 1000, stderr: err, env })).toBe(2);
    expect(err.text()).toContain(`PostgreSQL port ${pgPort} on 127.0.0.1 is already in use by another process (postgresql.listen is 127.0.0.1:${pgPort})`);
    expect(err.text()).toContain(`HINT: see who listens there: ss -ltnp 'sport = :${pgPort}'`);
  });

  it('PostgreSQL listen host that is not on this machine (exit 2)', async () => {
    const { file } = await writeConfig('pghost', (doc) => doc.setIn(['postgresql', 'listen'], '192.0.2.1:5432'));
    const err = sink();
    expect(await main([file], { uid: 1000, stderr: err, env })).toBe(2);
    expect(err.text()).toMatch(/postgresql\.listen host 192\.0\.2\.1 is not an address of this machine/);
  });

  it('REST API port already in use: names restapi.listen and suggests another ha-agent or Patroni (exit 2)', async () => {
    const { file, apiPort } = await writeConfig('apiport');
    await listenOn(apiPort);
    const err = sink();
    expect(await main([file], { uid: 1000, stderr: err, env })).toBe(2);
    expect(err.text()).toContain(`REST API port is already in use: restapi.listen is 127.0.0.1:${apiPort}`);
    expect(err.text()).toContain('another ha-agent or Patroni on this host?');
  }, 30_000);

  it('etcd unreachable at start: one error naming the hosts tried, the agent keeps running and stops cleanly on SIGTERM', async () => {
    const { file, etcdPort } = await writeConfig('etcd');
    const err = sink();
    const signals = new EventEmitter();
    const running = main([file], { uid: 1000, stderr: err, env, signals: signals as unknown as Pick<NodeJS.Process, 'on' | 'off'> });
    await waitFor(() => err.text().includes('etcd is unreachable'), { timeoutMs: 30_000, intervalMs: 200, describe: () => err.text() });
    expect(err.text()).toContain(`etcd is unreachable: tried http://127.0.0.1:${etcdPort} (etcd3.hosts): connection refused`);
    expect(err.text()).toContain(`etcdctl --endpoints=http://127.0.0.1:${etcdPort} endpoint health`);
    signals.emit('SIGTERM');
    expect(await running).toBe(0);
  }, 60_000);
});

describe('ha-agent JSON logs (the real CLI)', () => {
  it('--log-format json: every stderr line is one JSON object with time, level and message', async () => {
    const { file, etcdPort } = await writeConfig('json', (doc) => doc.setIn(['log'], { level: 'INFO', static_fields: { app: 'ha-agent-test' } }));
    const logFile = join(dir.path, 'json-agent.log');
    const agent = spawnManaged(process.execPath, [agentBin(), '--log-format', 'json', file], {
      env,
      cwd: dir.path,
      logFile,
      ...(user ? { user } : {}),
      stopSignal: 'SIGTERM',
    });
    try {
      await waitFor(() => readFileSync(logFile, 'utf8').includes('etcd is unreachable') || !agent.isRunning(), {
        timeoutMs: 30_000,
        intervalMs: 200,
        describe: () => readFileSync(logFile, 'utf8'),
      });
      agent.signal('SIGTERM');
      expect(await agent.exited).toBe(0);
    } finally {
      await agent.stop('SIGKILL', 5_000).catch(() => undefined);
    }
    const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(1);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of rows) {
      expect(Date.parse(String(r.time))).not.toBeNaN();
      expect(['debug', 'info', 'warn', 'error']).toContain(r.level);
      expect(typeof r.message).toBe('string');
      expect(r.app).toBe('ha-agent-test');
    }
    expect(rows.find((r) => String(r.message).startsWith('etcd is unreachable'))).toMatchObject({
      level: 'error',
      code: 'dcs_unavailable',
      hosts: [`http://127.0.0.1:${etcdPort}`],
    });
    expect(rows.some((r) => String(r.message).includes('received a stop signal'))).toBe(true);
  }, 60_000);

  it('bad usage with --log-format json is a JSON line too', async () => {
    const err = sink();
    expect(await main(['--log-format', 'json', '--bogus', 'x.yml'], { stderr: err, env: {} })).toBe(2);
    expect(JSON.parse(err.text())).toMatchObject({ level: 'error', message: 'unknown option --bogus', code: 'usage' });
    const err2 = sink();
    expect(await main(['--log-format', 'xml', 'x.yml'], { stderr: err2, env: {} })).toBe(2);
    expect(err2.text()).toMatch(/--log-format expects plain or json, got "xml"/);
  });
});

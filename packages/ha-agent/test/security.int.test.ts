import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { EtcdDcs } from '@pgtools/dcs';
import {
  freePort,
  isAlive,
  makeTempDir,
  pgBinDir,
  serverUser,
  startEtcd,
  startReaper,
  waitFor,
  type EtcdCluster,
  type Reaper,
  type TempDir,
} from '@pgtools/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaAgent, loadConfig, parseConfig, type HaAgentEvent } from '../src/index.js';
import { dcsOptionsFromConfig } from '../src/agent/dcs-options.js';

// Two agents in this process with every password Patroni knows (REST API basic auth, etcd user,
// PostgreSQL superuser, replication, bootstrap user) over an etcd with authentication on, and
// password authentication (scram) for replication. Everything they produce (log lines and
// fields, events, every REST answer, hactl's output, PostgreSQL's log) must hold none of them.

const run = promisify(execFile);
const SCOPE = 'sectest';
const SECRETS = {
  rest: 'rest-S3cret-a81q',
  etcd: 'etcd-S3cret-b72w',
  superuser: 'su-S3cret-c63e',
  replication: 'repl-S3cret-d54r',
  app: 'app-S3cret-e45t',
};
const HACTL = resolve(__dirname, '../../../apps/ha-agent/bin/hactl.js');
const user = serverUser();
const runAs = user ? { uid: user.uid, gid: user.gid } : undefined;

interface Node {
  name: string;
  events: HaAgentEvent[];
  dir: TempDir;
  pgPort: number;
  apiPort: number;
  configFile: string;
  agent: HaAgent;
}

let etcd: EtcdCluster | undefined;
let work: TempDir | undefined;
const nodes: Node[] = [];
const postmasterPids = new Set<number>();
const reapers: Reaper[] = [];
/** Everything the agents and tools produced, to be searched for secrets. */
const produced: string[] = [];

function configYaml(name: string, dir: string, pgPort: number, apiPort: number, hosts: string[]): string {
  return `
scope: ${SCOPE}
name: ${name}
restapi:
  listen: 127.0.0.1:${apiPort}
  connect_address: 127.0.0.1:${apiPort}
  authentication: {username: patroni, password: '${SECRETS.rest}'}
etcd3:
  hosts: [${hosts.join(', ')}]
  username: patroni
  password: '${SECRETS.etcd}'
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters: {wal_level: replica, hot_standby: "on", wal_log_hints: "on", max_wal_senders: 10, max_replication_slots: 10}
  initdb: [{encoding: UTF8}, {locale: C}]
  users:
    app: {password: '${SECRETS.app}', options: [createdb]}
postgresql:
  listen: 127.0.0.1:${pgPort}
  connect_address: 127.0.0.1:${pgPort}
  data_dir: ${join(dir, 'data')}
  bin_dir: ${pgBinDir()}
  authentication:
    superuser: {username: postgres, password: '${SECRETS.superuser}'}
    replication: {username: replicator, password: '${SECRETS.replication}'}
    rewind: {username: postgres, password: '${SECRETS.superuser}'}
  parameters: {unix_socket_directories: '${dir}', fsync: "off", shared_buffers: 16MB, password_encryption: scram-sha-256}
  # Replaces initdb's pg_hba (whose "host all all trust" would match first). The superuser is
  # trusted on loopback because initdb leaves it without a password until the agent sets it.
  pg_hba:
    - local all all trust
    - host all postgres 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
watchdog: {mode: "off"}
`;
}

async function newNode(name: string): Promise<Node> {
  const dir = await makeTempDir(`sec-${name}`, user);
  const pgPort = await freePort();
  const apiPort = await freePort();
  const configFile = join(dir.path, 'ha.yml');
  writeFileSync(configFile, configYaml(name, dir.path, pgPort, apiPort, etcd!.hosts), { mode: 0o600 });
  const { config, warnings } = await loadConfig(configFile, {});
  const events: HaAgentEvent[] = [];
  produced.push(...warnings);
  const record =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      produced.push(
        `${level} ${name} ${message} ${fields === undefined ? '' : JSON.stringify(fields, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v))}`,
      );
    };
  const agent = new HaAgent(config, {
    logger: { debug: record('DEBUG'), info: record('INFO'), warn: record('WARN'), error: record('ERROR') },
    ...(runAs ? { runAs } : {}),
    postgresLogFile: join(dir.path, 'postgres.log'),
    onEvent: (e) => {
      events.push(e);
      produced.push(`EVENT ${name} ${JSON.stringify(e)}`);
      if (e.type === 'postmaster_started') {
        postmasterPids.add(e.pid);
        reapers.push(startReaper({ pid: e.pid, signal: 'SIGQUIT' }));
      }
    },
  });
  const node = { name, events, dir, pgPort, apiPort, configFile, agent };
  nodes.push(node);
  return node;
}

async function query<R extends pg.QueryResultRow>(port: number, text: string, login: { user: string; password?: string } = { user: 'postgres' }): Promise<R[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, database: 'postgres', connectionTimeoutMillis: 3000, ...login });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function http(node: Node, method: string, path: string, options: { auth?: string; body?: string } = {}): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {};
  if (options.auth !== undefined) headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.text();
  produced.push(`HTTP ${node.name} ${method} ${path} ${res.status} ${JSON.stringify([...res.headers])} ${body}`);
  return { status: res.status, body };
}

async function hactl(configFile: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [HACTL, '-c', configFile, ...args], {
      timeout: 60_000,
      env: { ...process.env, PATRONICTL_CONFIG_FILE: '' },
    });
    produced.push(`HACTL ${args[0]}\n${stdout}${stderr}`);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    produced.push(`HACTL ${args[0]} (exit ${e.code})\n${out}`);
    return { code: typeof e.code === 'number' ? e.code : 1, out };
  }
}

function leaks(text: string): string[] {
  const found: string[] = [];
  for (const [what, secret] of Object.entries(SECRETS)) if (text.includes(secret)) found.push(what);
  if (text.includes(Buffer.from(`patroni:${SECRETS.rest}`).toString('base64'))) found.push('rest (base64 basic auth)');
  return found;
}

/** The lines holding a secret, to say where it leaked. */
function leakingLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => leaks(l).length > 0)
    .slice(0, 5);
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 1, auth: { users: [{ name: 'patroni', password: SECRETS.etcd, prefix: '/service/' }] } });
  work = await makeTempDir('sec-work');
  const n1 = await newNode('node1');
  await n1.agent.start();
  await waitFor(() => n1.agent.holdsLeaderKey && n1.agent.role === 'primary', {
    timeoutMs: 60_000,
    intervalMs: 250,
    describe: () => 'node1 bootstrapped as primary',
  });
  const n2 = await newNode('node2');
  await n2.agent.start();
  await waitFor(
    async () => {
      const rows = await query<{ application_name: string; state: string }>(n1.pgPort, 'SELECT application_name, state FROM pg_stat_replication');
      // pg_basebackup's own WAL stream also shows as node2 until the clone is done.
      return rows.length === 1 && rows[0]?.application_name === 'node2' && rows[0].state === 'streaming' && n2.agent.role === 'replica';
    },
    { timeoutMs: 90_000, intervalMs: 250, describe: () => 'node2 streaming from node1' },
  );
}, 180_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => Promise.race([n.agent.stop(), new Promise((r) => setTimeout(r, 30_000))]).catch(() => undefined)));
  for (const pid of postmasterPids) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const r of reapers) r.dismiss();
  await etcd?.destroy();
  for (const n of nodes) n.dir.remove();
  work?.remove();
}, 60_000);

describe('passwords never leave the agent', () => {
  it('uses every password for real: etcd auth, scram replication, the bootstrap user', async () => {
    const [n1] = nodes;
    // The replica streams with the replication password (scram in pg_hba); the bootstrap user logs in with its own.
    expect((await query<{ u: string }>(n1!.pgPort, 'SELECT current_user AS u', { user: 'app', password: SECRETS.app }))[0]?.u).toBe('app');
    await expect(query(n1!.pgPort, 'SELECT 1', { user: 'app', password: 'wrong' })).rejects.toThrow(/password authentication failed/);
    expect(await query(n1!.pgPort, 'SELECT 1 AS one', { user: 'replicator', password: SECRETS.replication })).toEqual([{ one: 1 }]);
    await expect(query(n1!.pgPort, 'SELECT 1', { user: 'replicator', password: 'wrong' })).rejects.toThrow(/password authentication failed/);
    // etcd refuses anyone without the password: the agents got in with it.
    const anonymous = new EtcdDcs({ hosts: etcd!.hosts, scope: SCOPE, name: 'probe', ttl: 10, callTimeoutMs: 3000 });
    await expect(anonymous.loadCluster()).rejects.toMatchObject({ code: 'dcs_auth_failed' });
    await anonymous.close();
  });

  it('keeps them out of /patroni, /config, /cluster and every other REST answer, including refusals', async () => {
    for (const n of nodes) {
      for (const path of ['/patroni', '/cluster', '/config', '/history', '/metrics', '/health', '/primary', '/replica', '/liveness', '/readiness']) {
        await http(n, 'GET', path);
      }
    }
    const [n1, n2] = nodes;
    const status = JSON.parse((await http(n1!, 'GET', '/patroni')).body) as { role?: string; replication?: unknown[] };
    expect(status.role).toBe('master');
    expect(status.replication, JSON.stringify(status.replication)).toHaveLength(1);
    expect((await http(n2!, 'POST', '/reload')).status).toBe(401);
    expect((await http(n2!, 'POST', '/reload', { auth: 'patroni:wrong-password' })).status).toBe(401);
    expect((await http(n2!, 'POST', '/reload', { auth: `patroni:${SECRETS.rest}` })).status).toBeLessThan(300);
    expect((await http(n1!, 'PATCH', '/config', { auth: `patroni:${SECRETS.rest}`, body: '{"postgresql": {"parameters": {"work_mem": "8MB"}}}' })).status).toBe(
      200,
    );
    expect(
      (await http(n1!, 'POST', '/switchover', { auth: `patroni:${SECRETS.rest}`, body: '{"leader": "node1", "candidate": "nobody"}' })).status,
    ).toBeGreaterThanOrEqual(400);
    const rest = produced.filter((l) => l.startsWith('HTTP ')).join('\n');
    expect(rest).toContain('"work_mem":"8MB"');
    expect(leakingLines(rest)).toEqual([]);
  });

  it('keeps them out of hactl output; show-config and edit-config hide a secret put into the etcd config', async () => {
    const ctl = join(work!.path, 'hactl.yml');
    writeFileSync(
      ctl,
      `scope: ${SCOPE}\netcd3: {hosts: [${etcd!.hosts.join(', ')}], username: patroni, password: '${SECRETS.etcd}'}\nrestapi: {authentication: {username: patroni, password: '${SECRETS.rest}'}}\n`,
      { mode: 0o600 },
    );
    const list = await hactl(ctl, ['list']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/node1.*Leader/);
    expect(list.out).toMatch(/node2.*(Replica|Sync Standby)/);
    for (const args of [
      ['topology'],
      ['show-config'],
      ['history'],
      ['version', SCOPE],
      ['reload', SCOPE, 'node2', '--force'],
      ['list', '-f', 'json'],
      ['list', '-e'],
    ]) {
      expect((await hactl(ctl, args)).code, args.join(' ')).toBe(0);
    }
    // A wrong etcd password: a clear refusal that does not echo it.
    const bad = join(work!.path, 'bad.yml');
    writeFileSync(bad, `scope: ${SCOPE}\netcd3: {hosts: [${etcd!.hosts.join(', ')}], username: patroni, password: 'wrong-etcd-pw-0000'}\n`, { mode: 0o600 });
    const refused = await hactl(bad, ['list']);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/refused access/);
    expect(refused.out).not.toContain('wrong-etcd-pw-0000');

    // patronictl prints the config key as it is; hactl hides secret-looking values.
    const tokenSecret = 'tok-S3cret-g27y';
    const edit = await hactl(ctl, [
      'edit-config',
      SCOPE,
      '--force',
      '-s',
      `custom_tool.api_token=${tokenSecret}`,
      '-s',
      `custom_tool.dsn=postgres://app:${tokenSecret}@db/app`,
    ]);
    expect(edit.code).toBe(0);
    expect(edit.out).toMatch(/\+\s+api_token: .?\*{8} \(changed\)/);
    expect(edit.out).toContain('postgres://app:********@db/app');
    const shown = await hactl(ctl, ['show-config']);
    expect(shown.out).toMatch(/api_token: .?\*{8}/);
    expect(shown.out).toContain('work_mem: 8MB');
    const ctlOutput = produced.filter((l) => l.startsWith('HACTL')).join('\n');
    expect(ctlOutput).not.toContain(tokenSecret);
    expect(leakingLines(ctlOutput)).toEqual([]);
    // The value is really in etcd (hactl hid it, did not drop it).
    expect(await etcd!.etcdctl(['get', '--print-value-only', `/service/${SCOPE}/config`])).toContain(tokenSecret);
    expect((await hactl(ctl, ['edit-config', SCOPE, '--force', '-q', '-s', 'custom_tool=null'])).code).toBe(0);
  });

  it('keeps them out of every log line, event and warning of both agents, and out of PostgreSQL logs', () => {
    const logs = produced.filter((l) => !l.startsWith('HTTP ') && !l.startsWith('HACTL')).join('\n');
    // The agents did log plenty (bootstrap, clone, leader lock), so the search means something.
    expect(logs).toMatch(/node1/);
    expect(produced.filter((l) => l.startsWith('INFO') || l.startsWith('DEBUG')).length).toBeGreaterThan(10);
    expect(leakingLines(logs)).toEqual([]);
    for (const n of nodes) {
      const file = join(n.dir.path, 'postgres.log');
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      expect(text.length).toBeGreaterThan(0);
      expect(leakingLines(text), `${n.name} postgres.log`).toEqual([]);
    }
    expect(leakingLines(produced.join('\n'))).toEqual([]);
  });
});

describe('garbage written by hand into the etcd keys of a running cluster', () => {
  it('is logged and ignored by the agents: no fatal error, no demotion, and a member rewrites its own key', async () => {
    const [n1, n2] = nodes as [Node, Node];
    const prefix = `/service/${SCOPE}/`;
    const atStart = nodes.map((n) => n.events.length);
    const garbage: Array<[string, string]> = [
      ['initialize', 'garbage-sysid'],
      ['config', '{"ttl": 30,'],
      ['failover', '[1,2]'],
      ['sync', 'not json'],
      ['history', '{"not":"a list"}'],
      ['status', 'optime=12'],
      ['members/ghost', '\u0001\u0002 {binary-ish'],
      ['members/node2', '{"conn_url":5,"xlog_location":"abc"}'],
    ];
    for (const [key, value] of garbage) await etcd!.etcdctl(['put', `${prefix}${key}`, value]);
    // Both agents ran several loops with all of the garbage in view (counted from the last put:
    // the first puts wake the agents, which can loop before the later puts land).
    const before = nodes.map((n) => n.events.length);
    await waitFor(() => nodes.every((n, i) => n.events.slice(before[i]).filter((e) => e.type === 'action').length >= 3), {
      timeoutMs: 30_000,
      intervalMs: 200,
      describe: () => 'three HA loops on both nodes',
    });
    const since = nodes.flatMap((n, i) => n.events.slice(atStart[i]));
    expect(since.filter((e) => e.type === 'fatal' || e.type === 'demoted' || e.type === 'leader_released')).toEqual([]);
    expect(n1.agent.holdsLeaderKey && n1.agent.role === 'primary').toBe(true);
    expect(n2.agent.role).toBe('replica');
    for (const n of nodes) expect((await http(n, 'GET', '/patroni')).status).toBe(200);
    const warned = produced.filter((l) => l.startsWith('WARN') && l.includes('unreadable'));
    for (const key of ['initialize', 'config', 'failover', 'sync', 'history', 'status', 'members/ghost', 'members/node2']) {
      expect(
        warned.some((l) => l.includes(`${prefix}${key}`)),
        key,
      ).toBe(true);
    }
    // node2 notices its member key no longer says what it publishes and writes it again.
    await waitFor(async () => /"conn_url":"postgres:/.test(await etcd!.etcdctl(['get', '--print-value-only', `${prefix}members/node2`])), {
      timeoutMs: 20_000,
      intervalMs: 250,
      describe: () => 'node2 rewriting its member key',
    });
    // Repair by hand what only an operator may repair, so the file's other tests see a sane cluster.
    await etcd!.etcdctl(['put', `${prefix}config`, '{"ttl":10,"loop_wait":2,"retry_timeout":4}']);
    for (const key of ['failover', 'sync', 'history', 'status', 'members/ghost']) await etcd!.etcdctl(['del', `${prefix}${key}`]);
  }, 60_000);
});

describe('etcd3 TLS settings from the configuration file', () => {
  it('connects to etcd with protocol https, cacert, cert, key, username and password', async () => {
    const secure = await startEtcd({ tls: { clientCertAuth: true }, auth: { users: [{ name: 'patroni', password: SECRETS.etcd, prefix: '/service/' }] } });
    try {
      const yaml = `${configYaml('tlsnode', work!.path, 5432, 8008, secure.hosts)}`.replace(
        /etcd3:\n(?: {2}.*\n)+/,
        `etcd3:\n  hosts: [${secure.hosts.join(', ')}]\n  protocol: https\n  cacert: ${secure.tls!.caFile}\n  cert: ${secure.tls!.certFile}\n  key: ${secure.tls!.keyFile}\n  username: patroni\n  password: '${SECRETS.etcd}'\n`,
      );
      const { config, warnings } = parseConfig(yaml, {});
      expect(warnings).toEqual([]);
      const dcs = new EtcdDcs(dcsOptionsFromConfig(config));
      try {
        expect(
          await dcs.touchMember({
            conn_url: 'postgres://127.0.0.1:5432/postgres',
            api_url: 'http://127.0.0.1:8008/patroni',
            state: 'running',
            role: 'replica',
          }),
        ).toBe(true);
        expect(await dcs.attemptToAcquireLeader()).toBe(true);
        expect((await dcs.loadCluster()).leader?.name).toBe('tlsnode');
      } finally {
        await dcs.close();
      }
      // Without the CA, the same settings fail on the certificate, naming the host.
      const noCa = { ...config, etcd3: { ...config.etcd3 } };
      delete noCa.etcd3.cacert;
      const untrusting = new EtcdDcs(dcsOptionsFromConfig(noCa));
      try {
        await expect(untrusting.loadCluster()).rejects.toMatchObject({ code: 'dcs_tls_failed', message: expect.stringContaining(secure.hosts[0]!) });
      } finally {
        await untrusting.close();
      }
    } finally {
      await secure.destroy();
    }
  });
});

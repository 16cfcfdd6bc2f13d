import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
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
import { HaAgent, parseConfig, type HaAgentEvent, type HaConfig } from '../src/index.js';

// Shared by the integration test files: three agents in this process over a real 3-member etcd
// and real PostgreSQL on loopback. Not a test file itself.

const user = serverUser();
const runAs = user ? { uid: user.uid, gid: user.gid } : undefined;

export interface Timings {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

/** `HA_TIMINGS=30/10/10` selects the seed article's timings; default 10/2/4. */
export function timingsFromEnv(): Timings {
  const [ttl, loopWait, retryTimeout] = (process.env.HA_TIMINGS ?? '10/2/4').split('/').map(Number);
  return { ttl: ttl ?? 10, loopWait: loopWait ?? 2, retryTimeout: retryTimeout ?? 4 };
}

export interface HaNode {
  name: string;
  dir: TempDir;
  pgPort: number;
  apiPort: number;
  configFile: string;
  agent: HaAgent;
  /** Every event of the node's agents, with when this process saw it (`Date.now()`). */
  events: Array<HaAgentEvent & { at: number }>;
}

export interface HaClusterOptions {
  scope: string;
  timings?: Timings;
  restapiAuth?: { username: string; password: string };
  /** `bootstrap.dcs.synchronous_mode` (and `_strict`). */
  synchronousMode?: boolean | 'strict';
  /** `watchdog.software_fence` (default true). */
  softwareFence?: boolean;
  /** `postgresql.callbacks` of the node whose directory is given. */
  callbacks?: (nodeDir: string) => Record<string, string>;
  /** More `postgresql.parameters` of every node (archive_command, restore_command...). */
  parameters?: Record<string, string>;
  /** `tags:` of the node with this name. */
  tags?: (name: string) => Record<string, unknown>;
  /** Edits each node's configuration text (e.g. adds bootstrap keys). */
  editYaml?: (yaml: string, nodeDir: string) => string;
  /** An etcd another cluster started (a second scope on it); `destroy()` leaves it running. */
  etcd?: EtcdCluster;
  /** Member names are `<namePrefix>1`, `<namePrefix>2`...; default `node`. */
  namePrefix?: string;
}

function configYaml(o: HaClusterOptions, t: Timings, name: string, dir: string, pgPort: number, apiPort: number, hosts: string[]): string {
  const auth = o.restapiAuth ? `, authentication: {username: ${o.restapiAuth.username}, password: ${o.restapiAuth.password}}` : '';
  const extraParameters = Object.entries(o.parameters ?? {})
    .map(([k, v]) => `, ${k}: ${JSON.stringify(v)}`)
    .join('');
  const yaml = `
scope: ${o.scope}
name: ${name}
restapi: {listen: 127.0.0.1:${apiPort}, connect_address: 127.0.0.1:${apiPort}${auth}}
etcd3: {hosts: [${hosts.join(', ')}]}
bootstrap:
  dcs:
    ttl: ${t.ttl}
    loop_wait: ${t.loopWait}
    retry_timeout: ${t.retryTimeout}
    maximum_lag_on_failover: 1048576
    synchronous_mode: ${o.synchronousMode ? 'true' : 'false'}
    synchronous_mode_strict: ${o.synchronousMode === 'strict' ? 'true' : 'false'}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters: {wal_level: replica, hot_standby: "on", wal_log_hints: "on", max_wal_senders: 10, max_replication_slots: 10, wal_keep_size: 128MB}
  initdb: [{encoding: UTF8}, {locale: C}]
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${pgPort}
  connect_address: 127.0.0.1:${pgPort}
  data_dir: ${join(dir, 'data')}
  bin_dir: ${pgBinDir()}
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: postgres, password: postgres}
  parameters: {unix_socket_directories: '${dir}', fsync: "off", shared_buffers: 16MB${extraParameters}}${o.callbacks ? `\n  callbacks: ${JSON.stringify(o.callbacks(dir))}` : ''}
watchdog: {mode: "off"${o.softwareFence === false ? ', software_fence: false' : ''}}
${o.tags ? `tags: ${JSON.stringify(o.tags(name))}\n` : ''}`;
  return o.editYaml ? o.editYaml(yaml, dir) : yaml;
}

/**
 * Power loss of `node`: its postmaster's process group (postmaster and backends: a backend outlives
 * a killed postmaster long enough to commit an in-flight statement) and its software fence SIGKILLed,
 * then its agent abandoned in the same tick, so nothing of the node acts afterwards. Left alive, the
 * fence would (rightly) prove PostgreSQL stopped and revoke the lease, which a real power loss
 * cannot. Returns when the power went.
 */
export async function powerLoss(node: HaNode): Promise<number> {
  const pm = node.agent.pg.postmaster?.pid;
  const fence = node.agent.fencePid;
  if (pm !== undefined) process.kill(-pm, 'SIGKILL');
  if (fence !== undefined) process.kill(-fence, 'SIGKILL');
  const at = Date.now();
  await node.agent.abandon();
  return at;
}

/** One query on a fresh connection as postgres. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function patroni(node: HaNode): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}/patroni`, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as Record<string, unknown>;
}

/** One REST call to `node`'s API: status and body text. */
export async function api(node: HaNode, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(90_000),
  });
  return { status: res.status, text: await res.text() };
}

export class HaCluster {
  readonly nodes: HaNode[] = [];
  private readonly postmasterPids = new Set<number>();
  private readonly reapers: Reaper[] = [];
  readonly timings: Timings;

  private constructor(
    readonly options: HaClusterOptions,
    readonly etcd: EtcdCluster,
  ) {
    this.timings = options.timings ?? { ttl: 10, loopWait: 2, retryTimeout: 4 };
  }

  /** A 3-member etcd and `count` agents, started (bootstrap runs in the background). */
  static async start(options: HaClusterOptions, count = 3): Promise<HaCluster> {
    const cluster = new HaCluster(options, options.etcd ?? (await startEtcd({ members: 3 })));
    for (let i = 1; i <= count; i++) {
      const name = `${options.namePrefix ?? 'node'}${i}`;
      const dir = await makeTempDir(`ha-${name}`, user);
      const pgPort = await freePort();
      const apiPort = await freePort();
      const configFile = join(dir.path, 'ha.yml');
      writeFileSync(configFile, configYaml(options, cluster.timings, name, dir.path, pgPort, apiPort, cluster.etcd.hosts), { mode: 0o600 });
      const node = { name, dir, pgPort, apiPort, configFile, events: [] } as unknown as HaNode;
      node.agent = cluster.newAgent(node);
      cluster.nodes.push(node);
    }
    for (const n of cluster.nodes) await n.agent.start();
    return cluster;
  }

  /** The configuration of `node`, optionally edited (for a new agent, or `agent.reload()`). */
  configOf(node: HaNode, editYaml: (yaml: string) => string = (y) => y): HaConfig {
    return parseConfig(editYaml(configYaml(this.options, this.timings, node.name, node.dir.path, node.pgPort, node.apiPort, this.etcd.hosts)), {}).config;
  }

  /** A new agent for `node` (same config, optionally edited, and data dir); the caller starts it. */
  newAgent(node: HaNode, editYaml: (yaml: string) => string = (y) => y): HaAgent {
    const config = this.configOf(node, editYaml);
    const log = (level: string) => (msg: string, fields?: unknown) => {
      if (process.env.HA_TEST_LOG) console.error(`${new Date().toISOString()} ${node.name} ${level}: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
    };
    return new HaAgent(config, {
      logger: { debug: () => undefined, info: log('INFO'), warn: log('WARN'), error: log('ERROR') },
      ...(runAs ? { runAs } : {}),
      postgresLogFile: join(node.dir.path, 'postgres.log'),
      onEvent: (e) => {
        node.events.push({ ...e, at: Date.now() });
        if (e.type === 'postmaster_started') {
          this.postmasterPids.add(e.pid);
          // Stops this postmaster by PID if the test process dies before destroy() runs.
          this.reapers.push(startReaper({ pid: e.pid, signal: 'SIGQUIT' }));
        }
      },
    });
  }

  byName(name: string): HaNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  leaders(running: HaNode[] = this.nodes): HaNode[] {
    return running.filter((n) => n.agent.holdsLeaderKey && n.agent.role === 'primary');
  }

  /** Waits for exactly one leader and the other `running` nodes streaming from it on its timeline. */
  async waitForHealthy(running: HaNode[] = this.nodes, timeoutMs = 60_000): Promise<HaNode> {
    let leader: HaNode | undefined;
    await waitFor(
      async () => {
        const ls = this.leaders(running);
        if (ls.length !== 1) return false;
        leader = ls[0]!;
        const rows = await sql<{ application_name: string; state: string }>(leader.pgPort, 'SELECT application_name, state FROM pg_stat_replication');
        const others = running.filter((n) => n !== leader);
        if (!others.every((o) => rows.some((r) => r.application_name === o.name && r.state === 'streaming'))) return false;
        // The failover rule counts only streaming its agent has seen: tests that kill the leader next
        // must not race the replicas' next cycle (their member keys say so once it has run).
        const states = await Promise.all(others.map((o) => this.memberKey(o.name).then((m) => m.replication_state)));
        if (!states.every((st) => st === 'streaming')) return false;
        const tls = await Promise.all(running.map(async (n) => (await patroni(n)).timeline));
        return tls.every((t) => t === tls[0]);
      },
      { timeoutMs, intervalMs: 250, describe: () => `one leader and ${running.length - 1} streaming replicas` },
    );
    return leader!;
  }

  /** `name`'s member key in etcd (`{}` when absent). */
  async memberKey(name: string): Promise<Record<string, unknown>> {
    const text = await this.etcd.etcdctl(['get', '--print-value-only', `/service/${this.options.scope}/members/${name}`]);
    return text.trim() ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  async waitForRow(node: HaNode, id: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => (await sql(node.pgPort, 'SELECT 1 FROM ha_probe WHERE id = $1', [id])).length === 1, {
      timeoutMs,
      intervalMs: 100,
      describe: () => `row ${id} on ${node.name}`,
    });
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => Promise.race([n.agent.stop(), new Promise((r) => setTimeout(r, 30_000))]).catch(() => undefined)));
    for (const pid of this.postmasterPids) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const r of this.reapers) r.dismiss();
    if (this.options.etcd === undefined) await this.etcd.destroy();
    for (const n of this.nodes) n.dir.remove();
  }
}

export interface Ack {
  id: number;
  at: number;
  node: string;
}

/**
 * A client that commits one row every `intervalMs` to whichever node is the writable primary
 * (it finds it itself, like a client with target_session_attrs=read-write) and logs the acks.
 */
export class Writer {
  readonly acks: Ack[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private nextId: number;

  constructor(
    private readonly nodes: () => HaNode[],
    firstId: number,
    private readonly intervalMs = 50,
  ) {
    this.nextId = firstId;
  }

  start(): this {
    this.running = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async connectPrimary(): Promise<{ client: pg.Client; node: string } | undefined> {
    for (const n of this.nodes()) {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: n.pgPort,
        user: 'postgres',
        password: 'postgres',
        database: 'postgres',
        connectionTimeoutMillis: 1000,
      });
      c.on('error', () => undefined);
      try {
        await c.connect();
        const r = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (r.rows[0]?.r === false) return { client: c, node: n.name };
      } catch {
        // not up, or not writable
      }
      await c.end().catch(() => undefined);
    }
    return undefined;
  }

  private async run(): Promise<void> {
    let conn: { client: pg.Client; node: string } | undefined;
    while (!this.stopped) {
      const began = Date.now();
      conn ??= await this.connectPrimary();
      if (conn) {
        const id = this.nextId++;
        try {
          await conn.client.query({ text: 'INSERT INTO ha_probe (id) VALUES ($1)', values: [id], query_timeout: 2000 } as pg.QueryConfig);
          this.acks.push({ id, at: Date.now(), node: conn.node });
        } catch {
          await conn.client.end().catch(() => undefined);
          conn = undefined;
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(10, this.intervalMs - (Date.now() - began))));
    }
    await conn?.client.end().catch(() => undefined);
  }

  /** The longest gap between two consecutive acks at or after `since` (ms). */
  maxGap(since: number): { gapMs: number; lastBefore: number; firstAfter: number } {
    const after = this.acks.filter((a) => a.at >= since - 2000);
    let best = { gapMs: 0, lastBefore: 0, firstAfter: 0 };
    for (let i = 1; i < after.length; i++) {
      const g = after[i]!.at - after[i - 1]!.at;
      if (g > best.gapMs) best = { gapMs: g, lastBefore: after[i - 1]!.at, firstAfter: after[i]!.at };
    }
    return best;
  }
}

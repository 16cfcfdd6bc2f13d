import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
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

// Three real `ha-agent` processes (one per node, as the PostgreSQL OS user) over a 3-member etcd.
// Power loss of the primary node: SIGKILL of its agent process and of its PostgreSQL process group.
const user = serverUser();
// Run as the PostgreSQL OS user: from a copy it can read when the checkout is in /root.
const AGENT = join(packageDirFor('@pgtools/ha-agent-cli', resolve(__dirname, '..'), user), 'bin', 'ha-agent.js');
const TTL = 10;

interface Node {
  name: string;
  dir: TempDir;
  pgPort: number;
  apiPort: number;
  config: string;
  proc?: ManagedProcess;
}

let etcd: EtcdCluster;
const nodes: Node[] = [];

function yaml(n: Node, hosts: string[]): string {
  return `scope: powerloss
name: ${n.name}
restapi: {listen: 127.0.0.1:${n.apiPort}, connect_address: 127.0.0.1:${n.apiPort}}
etcd3: {hosts: [${hosts.join(', ')}]}
bootstrap:
  dcs:
    ttl: ${TTL}
    loop_wait: 2
    retry_timeout: 4
    postgresql: {use_pg_rewind: true, use_slots: true, parameters: {wal_log_hints: "on", wal_keep_size: 128MB}}
  initdb: [{encoding: UTF8}, {locale: C}]
  pg_hba: [local all all trust, host all all 127.0.0.1/32 trust, host replication all 127.0.0.1/32 trust]
postgresql:
  listen: 127.0.0.1:${n.pgPort}
  connect_address: 127.0.0.1:${n.pgPort}
  data_dir: ${join(n.dir.path, 'data')}
  bin_dir: ${pgBinDir()}
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
  parameters: {unix_socket_directories: '${n.dir.path}', fsync: "off", shared_buffers: 16MB}
watchdog: {mode: "off"}
`;
}

function startAgent(n: Node): void {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATRONI_')));
  n.proc = spawnManaged(process.execPath, [AGENT, n.config], {
    env,
    cwd: n.dir.path,
    logFile: join(n.dir.path, `agent-${Date.now()}.log`),
    ...(user ? { user } : {}),
    stopSignal: 'SIGTERM',
  });
}

function postmasterPid(n: Node): number | undefined {
  const f = join(n.dir.path, 'data', 'postmaster.pid');
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
  return pid > 0 && isAlive(pid) ? pid : undefined;
}

async function status(n: Node, path: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${n.apiPort}${path}`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  return res?.status ?? 0;
}

/**
 * The REST API reports what the agent last saw, refreshed every loop: right after PostgreSQL
 * starts streaming it may still say "starting" for up to a loop_wait.
 */
async function expectStatusSoon(n: Node, path: string): Promise<void> {
  let last = 0;
  await waitFor(async () => (last = await status(n, path)) === 200, {
    timeoutMs: 10_000,
    intervalMs: 200,
    describe: () => `GET ${path} on ${n.name} answers 200 (last ${last})`,
  });
}

async function query<R extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function primaryNode(candidates: Node[]): Promise<Node | undefined> {
  for (const n of candidates) if ((await status(n, '/primary')) === 200) return n;
  return undefined;
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
  for (let i = 1; i <= 3; i++) {
    const n: Node = { name: `node${i}`, dir: await makeTempDir(`powerloss-${i}`, user), pgPort: await freePort(), apiPort: await freePort(), config: '' };
    n.config = join(n.dir.path, 'ha.yml');
    writeFileSync(n.config, yaml(n, etcd.hosts), { mode: 0o600 });
    if (user) execFileSync('chown', [`${user.uid}:${user.gid}`, n.config]);
    nodes.push(n);
  }
  for (const n of nodes) startAgent(n);
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.proc?.stop('SIGTERM', 30_000)));
  for (const n of nodes) {
    const pid = postmasterPid(n);
    if (pid) process.kill(pid, 'SIGQUIT');
  }
  await etcd?.destroy();
  for (const n of nodes) n.dir.remove();
}, 120_000);

describe('power loss of the primary with real ha-agent processes (ttl 10 / loop_wait 2 / retry_timeout 4)', () => {
  let old: Node;
  let leader: Node;
  const acks: Array<{ id: number; at: number; port: number }> = [];

  it('a replica takes over after the agent and PostgreSQL are SIGKILLed; the other replica follows', async () => {
    let found: Node | undefined;
    await waitFor(
      async () => {
        found = await primaryNode(nodes);
        if (!found) return false;
        const rows = await query<{ n: string }>(found.pgPort, "SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'").catch(() => []);
        return Number(rows[0]?.n ?? 0) === 2;
      },
      { timeoutMs: 90_000, intervalMs: 500, describe: () => `a primary with two streaming replicas:\n${nodes.map((n) => n.proc?.logTail(5)).join('\n')}` },
    );
    old = found!;
    // The failover rule needs each replica's agent to have seen itself stream from this leader (not
    // only PostgreSQL to stream): its member key says so once a cycle has observed it.
    const replicas = nodes.filter((n) => n !== old);
    await waitFor(
      async () => {
        const states = await Promise.all(
          replicas.map(
            async (n) =>
              (
                JSON.parse((await etcd.etcdctl(['get', '--print-value-only', `/service/powerloss/members/${n.name}`])) || '{}') as {
                  replication_state?: string;
                }
              ).replication_state,
          ),
        );
        return states.every((s) => s === 'streaming');
      },
      { timeoutMs: 30_000, intervalMs: 500, describe: () => 'both replicas agents report streaming in their member keys' },
    );
    await query(old.pgPort, 'CREATE TABLE probe (id int PRIMARY KEY)');

    let stop = false;
    let target = old.pgPort;
    const writer = (async () => {
      for (let id = 1; !stop; id++) {
        try {
          await query(target, 'INSERT INTO probe VALUES ($1)', [id]);
          acks.push({ id, at: Date.now(), port: target });
        } catch {
          const p = await primaryNode(nodes.filter((n) => n !== old));
          if (p) target = p.pgPort;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await waitFor(() => acks.length >= 10, { timeoutMs: 20_000 });
    const pmPid = postmasterPid(old)!;
    old.proc!.signal('SIGKILL');
    process.kill(-pmPid, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => acks.some((a) => a.port !== old.pgPort), { timeoutMs: 60_000, intervalMs: 100, describe: () => 'a write on a new primary' });
    stop = true;
    await writer;
    const firstAfter = acks.find((a) => a.port !== old.pgPort)!;
    const lastBefore = acks.filter((a) => a.port === old.pgPort).at(-1)!;
    leader = nodes.find((n) => n.pgPort === firstAfter.port)!;
    const outage = (firstAfter.at - lastBefore.at) / 1000;
    const before = acks.filter((a) => a.port === old.pgPort).map((a) => a.id);
    const present = await query<{ n: string }>(leader.pgPort, 'SELECT count(*) AS n FROM probe WHERE id = ANY($1)', [before]);
    const lost = before.length - Number(present[0]!.n);
    const kept = new Set((await query<{ id: number }>(leader.pgPort, 'SELECT id FROM probe WHERE id = ANY($1)', [before])).map((r) => r.id));
    const lostAcks = acks.filter((a) => a.port === old.pgPort && !kept.has(a.id));
    console.log(
      `[measure] power loss with real processes (ttl ${TTL}/2/4): write outage ${outage.toFixed(2)} s, ${lost} of ${before.length} acknowledged writes lost (async replication), killed ${((killedAt - lastBefore.at) / 1000).toFixed(2)} s after the last ack`,
    );
    expect(outage).toBeLessThan(TTL + 2 * 2 + 5);
    // Asynchronous replication may lose the tail the replicas had not received yet, never an older write.
    const firstLost = lostAcks[0];
    if (firstLost) {
      expect(
        before.filter((id) => id > firstLost.id).every((id) => !kept.has(id)),
        'lost writes form a suffix',
      ).toBe(true);
      expect(killedAt - firstLost.at, `lost: ${JSON.stringify(lostAcks)}\n${nodes.map((n) => n.proc?.logTail(15)).join('\n')}`).toBeLessThan(1000);
    }
    const other = nodes.find((n) => n !== old && n !== leader)!;
    await waitFor(
      async () => {
        const rows = await query<{ application_name: string; state: string }>(leader.pgPort, 'SELECT application_name, state FROM pg_stat_replication');
        return rows.some((r) => r.application_name === other.name && r.state === 'streaming');
      },
      { timeoutMs: 30_000, intervalMs: 250, describe: () => `${other.name} streams from ${leader.name}` },
    );
    await expectStatusSoon(other, '/replica');
  });

  it('a restarted agent on the old node rejoins as a replica with pg_rewind', async () => {
    const t0 = Date.now();
    startAgent(old);
    await waitFor(
      async () => {
        const rows = await query<{ application_name: string; state: string }>(leader.pgPort, 'SELECT application_name, state FROM pg_stat_replication');
        return rows.some((r) => r.application_name === old.name && r.state === 'streaming');
      },
      { timeoutMs: 60_000, intervalMs: 250, describe: () => `${old.name} streams again:\n${old.proc?.logTail(20)}` },
    );
    console.log(`[measure] old primary rejoined (real process) ${((Date.now() - t0) / 1000).toFixed(2)} s after its agent started`);
    expect(old.proc!.logTail(200)).toMatch(/single-user mode|rewind/i);
    const last = acks.at(-1)!.id;
    await waitFor(async () => (await query(old.pgPort, 'SELECT 1 FROM probe WHERE id = $1', [last])).length === 1, {
      timeoutMs: 20_000,
      describe: () => `row ${last} on ${old.name}`,
    });
    await expectStatusSoon(old, '/replica');
    expect(await status(leader, '/primary')).toBe(200);
  });
});

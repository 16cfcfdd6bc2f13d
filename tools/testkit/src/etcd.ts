import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { TestNetwork } from './netns.js';
import { freePort, makeTempDir, spawnManaged, waitFor, type ManagedProcess, type TempDir } from './process.js';

const run = promisify(execFile);

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly process: ManagedProcess;
  /** Stops the member (SIGTERM), keeping its data for `start()`. */
  stop(): Promise<void>;
  /** Starts the member again on the same ports and data. */
  start(): Promise<void>;
}

export interface EtcdCluster {
  /** Client URLs of every member, e.g. `['http://127.0.0.1:23791']`. */
  readonly endpoints: string[];
  /** `host:port` of every member, the form Patroni's `etcd3.hosts` takes. */
  readonly hosts: string[];
  readonly members: EtcdMember[];
  /** Stops every member and removes their data. Safe to call twice. */
  destroy(): Promise<void>;
}

/** From inside the member's namespace when it has one: the test process cannot reach it directly. */
async function memberHealthy(clientUrl: string, netns: string | undefined): Promise<boolean> {
  if (!netns) {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  }
  try {
    await run('ip', ['netns', 'exec', netns, 'etcdctl', `--endpoints=${clientUrl}`, '--command-timeout=1s', 'endpoint', 'health'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    return true;
  } catch {
    return false;
  }
}

function etcdBinary(): string {
  if (process.env.ETCD_BIN) return process.env.ETCD_BIN;
  for (const candidate of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(candidate)) return candidate;
  throw new Error('etcd not found: install etcd-server or set ETCD_BIN');
}

/**
 * Starts a real etcd on 127.0.0.1: one member by default, or a cluster of `members` (3 for the HA tests).
 *
 * @example
 * ```ts
 * const etcd = await startEtcd({ members: 3 });
 * const client = new Etcd3({ hosts: etcd.endpoints });
 * // ...
 * await etcd.destroy();
 * ```
 */
export async function startEtcd({ members = 1, network }: { members?: number; network?: TestNetwork } = {}): Promise<EtcdCluster> {
  if (network && network.hosts.length < members) throw new Error(`the network has ${network.hosts.length} hosts for ${members} etcd members`);
  const binary = etcdBinary();
  const dir: TempDir = await makeTempDir('etcd');
  const specs: Array<{ name: string; host: string; netns: string | undefined; clientPort: number; peerPort: number }> = [];
  // On a test network each member is alone in its namespace, so fixed ports are free.
  for (let i = 1; i <= members; i++) {
    const host = network?.hosts[i - 1];
    specs.push({
      name: `etcd${i}`,
      host: host?.address ?? '127.0.0.1',
      netns: host?.netns,
      clientPort: host ? 2379 : await freePort(),
      peerPort: host ? 2380 : await freePort(),
    });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://${s.host}:${s.peerPort}`).join(',');
  const token = `pgtools-${process.pid}-${Date.now()}`;
  const created: EtcdMember[] = [];

  const makeMember = (spec: (typeof specs)[number]): EtcdMember => {
    const clientUrl = `http://${spec.host}:${spec.clientPort}`;
    const peerUrl = `http://${spec.host}:${spec.peerPort}`;
    const args = [
      '--name', spec.name,
      '--data-dir', join(dir.path, spec.name),
      '--listen-client-urls', clientUrl,
      '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-token', token,
      '--initial-cluster-state', 'new',
      '--heartbeat-interval', '100',
      '--election-timeout', '1000',
      '--log-level', 'warn',
    ];
    let proc: ManagedProcess | undefined;
    const member: EtcdMember = {
      name: spec.name,
      clientUrl,
      peerUrl,
      get process() {
        if (!proc) throw new Error('etcd member not started');
        return proc;
      },
      async start() {
        proc = spawnManaged(binary, args, {
          logFile: join(dir.path, `${spec.name}.log`),
          env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' },
          ...(spec.netns ? { netns: spec.netns } : {}),
        });
      },
      async stop() {
        await proc?.stop('SIGTERM', 10_000);
      },
    };
    return member;
  };

  try {
    for (const spec of specs) {
      const member = makeMember(spec);
      created.push(member);
      await member.start();
    }
    await Promise.all(
      created.map((member) =>
        waitFor(
          async () => {
            if (!member.process.isRunning()) throw new Error(`etcd ${member.name} exited:\n${member.process.logTail()}`);
            return await memberHealthy(member.clientUrl, specs.find((s) => s.name === member.name)?.netns);
          },
          { timeoutMs: 30_000, describe: () => `etcd ${member.name} healthy:\n${member.process.logTail()}` },
        ),
      ),
    );
  } catch (err) {
    await Promise.allSettled(created.map((m) => m.stop()));
    dir.remove();
    throw err;
  }

  let destroyed = false;
  return {
    endpoints: created.map((m) => m.clientUrl),
    hosts: specs.map((s) => `${s.host}:${s.clientPort}`),
    members: created,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await Promise.allSettled(created.map((m) => m.stop()));
      dir.remove();
    },
  };
}

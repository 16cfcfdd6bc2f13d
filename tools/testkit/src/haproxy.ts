import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, makeTempDir, spawnManaged, waitFor, type ManagedProcess } from './process.js';

const run = promisify(execFile);

export interface HaproxyNode {
  name: string;
  /** PostgreSQL port on 127.0.0.1. */
  pgPort: number;
  /** REST API port on 127.0.0.1 (the health checks go there). */
  apiPort: number;
}

export interface HaproxyLayout {
  nodes: HaproxyNode[];
  /** Check interval, ms. The seed article uses 3000 with fall 3 / rise 2. */
  interMs?: number;
  fall?: number;
  rise?: number;
}

export interface Haproxy {
  readonly primaryPort: number;
  readonly replicaPort: number;
  readonly statsPort: number;
  readonly config: string;
  readonly process: ManagedProcess;
  destroy(): Promise<void>;
}

/**
 * The seed article's HAProxy layout on loopback: a writer port whose backends are checked with
 * `OPTIONS /primary`, a reader port checked with `OPTIONS /replica`, both against the agents' REST API.
 *
 * @example
 * ```ts
 * const text = haproxyConfig({ nodes }, { primaryPort: 5000, replicaPort: 5001, statsPort: 7000 });
 * ```
 */
export function haproxyConfig(layout: HaproxyLayout, ports: { primaryPort: number; replicaPort: number; statsPort: number }): string {
  const inter = layout.interMs ?? 3000;
  const fall = layout.fall ?? 3;
  const rise = layout.rise ?? 2;
  const servers = (check: string): string =>
    layout.nodes
      .map((n) => `    server ${n.name} 127.0.0.1:${n.pgPort} maxconn 100 check port ${n.apiPort}`)
      .join('\n')
      .replace(/^/, `    option httpchk OPTIONS ${check}\n    http-check expect status 200\n    default-server inter ${inter}ms fall ${fall} rise ${rise} on-marked-down shutdown-sessions\n`);
  return `global
    maxconn 200

defaults
    log global
    mode tcp
    retries 2
    timeout client 30m
    timeout connect 4s
    timeout server 30m
    timeout check 5s

listen stats
    mode http
    bind 127.0.0.1:${ports.statsPort}
    stats enable
    stats uri /

listen primary
    bind 127.0.0.1:${ports.primaryPort}
${servers('/primary')}

listen replicas
    bind 127.0.0.1:${ports.replicaPort}
    balance roundrobin
${servers('/replica')}
`;
}

/**
 * Starts a real HAProxy (foreground, by PID) with a generated configuration.
 *
 * @example
 * ```ts
 * const proxy = await startHaproxy({ nodes: [{ name: 'pg1', pgPort: 5432, apiPort: 8008 }] });
 * // connect writers to 127.0.0.1:proxy.primaryPort
 * await proxy.destroy();
 * ```
 */
export async function startHaproxy(layout: HaproxyLayout): Promise<Haproxy> {
  const dir = await makeTempDir('haproxy');
  const ports = { primaryPort: await freePort(), replicaPort: await freePort(), statsPort: await freePort() };
  const config = haproxyConfig(layout, ports);
  const configFile = join(dir.path, 'haproxy.cfg');
  await writeFile(configFile, config);
  try {
    await run('haproxy', ['-c', '-f', configFile]);
  } catch (err) {
    dir.remove();
    throw new Error(`invalid HAProxy configuration: ${(err as Error).message}`);
  }
  const proc = spawnManaged('haproxy', ['-db', '-f', configFile], { logFile: join(dir.path, 'haproxy.log') });
  try {
    await waitFor(
      () =>
        new Promise<boolean>((resolve, reject) => {
          if (!proc.isRunning()) reject(new Error('haproxy exited'));
          const socket = connect(ports.statsPort, '127.0.0.1');
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        }),
      { timeoutMs: 15_000, describe: () => `HAProxy listening:\n${proc.logTail()}` },
    );
  } catch (err) {
    await proc.stop('SIGKILL');
    dir.remove();
    throw err;
  }
  let destroyed = false;
  return {
    ...ports,
    config,
    process: proc,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await proc.stop('SIGTERM', 5_000);
      dir.remove();
    },
  };
}

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, makeTempDir, spawnManaged, waitFor, type ManagedProcess } from './process.js';

const run = promisify(execFile);

export interface HaproxyNode {
  name: string;
  /** The node's address (default 127.0.0.1), e.g. a `createNetwork` host's `10.251.0.1`. */
  host?: string;
  /** PostgreSQL port on `host`. */
  pgPort: number;
  /** REST API port on `host` (the health checks go there). */
  apiPort: number;
}

export interface HaproxyLayout {
  nodes: HaproxyNode[];
  /** Check interval, ms. The seed article uses 3000 with fall 3 / rise 2. */
  interMs?: number;
  fall?: number;
  rise?: number;
  /**
   * Listen on unix sockets in `socketDir` instead of 127.0.0.1 ports: the writer port becomes
   * `<socketDir>/.s.PGSQL.<primaryPort>` (so `pg` connects with `host: socketDir, port: primaryPort`),
   * stats `<socketDir>/stats.sock`. Filesystem sockets are not namespaced, so a test process outside
   * `netns` reaches them.
   */
  socketDir?: string;
  /** Also forward `<socketDir>/api-<name>.sock` to each node's REST API (needs `socketDir`). */
  apiProxies?: boolean;
  /**
   * Open server connections (and health checks) inside this network namespace while HAProxy
   * itself listens in its own (HAProxy's `namespace` server keyword; HAProxy must run as root).
   */
  serverNetns?: string;
}

/** Where `haproxyConfig` puts a node's REST API forward (`apiProxies`). */
function haproxyApiSocket(socketDir: string, nodeName: string): string {
  return join(socketDir, `api-${nodeName}.sock`);
}

export interface Haproxy {
  /** With `socketDir`, the `.s.PGSQL.<port>` number of the writer socket there. */
  readonly primaryPort: number;
  readonly replicaPort: number;
  readonly statsPort: number;
  readonly config: string;
  readonly process: ManagedProcess;
  /** The directory of the unix sockets (`unixSockets`), else undefined. */
  readonly socketDir: string | undefined;
  /** With `unixSockets` and `apiProxies`: node name -> unix socket forwarding to its REST API. */
  readonly apiSockets: Record<string, string>;
  destroy(): Promise<void>;
}

/** Where and how `startHaproxy` runs HAProxy. */
export interface StartHaproxyOptions {
  /** Run inside this network namespace (a `createNetwork` host's `netns`); pair it with `socketDir: true`. */
  netns?: string;
  /** Listen on unix sockets in HAProxy's own temp dir (see `HaproxyLayout.socketDir`) rather than 127.0.0.1 ports. */
  unixSockets?: boolean;
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
  const sock = layout.socketDir;
  const bind = (port: number, file = `.s.PGSQL.${port}`): string => (sock ? `${join(sock, file)} mode 600` : `127.0.0.1:${port}`);
  const servers = (check: string): string =>
    layout.nodes
      .map(
        (n) =>
          `    server ${n.name} ${n.host ?? '127.0.0.1'}:${n.pgPort} maxconn 100 check port ${n.apiPort}${layout.serverNetns ? ` namespace ${layout.serverNetns}` : ''}`,
      )
      .join('\n')
      .replace(
        /^/,
        `    option httpchk OPTIONS ${check}\n    http-check expect status 200\n    default-server inter ${inter}ms fall ${fall} rise ${rise} on-marked-down shutdown-sessions\n`,
      );
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
    bind ${bind(ports.statsPort, 'stats.sock')}
    stats enable
    stats uri /

listen primary
    bind ${bind(ports.primaryPort)}
${servers('/primary')}

listen replicas
    bind ${bind(ports.replicaPort)}
    balance roundrobin
${servers('/replica')}
${apiForwards(layout)}`;
}

function apiForwards(layout: HaproxyLayout): string {
  if (!layout.apiProxies) return '';
  if (!layout.socketDir) throw new Error('haproxy apiProxies needs socketDir');
  const dir = layout.socketDir;
  return layout.nodes
    .map(
      (n) => `
listen api-${n.name}
    bind ${haproxyApiSocket(dir, n.name)} mode 600
    timeout connect 1s
    retries 0
    server ${n.name} ${n.host ?? '127.0.0.1'}:${n.apiPort}
`,
    )
    .join('');
}

/**
 * Starts a real HAProxy (foreground, by PID) with a generated configuration. With `unixSockets`
 * (and usually `netns`), the frontends are unix sockets in `socketDir` and the ports are fixed
 * (writer 5000, reader 5001): a test process in the root namespace reaches nodes on a test network.
 *
 * @example
 * ```ts
 * const proxy = await startHaproxy({ nodes: [{ name: 'pg1', pgPort: 5432, apiPort: 8008 }] });
 * // connect writers to 127.0.0.1:proxy.primaryPort
 * await proxy.destroy();
 * ```
 */
export async function startHaproxy(layout: HaproxyLayout, options: StartHaproxyOptions = {}): Promise<Haproxy> {
  const dir = await makeTempDir('haproxy');
  const socketDir = options.unixSockets ? dir.path : undefined;
  const ports = socketDir
    ? { primaryPort: 5000, replicaPort: 5001, statsPort: 7000 }
    : { primaryPort: await freePort(), replicaPort: await freePort(), statsPort: await freePort() };
  const config = haproxyConfig(socketDir ? { ...layout, socketDir } : layout, ports);
  const configFile = join(dir.path, 'haproxy.cfg');
  await writeFile(configFile, config);
  try {
    await run('haproxy', ['-c', '-f', configFile]);
  } catch (err) {
    dir.remove();
    throw new Error(`invalid HAProxy configuration: ${(err as Error).message}`);
  }
  const proc = spawnManaged('haproxy', ['-db', '-f', configFile], {
    logFile: join(dir.path, 'haproxy.log'),
    ...(options.netns ? { netns: options.netns } : {}),
  });
  try {
    await waitFor(
      () =>
        new Promise<boolean>((resolve, reject) => {
          if (!proc.isRunning()) reject(new Error('haproxy exited'));
          const socket = socketDir ? connect(join(socketDir, 'stats.sock')) : connect(ports.statsPort, '127.0.0.1');
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
    socketDir,
    apiSockets: socketDir && layout.apiProxies ? Object.fromEntries(layout.nodes.map((n) => [n.name, haproxyApiSocket(socketDir, n.name)])) : {},
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await proc.stop('SIGTERM', 5_000);
      dir.remove();
    },
  };
}

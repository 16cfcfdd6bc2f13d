import {
  createNetwork,
  makeTempDir,
  pgBinDir,
  serverUser,
  startEtcd,
  startHaproxy,
  waitFor,
  type EtcdCluster,
  type Haproxy,
  type NetHost,
  type TempDir,
  type TestNetwork,
} from '@pgtools/testkit';
import { join } from 'node:path';
import type { AgentKind } from './agent-kind.js';
import { waitConverged, type Converged } from './convergence.js';
import { nodeConfigYaml, SCENARIO_TIMINGS, type HaTimings } from './node-config.js';
import type { SocketTarget } from './pg-socket.js';
import { ScenarioNode } from './scenario-node.js';
import { PROBE_TABLE_DDL } from './split-brain.js';
import { WRITES_TABLE_DDL } from './write-load.js';

/** What a scenario cluster runs. Every field has the suite's default. */
export interface ScenarioClusterOptions {
  /** `ha-agent` (default) or `patroni` for the side-by-side: same configuration, same layout. */
  agent?: AgentKind;
  /**
   * Data nodes, each with an agent and PostgreSQL (default 3; at least 3: etcd's 3 members run on
   * the first three hosts). HAProxy lists every one; the client host comes after them.
   */
  dataNodes?: number;
  /** Cluster scope (default `scenarios`). */
  scope?: string;
  /** Default ttl 10 / loop_wait 2 / retry_timeout 4. */
  timings?: HaTimings;
  /** Unset: the agent's default (1 MB, Patroni's). */
  maximumLagOnFailover?: number;
  /** Bootstrap with `synchronous_mode` (or `'strict'`); `setDynamicConfig` turns it on later. */
  synchronousMode?: boolean | 'strict';
  /** Default `automatic` (no /dev/watchdog here, so the agent runs without one). */
  watchdogMode?: 'off' | 'automatic' | 'required';
  /** Passed through as `watchdog.software_fence` (e.g. `true` or a mapping, as the agent defines it). */
  softwareFence?: unknown;
  /** HAProxy checks; default the seed's `inter 3s fall 3 rise 2`. */
  haproxy?: { interMs?: number; fall?: number; rise?: number };
  /** More PostgreSQL parameters on every node. */
  parameters?: Record<string, string | number | boolean>;
  /** Per-node keys deep-merged into its configuration last. */
  extraConfig?: (name: string) => Record<string, unknown> | undefined;
  /** How long the first bootstrap may take (default 150 s). */
  bootstrapTimeoutMs?: number;
  /**
   * Copy every agent's log here on `destroy()` (default: the `HA_SCENARIOS_LOG_DIR` environment
   * variable, else nothing is kept).
   */
  keepLogsIn?: string;
  /** Progress events (libraries never print). */
  onEvent?: (event: { type: string; message: string }) => void;
}

/** A running scenario cluster. */
export interface ScenarioCluster {
  readonly nodes: ScenarioNode[];
  readonly network: TestNetwork;
  /** The host after the data nodes (the 4th by default), where HAProxy runs. */
  readonly client: NetHost;
  readonly etcd: EtcdCluster;
  readonly haproxy: Haproxy;
  readonly timings: HaTimings;
  /** HAProxy's writer port as a unix socket (`host: socketDir, port`). */
  readonly writerTarget: SocketTarget;
  /** HAProxy's reader port as a unix socket. */
  readonly readerTarget: SocketTarget;
  /** A node by name; throws when there is none. */
  node(name: string): ScenarioNode;
  /** The node name behind an address on the test network (the address itself when unknown). */
  nodeNameOf(address: string): string;
  /** Waits for one leader and streaming replicas (see `waitConverged`). */
  converged(o?: Parameters<typeof waitConverged>[1]): Promise<Converged>;
  /** `PATCH /config` through any node that answers (e.g. `{ synchronous_mode: true }`). */
  setDynamicConfig(patch: Record<string, unknown>): Promise<void>;
  /** Stops everything (agents, PostgreSQL, HAProxy, etcd), removes namespaces and temp dirs. Safe twice. */
  destroy(): Promise<void>;
}

/**
 * Starts the suite's cluster: hosts 1-3 (1-`dataNodes`) in network namespaces (10.251.0.1-3 and on)
 * joined by a bridge, a 3-member etcd (one member on each of the first three hosts), one agent per
 * host (PostgreSQL on `<address>:5432` plus a unix socket in the node's temp dir, REST API on
 * `<address>:8008`), and HAProxy on the next host (host 4 by default) with the seed's checks.
 * HAProxy's frontends are unix sockets (filesystem sockets are not namespaced), so the writer, the
 * reader and the REST calls of the test process, which lives in the root namespace, all pass
 * through that host as a client on the network would. node1 bootstraps first.
 *
 * @example
 * ```ts
 * import { startScenarioCluster } from '@pgtools/ha-scenarios';
 * const cluster = await startScenarioCluster({ agent: 'ha-agent' });
 * const { leader } = await cluster.converged();
 * await cluster.destroy();
 * ```
 */
export async function startScenarioCluster(options: ScenarioClusterOptions = {}): Promise<ScenarioCluster> {
  const emit = (type: string, message: string): void => options.onEvent?.({ type, message });
  const user = serverUser();
  const timings = options.timings ?? SCENARIO_TIMINGS;
  const agent = options.agent ?? 'ha-agent';
  const scope = options.scope ?? 'scenarios';
  const dataNodes = options.dataNodes ?? 3;
  if (!Number.isInteger(dataNodes) || dataNodes < 3)
    throw new Error(`dataNodes must be an integer of at least 3 (etcd's 3 members run on them), not ${dataNodes}`);
  let network: TestNetwork | undefined;
  let etcd: EtcdCluster | undefined;
  let haproxy: Haproxy | undefined;
  const dirs: TempDir[] = [];
  const nodes: ScenarioNode[] = [];

  const destroyAll = async (): Promise<void> => {
    for (const n of nodes) n.agent?.signal('SIGCONT');
    const keep = options.keepLogsIn ?? process.env.HA_SCENARIOS_LOG_DIR;
    await Promise.allSettled(nodes.map((n) => n.destroy(keep ? join(keep, scope) : undefined)));
    await haproxy?.destroy().catch(() => undefined);
    await etcd?.destroy().catch(() => undefined);
    await network?.destroy().catch(() => undefined);
    for (const d of dirs) d.remove();
  };

  try {
    network = await createNetwork({ hosts: dataNodes + 1 });
    const hosts = network.hosts.slice(0, dataNodes);
    const client = network.hosts[dataNodes]!;
    emit('network', `hosts ${network.hosts.map((h) => `${h.netns}=${h.address}`).join(', ')}`);
    etcd = await startEtcd({ members: 3, network });
    emit('etcd', `etcd members on ${etcd.hosts.join(', ')}`);
    const names = hosts.map((_, i) => `node${i + 1}`);
    haproxy = await startHaproxy(
      {
        nodes: hosts.map((h, i) => ({ name: names[i]!, host: h.address, pgPort: 5432, apiPort: 8008 })),
        interMs: options.haproxy?.interMs ?? 3000,
        fall: options.haproxy?.fall ?? 3,
        rise: options.haproxy?.rise ?? 2,
        apiProxies: true,
      },
      { netns: client.netns, unixSockets: true },
    );
    emit('haproxy', `HAProxy on ${client.address}, sockets in ${haproxy.socketDir}`);
    const subnet = `${hosts[0]!.address.split('.').slice(0, 3).join('.')}.0/24`;
    for (const [i, host] of hosts.entries()) {
      const name = names[i]!;
      const dir = await makeTempDir(`ha-${name}`, user);
      dirs.push(dir);
      const configYaml = nodeConfigYaml({
        scope,
        name,
        address: host.address,
        dir: dir.path,
        etcdHosts: etcd.hosts,
        subnet,
        binDir: pgBinDir(),
        timings,
        ...(options.maximumLagOnFailover !== undefined ? { maximumLagOnFailover: options.maximumLagOnFailover } : {}),
        ...(options.synchronousMode !== undefined ? { synchronousMode: options.synchronousMode } : {}),
        watchdogMode: options.watchdogMode ?? 'automatic',
        ...(options.softwareFence !== undefined ? { softwareFence: options.softwareFence } : {}),
        ...(options.parameters ? { parameters: options.parameters } : {}),
        ...(options.extraConfig?.(name) ? { extra: options.extraConfig(name)! } : {}),
      });
      nodes.push(new ScenarioNode({ name, host, dir, user, agent, configYaml, apiSocket: haproxy.apiSockets[name]! }));
    }
    const bootTimeout = options.bootstrapTimeoutMs ?? 150_000;
    // node1 first: concurrent initdb+bootstrap races cost time on 2 cores and make the first leader random.
    nodes[0]!.startAgent();
    await waitFor(
      async () => {
        if (!nodes[0]!.agent!.isRunning()) throw new Error(`node1's agent exited:\n${nodes[0]!.logTail()}`);
        const [row] = await nodes[0]!.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r', [], 1500);
        return row?.r === false;
      },
      { timeoutMs: bootTimeout, intervalMs: 500, describe: () => `node1 bootstraps as primary:\n${nodes[0]!.logTail()}` },
    );
    await nodes[0]!.query(WRITES_TABLE_DDL);
    await nodes[0]!.query(PROBE_TABLE_DDL);
    for (const n of nodes.slice(1)) n.startAgent();
    const first = await waitConverged(nodes, { timeoutMs: bootTimeout });
    emit('converged', `leader ${first.leader}, replicas ${first.replicas.join(', ')}, timeline ${first.timeline}`);

    const byAddress = new Map(nodes.map((n) => [n.address, n.name]));
    const net = network;
    const et = etcd;
    const hp = haproxy;
    let destroyed = false;
    return {
      nodes,
      network: net,
      client,
      etcd: et,
      haproxy: hp,
      timings,
      writerTarget: { socketDir: hp.socketDir!, port: hp.primaryPort },
      readerTarget: { socketDir: hp.socketDir!, port: hp.replicaPort },
      node(name) {
        const n = nodes.find((x) => x.name === name);
        if (!n) throw new Error(`no node ${name}`);
        return n;
      },
      nodeNameOf: (address) => byAddress.get(address) ?? address,
      converged: (o) => waitConverged(nodes, o),
      async setDynamicConfig(patch) {
        let last: unknown;
        for (const n of nodes) {
          try {
            const res = await n.rest('PATCH', '/config', patch, 5000);
            if (res.status === 200) return;
            last = new Error(`PATCH /config on ${n.name}: ${res.status} ${res.body}`);
          } catch (err) {
            last = err;
          }
        }
        throw new Error(`no node accepted PATCH /config: ${(last as Error)?.message}`);
      },
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        for (const h of net.hosts) await h.heal().catch(() => undefined);
        await destroyAll();
      },
    };
  } catch (err) {
    await destroyAll();
    throw err;
  }
}

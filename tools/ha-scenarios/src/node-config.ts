import { stringify } from 'yaml';

/** The HA timings of a scenario cluster, in seconds (Patroni's names: ttl, loop_wait, retry_timeout). */
export interface HaTimings {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

/** The suite's timings (issue 6): ttl 10 / loop_wait 2 / retry_timeout 4. */
export const SCENARIO_TIMINGS: HaTimings = { ttl: 10, loopWait: 2, retryTimeout: 4 };

/** What differs between the nodes' configuration files, and the cluster-wide choices. */
export interface NodeConfigOptions {
  scope: string;
  name: string;
  /** The node's address on the test network (PostgreSQL, REST API and etcd member listen there). */
  address: string;
  /** The node's private directory: data dir `<dir>/data`, PostgreSQL's unix socket, pgpass. */
  dir: string;
  /** `host:port` of every etcd member. */
  etcdHosts: string[];
  /** The test network's prefix for pg_hba (e.g. `10.251.0.0/24`). */
  subnet: string;
  binDir: string;
  pgPort?: number;
  apiPort?: number;
  timings?: HaTimings;
  /** `bootstrap.dcs.maximum_lag_on_failover`; unset leaves the agent's default (1 MB). */
  maximumLagOnFailover?: number;
  /** `synchronous_mode` (true) or also `synchronous_mode_strict` ('strict'). */
  synchronousMode?: boolean | 'strict';
  /** `watchdog.mode` (default automatic: no device here, so it runs without one). */
  watchdogMode?: 'off' | 'automatic' | 'required';
  watchdogSafetyMargin?: number;
  /** Passed through as `watchdog.software_fence` (pgtools only; Patroni ignores unknown keys). */
  softwareFence?: unknown;
  /** More `postgresql.parameters` for every node. */
  parameters?: Record<string, string | number | boolean>;
  /** Deep-merged over the generated document last (any key, e.g. `{ tags: { nofailover: true } }`). */
  extra?: Record<string, unknown>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Merges `patch` into `base` (objects recursively; arrays and scalars replace).
 *
 * @example
 * ```ts
 * import { deepMerge } from '@pgtools/ha-scenarios';
 * deepMerge({ a: { b: 1, c: 2 } }, { a: { c: 3 } }); // { a: { b: 1, c: 3 } }
 * ```
 */
export function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const cur = out[k];
    out[k] = isPlainObject(cur) && isPlainObject(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

/**
 * One node's Patroni-format configuration as a plain object: the same document drives pgtools'
 * `ha-agent` and Patroni 3.0.2, so the side-by-side compares like with like.
 *
 * @example
 * ```ts
 * import { nodeConfig } from '@pgtools/ha-scenarios';
 * const doc = nodeConfig({ scope: 'sc', name: 'node1', address: '10.251.0.1', dir: '/tmp/n1',
 *   etcdHosts: ['10.251.0.1:2379'], subnet: '10.251.0.0/24', binDir: '/usr/lib/postgresql/15/bin' });
 * ```
 */
export function nodeConfig(o: NodeConfigOptions): Record<string, unknown> {
  const t = o.timings ?? SCENARIO_TIMINGS;
  const pgPort = o.pgPort ?? 5432;
  const apiPort = o.apiPort ?? 8008;
  const dcs: Record<string, unknown> = { ttl: t.ttl, loop_wait: t.loopWait, retry_timeout: t.retryTimeout };
  if (o.maximumLagOnFailover !== undefined) dcs.maximum_lag_on_failover = o.maximumLagOnFailover;
  if (o.synchronousMode) {
    dcs.synchronous_mode = true;
    if (o.synchronousMode === 'strict') dcs.synchronous_mode_strict = true;
  }
  dcs.postgresql = {
    use_pg_rewind: true,
    use_slots: true,
    parameters: { wal_level: 'replica', hot_standby: 'on', wal_log_hints: 'on', max_wal_senders: 10, max_replication_slots: 10, wal_keep_size: '128MB' },
  };
  const watchdog: Record<string, unknown> = { mode: o.watchdogMode ?? 'automatic' };
  if (o.watchdogSafetyMargin !== undefined) watchdog.safety_margin = o.watchdogSafetyMargin;
  if (o.softwareFence !== undefined) watchdog.software_fence = o.softwareFence;
  const doc: Record<string, unknown> = {
    scope: o.scope,
    namespace: '/service/',
    name: o.name,
    log: { level: 'INFO' },
    restapi: { listen: `${o.address}:${apiPort}`, connect_address: `${o.address}:${apiPort}` },
    etcd3: { hosts: o.etcdHosts },
    bootstrap: {
      dcs,
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }],
      pg_hba: ['local all all trust', `host all all ${o.subnet} trust`, `host replication all ${o.subnet} trust`, 'host all all 127.0.0.1/32 trust'],
    },
    postgresql: {
      listen: `${o.address}:${pgPort}`,
      connect_address: `${o.address}:${pgPort}`,
      data_dir: `${o.dir}/data`,
      bin_dir: o.binDir,
      pgpass: `${o.dir}/pgpass`,
      authentication: {
        superuser: { username: 'postgres', password: 'postgres' },
        replication: { username: 'replicator', password: 'replicator' },
        rewind: { username: 'postgres', password: 'postgres' },
      },
      parameters: { unix_socket_directories: o.dir, shared_buffers: '16MB', ...(o.parameters ?? {}) },
    },
    watchdog,
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
  return o.extra ? deepMerge(doc, o.extra) : doc;
}

/**
 * `nodeConfig` as YAML text (what the agent reads).
 *
 * @example
 * ```ts
 * import { nodeConfigYaml } from '@pgtools/ha-scenarios';
 * writeFileSync('/tmp/n1/node1.yml', nodeConfigYaml(options), { mode: 0o600 });
 * ```
 */
export function nodeConfigYaml(o: NodeConfigOptions): string {
  return `# Written by @pgtools/ha-scenarios (Patroni format).\n${stringify(nodeConfig(o))}`;
}

import type { DynamicConfig, HaConfig } from '../config/config-types.js';

type Setting = string | number | boolean;

/** Cluster-wide settings a replica must match on its primary; Patroni forces them on the command line. */
const CLUSTER_WIDE_DEFAULTS: Record<string, Setting> = {
  max_connections: 100,
  max_wal_senders: 10,
  max_replication_slots: 10,
  max_worker_processes: 8,
  max_prepared_transactions: 0,
  max_locks_per_transaction: 64,
  wal_level: 'replica',
  track_commit_timestamp: 'off',
};

/** Splits `host:port` (`postgresql.listen`, `connect_address`); IPv6 in brackets. */
export function splitHostPort(value: string, defaultPort = 5432): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2] ?? value;
  const port = m?.[3] !== undefined ? Number(m[3]) : defaultPort;
  return { host, port };
}

/**
 * The settings passed to the postmaster as `-c name=value`: the cluster-wide ones (from the
 * dynamic `postgresql.parameters`, else Patroni's defaults) plus the node's own address and the
 * replication prerequisites. Command-line settings win over every configuration file, so nobody
 * can turn replication off with ALTER SYSTEM.
 *
 * @example
 * ```ts
 * import { forcedSettings } from '@pgtools/ha-agent/internals';
 * forcedSettings(config, config.bootstrap.dcs).port; // 5432
 * ```
 */
export function forcedSettings(config: HaConfig, dynamic: DynamicConfig): Record<string, Setting> {
  const params = { ...dynamic.postgresql.parameters, ...config.postgresql.parameters };
  const out: Record<string, Setting> = {};
  for (const [name, fallback] of Object.entries(CLUSTER_WIDE_DEFAULTS)) out[name] = params[name] ?? fallback;
  const listen = splitHostPort(config.postgresql.listen);
  out.listen_addresses = listen.host === '' || listen.host === '*' ? '*' : listen.host;
  out.port = listen.port;
  out.cluster_name = config.scope;
  out.hot_standby = 'on';
  out.wal_log_hints = 'on';
  if (out.wal_level === 'minimal') out.wal_level = 'replica';
  return out;
}

/**
 * The other parameters (reloadable ones and anything else configured), written to the managed
 * include file so that a reload applies them.
 *
 * @example
 * ```ts
 * import { fileParameters } from '@pgtools/ha-agent/internals';
 * fileParameters(config, config.bootstrap.dcs); // { wal_keep_size: '256MB', unix_socket_directories: '/run/pg' }
 * ```
 */
export function fileParameters(config: HaConfig, dynamic: DynamicConfig): Record<string, Setting> {
  const params = { ...dynamic.postgresql.parameters, ...config.postgresql.parameters };
  const forced = new Set([...Object.keys(CLUSTER_WIDE_DEFAULTS), 'listen_addresses', 'port', 'cluster_name', 'hot_standby', 'wal_log_hints']);
  const out: Record<string, Setting> = {};
  for (const [k, v] of Object.entries(params)) if (!forced.has(k)) out[k] = v;
  // A replica's copy of a logical slot is only usable after a failover if the primary kept the
  // catalog rows it needs: the replica tells it through hot_standby_feedback (Patroni forces it too).
  if (dynamic.postgresql.useSlots && dynamic.permanentSlots.some((s) => s.type === 'logical')) out.hot_standby_feedback = true;
  return out;
}

/**
 * Renders a setting as a postgresql.conf value (single-quoted, quotes doubled).
 *
 * @example
 * ```ts
 * import { confValue } from '@pgtools/ha-agent/internals';
 * confValue("host=a application_name='x'"); // "'host=a application_name=''x'''"
 * ```
 */
export function confValue(value: Setting): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

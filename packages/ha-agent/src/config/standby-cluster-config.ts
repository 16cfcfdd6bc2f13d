import { describe, invalid, isObj, type Section } from './config-reader.js';
import { BASEBACKUP_METHOD, DEFAULT_REPLICA_METHODS, type ReplicaConfig, type ReplicaMethod } from './replica-config.js';

/**
 * `standby_cluster` of the dynamic configuration (Patroni's `standby_cluster` section): the cluster
 * is a standby cluster whose leader (the "standby leader") follows a remote primary.
 */
export interface StandbyClusterConfig {
  /** `host`: the remote primary's address; several hosts separated by commas (libpq picks the read-write one). */
  host?: string;
  /** `port` of the remote primary. */
  port?: number;
  /** `primary_slot_name`: the slot on the remote primary; absent = the standby leader streams without one. */
  primarySlotName?: string;
  /** `restore_command` for every member of the standby cluster (WAL from the remote site's archive). */
  restoreCommand?: string;
  /** `archive_cleanup_command` for every member of the standby cluster. */
  archiveCleanupCommand?: string;
  /** `recovery_min_apply_delay` of the standby leader only. */
  recoveryMinApplyDelay?: string | number;
  /**
   * `create_replica_methods`: how members of the standby cluster are made (the standby leader from
   * the remote primary); names of `postgresql.create_replica_methods` methods or `basebackup`.
   */
  createReplicaMethods?: string[];
}

/**
 * Patroni's `global_config.is_standby_cluster`: a `standby_cluster` mapping with a `host`, `port`
 * or `restore_command` set. `hactl promote-cluster` removes the section; an empty one is no standby cluster either.
 *
 * @example
 * ```ts
 * import { isStandbyClusterValue } from '@pgtools/ha-agent/internals';
 * isStandbyClusterValue({ host: '10.0.0.1', port: 5432 }); // true
 * isStandbyClusterValue(null); // false
 * ```
 */
export function isStandbyClusterValue(value: unknown): boolean {
  return isObj(value) && ['host', 'port', 'restore_command'].some((k) => Boolean(value[k]));
}

/**
 * Reads `standby_cluster` (Patroni 4.1's validator: `host`, `port`, `restore_command`,
 * `primary_slot_name`, `create_replica_methods`, `archive_cleanup_command`,
 * `recovery_min_apply_delay`). Absent, null or `{}`: not a standby cluster. A section without
 * `host`, `port` or `restore_command` is refused naming the key (Patroni's validator refuses it too),
 * as are wrong types and unknown keys in it.
 *
 * @example
 * ```ts
 * // standby_cluster: {host: 10.0.0.1, port: 5432, primary_slot_name: dr}
 * parseStandbyCluster(dcs.section('standby_cluster')); // { host: '10.0.0.1', port: 5432, primarySlotName: 'dr' }
 * ```
 */
export function parseStandbyCluster(s: Section): StandbyClusterConfig | undefined {
  if (Object.keys(s.raw).length === 0) return undefined;
  const out: StandbyClusterConfig = {};
  const host = s.string('host');
  if (host !== undefined && host.trim() !== '') out.host = host.trim();
  const port = s.int('port', { min: 1 });
  if (port !== undefined) {
    if (port > 65535) throw invalid(s.key('port'), `must be a port number (1-65535), got ${port}`);
    out.port = port;
  }
  for (const [key, field] of [
    ['primary_slot_name', 'primarySlotName'],
    ['restore_command', 'restoreCommand'],
    ['archive_cleanup_command', 'archiveCleanupCommand'],
  ] as const) {
    const v = s.string(key);
    if (v !== undefined && v.trim() !== '') out[field] = v;
  }
  const delay = s.value('recovery_min_apply_delay');
  if (typeof delay === 'string' || typeof delay === 'number') out.recoveryMinApplyDelay = delay;
  else if (delay !== undefined && delay !== null) throw invalid(s.key('recovery_min_apply_delay'), `must be a duration such as 5min, got ${describe(delay)}`);
  const methods = s.stringList('create_replica_methods');
  if (methods && methods.length > 0) out.createReplicaMethods = methods;
  for (const k of Object.keys(s.raw)) {
    if (!STANDBY_KEYS.includes(k)) throw invalid(s.key(k), 'is not a standby_cluster setting (Patroni knows none by this name)');
  }
  if (out.host === undefined && out.port === undefined && out.restoreCommand === undefined) {
    throw invalid(s.path, 'needs host, port or restore_command (where the standby leader gets its WAL from)');
  }
  return out;
}

const STANDBY_KEYS = ['host', 'port', 'primary_slot_name', 'restore_command', 'archive_cleanup_command', 'recovery_min_apply_delay', 'create_replica_methods'];

/**
 * The replica methods `standby_cluster.create_replica_methods` names, resolved against this node's
 * `postgresql` methods (Patroni: both lists name sections of `postgresql`); `unknown` lists the
 * names that are neither `basebackup` nor a method of `postgresql.create_replica_methods`.
 *
 * @example
 * ```ts
 * standbyReplicaMethods(['basebackup'], config.postgresql.replica); // { methods: [basebackup], unknown: [] }
 * ```
 */
export function standbyReplicaMethods(names: readonly string[], replica: ReplicaConfig | undefined): { methods: ReplicaMethod[]; unknown: string[] } {
  const methods: ReplicaMethod[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const found = name === BASEBACKUP_METHOD ? (replica?.basebackup ?? DEFAULT_REPLICA_METHODS[0]) : replica?.methods.find((m) => m.name === name);
    if (found) methods.push(found);
    else unknown.push(name);
  }
  return { methods, unknown };
}

/**
 * Refuses `bootstrap.dcs.standby_cluster.create_replica_methods` naming a method this node does
 * not have (see `standbyReplicaMethods`); returns `replica` unchanged.
 *
 * @example
 * ```ts
 * config.postgresql.replica = checkStandbyMethods(dcs.standbyCluster, parseReplicaConfig(p));
 * ```
 */
export function checkStandbyMethods(standby: StandbyClusterConfig | undefined, replica: ReplicaConfig): ReplicaConfig {
  const unknown = standbyReplicaMethods(standby?.createReplicaMethods ?? [], replica).unknown[0];
  if (unknown !== undefined) {
    throw invalid(
      'bootstrap.dcs.standby_cluster.create_replica_methods',
      `"${unknown}" is neither basebackup nor a method of postgresql.create_replica_methods`,
    );
  }
  return replica;
}

/**
 * The replica methods of a standby cluster (`standby_cluster.create_replica_methods`, resolved
 * against the node's `postgresql` methods); undefined outside a standby cluster or without the
 * key (the node's own methods apply).
 *
 * @example
 * ```ts
 * standbyClusterMethods(dynamic, config)?.map((m) => m.name); // ['basebackup']
 * ```
 */
export function standbyClusterMethods(
  dynamic: { standbyCluster?: StandbyClusterConfig | undefined },
  config: { postgresql: { replica?: ReplicaConfig | undefined } },
): ReplicaMethod[] | undefined {
  const names = dynamic.standbyCluster?.createReplicaMethods;
  return names ? standbyReplicaMethods(names, config.postgresql.replica).methods : undefined;
}

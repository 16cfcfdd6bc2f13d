import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import type { StandbyClusterConfig } from '../config/standby-cluster-config.js';
import type { StandbySource } from './managed-conf.js';
import { conninfo } from './pg-connection.js';
import { slotNameFor } from './replication-slots.js';

type Setting = string | number | boolean;

/**
 * The recovery settings a standby cluster adds (Patroni's `build_recovery_params` with a
 * `standby_cluster`): `restore_command` and `archive_cleanup_command` on every member, and
 * `recovery_min_apply_delay` on the standby leader (`standbyLeader`) only. They win over
 * `recovery_conf`. None outside a standby cluster.
 *
 * @example
 * ```ts
 * import { standbyClusterRecovery } from '@pgtools/ha-agent/internals';
 * standbyClusterRecovery({ host: 'dc1', restoreCommand: 'cp /wal/%f %p', recoveryMinApplyDelay: '5min' }, false);
 * // { restore_command: 'cp /wal/%f %p' }
 * ```
 */
export function standbyClusterRecovery(standby: StandbyClusterConfig | undefined, standbyLeader: boolean): Record<string, Setting> {
  const out: Record<string, Setting> = {};
  if (!standby) return out;
  if (standby.restoreCommand !== undefined) out.restore_command = standby.restoreCommand;
  if (standby.archiveCleanupCommand !== undefined) out.archive_cleanup_command = standby.archiveCleanupCommand;
  if (standbyLeader && standby.recoveryMinApplyDelay !== undefined) out.recovery_min_apply_delay = standby.recoveryMinApplyDelay;
  return out;
}

/**
 * Where the standby leader streams from: the remote primary of `standby_cluster` (`host`/`port`,
 * as the replication user), with `primary_slot_name` when slots are in use, and
 * `target_session_attrs=read-write` when `host` lists several hosts (Patroni's docs). Without
 * `host` and `port` (`restore_command` only) nothing is streamed. Undefined outside a standby cluster.
 *
 * @example
 * ```ts
 * import { remoteSource } from '@pgtools/ha-agent/internals';
 * remoteSource(config, { ...dynamic, standbyCluster: { host: '10.0.1.5', port: 5432, primarySlotName: 'dr' } });
 * // { remote: true, conninfo: "host='10.0.1.5' port='5432' user='replicator' application_name='node1'", slotName: 'dr' }
 * ```
 */
export function remoteSource(config: HaConfig, dynamic: DynamicConfig): StandbySource | undefined {
  const standby = dynamic.standbyCluster;
  if (!standby) return undefined;
  if (standby.host === undefined && standby.port === undefined) return { remote: true };
  const { username: user, password } = config.postgresql.authentication.replication;
  const multiHost = standby.host?.includes(',') === true;
  return {
    remote: true,
    conninfo: conninfo({
      host: standby.host,
      port: standby.port,
      user,
      password,
      application_name: config.name,
      target_session_attrs: multiHost ? 'read-write' : undefined,
    }),
    slotName: dynamic.postgresql.useSlots && standby.primarySlotName ? slotNameFor(standby.primarySlotName) : undefined,
  };
}

/**
 * The remote primary as a clone or pg_rewind source (its first host when several are listed:
 * pg_basebackup can copy from any of them).
 *
 * @example
 * ```ts
 * remoteServer({ host: 'a,b', port: 5433 }); // { host: 'a', port: 5433 }
 * ```
 */
export function remoteServer(standby: StandbyClusterConfig | undefined): { host: string; port: number } | undefined {
  if (!standby || (standby.host === undefined && standby.port === undefined)) return undefined;
  return { host: standby.host?.split(',')[0]?.trim() || '127.0.0.1', port: standby.port ?? 5432 };
}

import { holdsLeaderLock } from './leader-lock.js';
import type { NodeState, PostgresRole } from './node-state.js';

/** Patroni 3.0.2 (and patronictl 3.0.2) call the primary `master`; 4.x calls it `primary`. */
export type PrimaryRoleName = 'master' | 'primary';

/**
 * Patroni version announced by default: the one whose patronictl this API is tested with.
 *
 * @example
 * ```ts
 * import { DEFAULT_PATRONI_VERSION } from '@pgtools/health-api';
 * DEFAULT_PATRONI_VERSION; // '3.0.2'
 * ```
 */
export const DEFAULT_PATRONI_VERSION = '3.0.2';

/**
 * The role name shown to clients.
 *
 * @example
 * ```ts
 * import { roleName } from '@pgtools/health-api';
 * roleName('primary', 'master'); // 'master'
 * ```
 */
export function roleName(role: PostgresRole, primaryName: PrimaryRoleName = 'master'): string {
  return role === 'primary' ? primaryName : role;
}

/**
 * Formats a timestamp like Python's `str(datetime)` with a UTC offset, as Patroni's JSON does;
 * strings pass through unchanged.
 *
 * @example
 * ```ts
 * import { formatPatroniTimestamp } from '@pgtools/health-api';
 * formatPatroniTimestamp(new Date('2024-01-02T03:04:05.678Z')); // '2024-01-02 03:04:05.678000+00:00'
 * ```
 */
export function formatPatroniTimestamp(value: string | Date): string {
  if (typeof value === 'string') return value;
  const iso = value.toISOString(); // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+00:00`;
}

/**
 * The JSON body of `GET /patroni` and of the role checks (Patroni's `get_postgresql_status` plus
 * `_write_status_response`). When PostgreSQL is not running only `state` and `role` describe it.
 *
 * @example
 * ```ts
 * import { statusBody } from '@pgtools/health-api';
 * const body = statusBody(state, { now: Date.now() });
 * body.role; // 'master' on the leader
 * ```
 */
export function statusBody(state: NodeState, options: { now: number; primaryRoleName?: PrimaryRoleName }): Record<string, unknown> {
  const pg = state.postgres;
  const body: Record<string, unknown> = {};
  if (pg.state === 'running') {
    body.state = 'running';
    if (pg.postmasterStartTime !== undefined) body.postmaster_start_time = formatPatroniTimestamp(pg.postmasterStartTime);
    body.role = roleName(pg.role, options.primaryRoleName);
    if (pg.serverVersion !== undefined) body.server_version = pg.serverVersion;
    const x = pg.xlog ?? {};
    if (pg.role === 'primary') {
      body.xlog = { location: x.location ?? 0 };
    } else {
      body.xlog = {
        received_location: x.receivedLocation ?? x.replayedLocation ?? 0,
        replayed_location: x.replayedLocation ?? 0,
        replayed_timestamp: x.replayedTimestamp ?? null,
        paused: x.paused ?? false,
      };
      if (pg.replicationState) body.replication_state = pg.replicationState;
    }
    if (pg.timeline !== undefined) body.timeline = pg.timeline;
    if (pg.replication && pg.replication.length > 0) body.replication = pg.replication;
  } else {
    body.state = pg.state;
    body.role = roleName(pg.role, options.primaryRoleName);
  }
  body.cluster_unlocked = !state.dcsAvailable || Boolean(state.clusterUnlocked);
  if (state.dcsLastSeen !== undefined) body.dcs_last_seen = state.dcsLastSeen;
  if (state.paused) body.pause = true;
  if (state.isSyncStandby && !holdsLeaderLock(state, options.now)) body.sync_standby = true;
  if (state.isQuorumStandby && !holdsLeaderLock(state, options.now)) body.quorum_standby = true;
  if (state.tags && Object.keys(state.tags).length > 0) body.tags = state.tags;
  if (pg.systemIdentifier) body.database_system_identifier = pg.systemIdentifier;
  if (pg.pendingRestart) body.pending_restart = true;
  if (state.scheduledRestart) body.scheduled_restart = state.scheduledRestart;
  body.patroni = { version: state.version ?? DEFAULT_PATRONI_VERSION, scope: state.scope };
  if (state.watchdogFailed) body.watchdog_failed = true;
  if (state.failsafeActive) body.failsafe_mode_is_active = true;
  return body;
}

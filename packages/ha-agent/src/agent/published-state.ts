import type { ClusterView as DcsView, MemberData } from '@pgtools/dcs';
import { DEFAULT_PATRONI_VERSION, type ClusterInfo, type NodeState } from '@pgtools/health-api';
import type { HaConfig } from '../config/config-types.js';
import { isStandbyClusterValue } from '../config/standby-cluster-config.js';
import { publishedTags } from '../config/tags-config.js';
import type { PgStatus } from '../postgres/pg-status.js';
import type { AgentRole } from './agent-events.js';
import type { PgState } from './agent-state.js';
import { memberServer, syncStandbysOf } from './view-mapping.js';

/** What this node publishes about itself: the facts `memberData` and `nodeState` are built from. */
export interface PublishedFacts {
  config: HaConfig;
  /** The dynamic `ttl`, seconds. */
  ttl: number;
  /** The dynamic `maximum_lag_on_failover`, bytes: `/readiness`'s default limit. */
  maximumLagOnFailover?: number | undefined;
  pgStatus: PgStatus | undefined;
  pgState: PgState;
  role: AgentRole;
  /** The last etcd view; undefined when etcd was never reached. */
  view: DcsView | undefined;
  isLeader: boolean;
  /** The leader lease's earliest expiry, when held. */
  leaseExpiresAt: number | undefined;
  /** When etcd last answered (ms since epoch). */
  dcsLastSeen?: number | undefined;
  /** When the last HA cycle ended (ms since epoch). */
  lastLoopAt?: number | undefined;
  watchdogFailed: boolean;
  /** Failsafe mode holds now (`Failsafe.active`). */
  failsafeActive?: boolean;
  systemId?: string | undefined;
  scheduledRestart?: { schedule: string; [key: string]: unknown } | undefined;
  /** Where this server's WAL ended at its last clean stop as leader (its shutdown checkpoint), bytes. */
  finalLsn?: number | undefined;
}

/**
 * The `members/<name>` value (Patroni's member data): addresses, state, role, WAL position,
 * timeline, tags.
 *
 * @example
 * ```ts
 * import { buildMemberData } from '@pgtools/ha-agent/internals';
 * const data = buildMemberData({ config, ttl: 30, pgStatus: undefined, pgState: 'stopped', role: 'replica', view: undefined, isLeader: false, leaseExpiresAt: undefined, watchdogFailed: false });
 * data.state; // 'stopped'
 * ```
 */
export function buildMemberData(f: PublishedFacts): MemberData {
  const s = f.pgStatus;
  const data: MemberData = {
    conn_url: `postgres://${f.config.postgresql.connectAddress}/postgres`,
    api_url: `${f.config.restapi.certfile ? 'https' : 'http'}://${f.config.restapi.connectAddress}/patroni`,
    state: f.pgState,
    role: s ? (s.inRecovery ? standbyRole(f) : 'master') : f.role === 'uninitialized' ? 'uninitialized' : f.role === 'primary' ? 'master' : standbyRole(f),
    version: DEFAULT_PATRONI_VERSION,
  };
  if (f.config.postgresql.proxyAddress) data.proxy_url = `postgres://${f.config.postgresql.proxyAddress}/postgres`;
  if (s) {
    const xlog = s.inRecovery ? Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0) : s.walPosition;
    if (xlog !== undefined) data.xlog_location = xlog;
    data.timeline = s.timeline;
    if (s.postmasterStartTime) data.postmaster_start_time = s.postmasterStartTime.toISOString();
    if (s.inRecovery) Object.assign(data, replicationFacts(s));
  } else if (f.finalLsn !== undefined) {
    // Stopped after leading: replicas that received this much lost nothing (decide's race).
    data.xlog_location = f.finalLsn;
  }
  if (f.view?.config?.value.pause === true) data.pause = true;
  if (f.scheduledRestart) data.scheduled_restart = f.scheduledRestart;
  const tags = publishedTags(f.config.tags);
  if (Object.keys(tags).length > 0) data.tags = tags;
  return data;
}

/** A standby's role word: `standby_leader` while it leads a standby cluster (Patroni's `PostgresqlRole`), else `replica`. */
function standbyRole(f: PublishedFacts): 'standby_leader' | 'replica' {
  return f.role === 'standby_leader' ? 'standby_leader' : 'replica';
}

/**
 * A replica's `replication_state` (Patroni 4's words: `streaming`, else `in archive recovery` when
 * a restore_command is set) and, a pgtools addition, `upstream`: the `host:port` its WAL receiver
 * is connected to (`pg_stat_wal_receiver`), `''` when none is. `hactl topology` draws the tree
 * from it, not from the `replicatefrom` tag.
 *
 * @example
 * ```ts
 * replicationFacts(status); // { replication_state: 'streaming', upstream: '10.0.0.2:5432' }
 * ```
 */
export function replicationFacts(s: PgStatus): { replication_state?: string; upstream: string } {
  const r = s.walReceiver;
  const out: { replication_state?: string; upstream: string } = { upstream: '' };
  if (r?.status === 'streaming') out.replication_state = 'streaming';
  else if (s.restoreCommand) out.replication_state = 'in archive recovery';
  if (r?.senderHost) {
    const host = r.senderHost.includes(':') ? `[${r.senderHost}]` : r.senderHost;
    out.upstream = r.senderPort !== null ? `${host}:${r.senderPort}` : host;
  }
  return out;
}

/**
 * The REST API's view of this node (`GET /patroni` and the health checks).
 *
 * @example
 * ```ts
 * import { buildNodeState } from '@pgtools/ha-agent/internals';
 * buildNodeState(facts).postgres.role; // 'primary' | 'replica' | 'uninitialized'
 * ```
 */
export function buildNodeState(f: PublishedFacts): NodeState {
  const s = f.pgStatus;
  const view = f.view;
  const state: NodeState = {
    name: f.config.name,
    scope: f.config.scope,
    postgres: { state: f.pgState, role: s ? (s.inRecovery ? standbyRole(f) : 'primary') : f.role === 'uninitialized' ? 'uninitialized' : standbyRole(f) },
    isLeader: f.isLeader,
    dcsAvailable: view !== undefined,
    tags: publishedTags(f.config.tags),
    paused: view?.config?.value.pause === true,
    clusterUnlocked: view !== undefined && view.leader === undefined,
    ttl: f.ttl,
  };
  if (f.leaseExpiresAt !== undefined && f.isLeader) state.leaderLeaseExpiresAt = f.leaseExpiresAt;
  if (isStandbyClusterValue(view?.config?.value.standby_cluster)) state.standbyCluster = true;
  if (f.dcsLastSeen !== undefined) state.dcsLastSeen = Math.floor(f.dcsLastSeen / 1000);
  if (view?.status) state.clusterOptime = view.status.value.optime;
  if (f.lastLoopAt !== undefined) state.lastLoopAt = f.lastLoopAt;
  if (f.watchdogFailed) state.watchdogFailed = true;
  if (f.failsafeActive) state.failsafeActive = true;
  const sync = view?.sync?.value;
  if (sync && sync.leader !== f.config.name && syncStandbysOf(sync).includes(f.config.name)) state.isSyncStandby = true;
  if (f.systemId) state.postgres.systemIdentifier = f.systemId;
  if (f.scheduledRestart) state.scheduledRestart = f.scheduledRestart;
  if (s) {
    state.postgres.serverVersion = s.serverVersion;
    state.postgres.timeline = s.timeline;
    if (s.postmasterStartTime) state.postgres.postmasterStartTime = s.postmasterStartTime;
    state.postgres.xlog = s.inRecovery
      ? {
          ...(s.receivedLsn !== undefined ? { receivedLocation: s.receivedLsn } : {}),
          ...(s.replayedLsn !== undefined ? { replayedLocation: s.replayedLsn } : {}),
          replayedTimestamp: s.replayedTimestamp ?? null,
          paused: s.replayPaused ?? false,
        }
      : s.walPosition !== undefined
        ? { location: s.walPosition }
        : {};
    if (!s.inRecovery && s.replication.length > 0) state.postgres.replication = s.replication;
    if (s.inRecovery) {
      const replicationState = replicationFacts(s).replication_state;
      if (replicationState) state.postgres.replicationState = replicationState;
      const heard = s.walReceiver?.latestEndLsn;
      if (heard !== undefined && heard !== null) state.postgres.latestEndLocation = heard;
    }
  }
  if (f.maximumLagOnFailover !== undefined) state.maximumLagOnFailover = f.maximumLagOnFailover;
  return state;
}

/**
 * `GET /cluster`: every member with its role, state, address, timeline and lag, the pause flag,
 * the history and a scheduled switchover.
 *
 * @example
 * ```ts
 * import { buildClusterInfo } from '@pgtools/ha-agent/internals';
 * buildClusterInfo(undefined); // { members: [] }
 * ```
 */
export function buildClusterInfo(view: DcsView | undefined): ClusterInfo {
  if (!view) return { members: [] };
  const optime = view.status?.value.optime ?? view.leader?.member?.data.xlog_location;
  const sync = syncStandbysOf(view.sync?.value);
  // Patroni's cluster_as_json: the leader of a standby cluster is its `standby_leader`.
  const leaderRole = isStandbyClusterValue(view.config?.value.standby_cluster) ? 'standby_leader' : 'leader';
  const info: ClusterInfo = {
    members: view.members.map((m) => {
      const d = m.data;
      const server = memberServer(m);
      const isLeader = view.leader?.name === m.name;
      const row: ClusterInfo['members'][number] = {
        name: m.name,
        role: isLeader ? leaderRole : sync.includes(m.name) ? 'sync_standby' : 'replica',
        state: d.state ?? 'unknown',
      };
      if (d.api_url) row.api_url = d.api_url;
      if (server) {
        row.host = server.host;
        row.port = server.port;
      }
      if (typeof d.timeline === 'number') row.timeline = d.timeline;
      if (d.tags) row.tags = d.tags;
      if (!isLeader) row.lag = typeof optime === 'number' && typeof d.xlog_location === 'number' ? Math.max(0, optime - d.xlog_location) : 'unknown';
      return row;
    }),
  };
  if (view.config?.value.pause === true) info.pause = true;
  if (view.history) info.history = view.history.value as NonNullable<ClusterInfo['history']>;
  const fo = view.failover?.value;
  if (fo?.scheduled_at) info.scheduled_switchover = { at: fo.scheduled_at, from: fo.leader ?? '', ...(fo.member ? { to: fo.member } : {}) };
  return info;
}

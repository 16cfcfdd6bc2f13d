/** PostgreSQL roles as the agent tracks them; `primary` is shown as `master` to Patroni 3.0.2 clients. */
export type PostgresRole = 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'uninitialized';

/** Patroni's PostgreSQL states (`running`, `stopped`, `starting`, `crashed`, `creating replica`, ...). */
export type PostgresState =
  | 'running'
  | 'stopped'
  | 'starting'
  | 'stopping'
  | 'crashed'
  | 'restarting'
  | 'creating replica'
  | 'initializing new cluster'
  | 'running custom bootstrap script'
  | 'stopping'
  | 'start failed'
  | 'restart failed'
  | 'unknown'
  | (string & {});

/** WAL positions as byte offsets (LSN - 0/0). */
export interface XlogState {
  /** Primary: current flush position. */
  location?: number;
  /** Replica: last received position. */
  receivedLocation?: number;
  /** Replica: last replayed position. */
  replayedLocation?: number;
  /** Replica: `pg_last_xact_replay_timestamp()`, ISO string, or null. */
  replayedTimestamp?: string | null;
  /** Replica: `pg_is_wal_replay_paused()`. */
  paused?: boolean;
}

/** One row of `pg_stat_replication` as Patroni reports it. */
export interface ReplicationInfo {
  usename?: string;
  application_name: string;
  client_addr?: string | null;
  state: string;
  sync_state: string;
  sync_priority: number;
}

/**
 * What the agent knows about this node right now. The REST API is a pure function of this and
 * of the clock: the agent updates it, the API never asks PostgreSQL or etcd itself.
 */
export interface NodeState {
  /** Member name. */
  name: string;
  /** Cluster scope. */
  scope: string;
  /** Version announced as `patroni.version` (default `3.0.2`: patronictl 3.0.2 reads this). */
  version?: string;
  postgres: {
    state: PostgresState;
    role: PostgresRole;
    /** e.g. 150004. */
    serverVersion?: number;
    /** ISO timestamp or PostgreSQL text (`2021-05-24 14:50:11.707 UTC`); a Date is formatted like Patroni. */
    postmasterStartTime?: string | Date;
    timeline?: number;
    xlog?: XlogState;
    replication?: ReplicationInfo[];
    /** `Database system identifier` (string: it does not fit a double). */
    systemIdentifier?: string;
    pendingRestart?: boolean;
    /** Replica: Patroni 4's `replication_state`, `streaming` or `in archive recovery`; unset when neither. */
    replicationState?: string;
    /** Replica: where the leader's WAL ended when it last told this WAL receiver (`latest_end_lsn`), bytes. */
    latestEndLocation?: number;
  };
  /** This node holds the leader key. */
  isLeader: boolean;
  /**
   * When the leader key's lease runs out (ms since epoch). A leader whose lease is past due is
   * reported as not holding the lock even if the agent hangs before it can say so.
   */
  leaderLeaseExpiresAt?: number;
  /** The cluster is a standby cluster (its leader is a standby leader). */
  standbyCluster?: boolean;
  /** Static tags (nofailover, noloadbalance, clonefrom, nosync, custom). */
  tags?: Record<string, unknown>;
  /** Maintenance mode. */
  paused?: boolean;
  /** Nobody holds the leader key (or etcd cannot be read). */
  clusterUnlocked?: boolean;
  /** The agent has a valid view of etcd (Patroni: `dcs.cluster` is set). */
  dcsAvailable: boolean;
  /** Epoch seconds of the last successful etcd read. */
  dcsLastSeen?: number;
  /** `status.optime`, the leader's last reported WAL position. */
  clusterOptime?: number;
  /** This node is listed in the `sync` key. */
  isSyncStandby?: boolean;
  /**
   * This node is a quorum standby: `synchronous_mode: quorum` and the `sync` key lists it among the
   * voters (Patroni 4.1's `quorum_standby`); then `isSyncStandby` stays unset.
   */
  isQuorumStandby?: boolean;
  /** `maximum_lag_on_failover` in bytes: `/readiness`'s lag limit when the request gives none. Default 1 MB. */
  maximumLagOnFailover?: number;
  /** Watchdog required but unusable. */
  watchdogFailed?: boolean;
  /** Failsafe mode holds (Patroni's `failsafe_mode_is_active`): a primary kept on the members' word, or a replica posted to within ttl. */
  failsafeActive?: boolean;
  /** When the HA loop last completed (ms since epoch), for `/liveness`. */
  lastLoopAt?: number;
  /** Leader key TTL in seconds, for `/liveness`. Default 30. */
  ttl?: number;
  /** Pending scheduled restart, shown as `scheduled_restart`. */
  scheduledRestart?: { schedule: string; [key: string]: unknown };
}

/** A member as `GET /cluster` shows it (Patroni's `cluster_as_json`). */
export interface ClusterMemberInfo {
  name: string;
  role: 'leader' | 'standby_leader' | 'sync_standby' | 'replica' | (string & {});
  state: string;
  api_url?: string;
  host?: string;
  port?: number;
  timeline?: number;
  tags?: Record<string, unknown>;
  /** Bytes behind the leader, or `unknown`. */
  lag?: number | 'unknown';
  pending_restart?: boolean;
  scheduled_restart?: Record<string, unknown>;
}

/** The cluster as `GET /cluster` and `GET /history` show it. */
export interface ClusterInfo {
  members: ClusterMemberInfo[];
  pause?: boolean;
  scheduled_switchover?: { at: string; from: string; to?: string };
  /** `[timeline, switch_lsn, reason, iso_timestamp, new_leader]` lines of the `history` key. */
  history?: Array<[number, number, string, string?, string?]>;
}

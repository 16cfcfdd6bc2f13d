/**
 * The decision step's inputs. Defined here (not imported from @pgtools/dcs) so that the decision
 * stays a pure function of plain data; the agent maps its etcd view onto `ClusterView`.
 */

/** Member roles as Patroni writes them in `members/<name>` (3.0.2 writes `master`). */
export type MemberRole = 'master' | 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'uninitialized';

/** One `members/<name>` entry. */
export interface ClusterMember {
  name: string;
  role?: MemberRole | (string & {});
  /** `running`, `stopped`, `starting`, ... */
  state?: string;
  apiUrl?: string;
  connUrl?: string;
  /** WAL position the member last reported, bytes. */
  xlogLocation?: number;
  timeline?: number;
  /**
   * When the member's PostgreSQL started (`postmaster_start_time` in its key, ms on its own clock):
   * a leader restarted in place shows a new value.
   */
  postmasterStartTime?: number;
  tags?: { nofailover?: boolean; noloadbalance?: boolean; clonefrom?: boolean; nosync?: boolean; [key: string]: unknown };
}

/** The `failover` key: a requested switchover (leader set) or failover (candidate set). */
export interface FailoverRequest {
  leader?: string;
  candidate?: string;
  /** ms since epoch; absent = immediate. */
  scheduledAt?: number;
}

/** The cluster as read from etcd this loop. */
export interface ClusterView {
  /** Holder of the leader key; undefined when nobody holds it. */
  leader?: string;
  members: ClusterMember[];
  failover?: FailoverRequest;
  /** The `sync` key (synchronous mode). */
  sync?: { leader?: string; syncStandbys: string[] };
  /** The `initialize` key: undefined = absent, `''` = bootstrap race in progress, else the system identifier. */
  initialize?: string;
  /** `status.optime`: the leader's last reported WAL position, bytes. */
  optime?: number;
  /**
   * The cluster's timeline (Patroni's `Cluster.timeline`): the last `history` line's timeline + 1,
   * 1 for an empty history; undefined (0) without a `history` key.
   */
  timeline?: number;
}

/** What this node's PostgreSQL looks like right now. */
export interface LocalState {
  postgresRunning: boolean;
  /** PostgreSQL is starting up (crash recovery, startup); not yet answering as either role. */
  postgresStarting?: boolean;
  /** `pg_is_in_recovery()`: false = primary. Meaningful only while running. */
  role: 'primary' | 'replica';
  timeline?: number;
  /** Primary: current WAL flush position. */
  walPosition?: number;
  /** Replica: last received WAL position. */
  receivedLsn?: number;
  /** Replica: last replayed WAL position. */
  replayedLsn?: number;
  dataDirEmpty: boolean;
  /** The data dir was emptied by `reinit --from-leader`: clone it from the leader, with pg_basebackup only. */
  reinitFromLeader?: boolean;
  /** `Database system identifier` from pg_controldata. */
  systemId?: string;
  /** When PostgreSQL was last seen not running while it should (ms since epoch), for primary_start_timeout. */
  postgresDownSince?: number;
  /**
   * When PostgreSQL was last started by the agent (ms since epoch): a start is not tried again
   * within `START_RETRY_INTERVAL_MS` of it.
   */
  lastStartAttemptAt?: number;
  /**
   * This data dir may hold WAL the leader never saw: it ran as a primary (crashed, demoted at
   * once, stopped by the lease guard, or pg_controldata says so). It must be rewound before it
   * follows a leader.
   */
  mayHaveDiverged?: boolean;
  /**
   * Replica: it replayed WAL past the point where the leader's timeline forked from its own (read
   * from the leader's timeline history): it streamed from a primary that kept writing.
   */
  replayedPastFork?: boolean;
  /** When pg_rewind last failed on this data dir (ms since epoch); undefined once it ran or started since. */
  rewindFailedAt?: number;
  /** Standby cluster: PostgreSQL runs as its standby leader, following the remote primary. */
  standbyLeader?: boolean;
  /**
   * Replica: the newest send time (the sender's clock, ms) of a message this node's WAL receiver
   * got from `lastLeader` while streaming from it; undefined = none seen since the agent started.
   */
  streamedFromLeaderAt?: number;
}

/**
 * The leader this node last saw holding the key (remembered by the agent while the key is gone),
 * with its PostgreSQL start time: comparing it with `streamedFromLeaderAt` tells whether this
 * replica has received anything the leader wrote since its last (re)start.
 */
export interface LastLeader {
  name: string;
  /** Its `postmasterStartTime` (ms, its own clock). */
  startedAt: number;
  /** When this node first saw that start time (ms, this node's clock). */
  seenAt: number;
}

/** The settings the decision needs (static config merged with the etcd `config` key). */
export interface DecisionConfig {
  /** This member's name. */
  name: string;
  ttl: number;
  loopWait: number;
  maximumLagOnFailover: number;
  primaryStartTimeout: number;
  synchronousMode: boolean;
  tags: {
    nofailover?: boolean;
    clonefrom?: boolean;
    nosync?: boolean;
    noloadbalance?: boolean;
    failover_priority?: number;
    replicatefrom?: string;
    nostream?: boolean;
  };
  /** The watchdog is `required` and cannot be activated: this node must not become primary. */
  watchdogUnusable?: boolean;
  /** `postgresql.use_pg_rewind`: a diverged data dir is rewound before it follows a leader. */
  usePgRewind?: boolean;
  /** `postgresql.remove_data_directory_on_rewind_failure`: when pg_rewind failed, clone again instead. */
  removeDataDirectoryOnRewindFailure?: boolean;
  /** A `create_replica_methods` method has `no_leader`: an empty node may be made without a leader. */
  canCloneWithoutLeader?: boolean;
  /**
   * `postgresql.remove_data_directory_on_diverged_timelines`: a data dir seen to diverge from the
   * leader's timeline is cloned again when pg_rewind is off (or failed).
   */
  removeDataDirectoryOnDivergedTimelines?: boolean;
  /** `check_timeline`: a replica on a timeline older than the cluster's does not race for leader. */
  checkTimeline?: boolean;
  /** `failsafe_mode` of the dynamic configuration (see `FailsafeFacts`). */
  failsafeMode?: boolean;
  /** `standby_cluster` is set: the leader follows a remote primary and nobody promotes (see `inStandbyCluster`). */
  standbyCluster?: boolean;
}

/** One member's answer to the primary's `POST /failsafe`. */
export interface FailsafeAck {
  name: string;
  /** It answered 200 `Accepted`: it will not race for the leader key while these calls come. */
  accepted: boolean;
  /** Why not, for the log (no answer, `Running as a leader`, 502 failsafe off...). */
  reason?: string;
}

/** What failsafe mode (Patroni's DCS failsafe mode) decides with; read only when `failsafeMode` is on. */
export interface FailsafeFacts {
  /** The `failsafe` key as last read from etcd: the names of the members the leader last saw. */
  topology?: string[];
  /** Primary, etcd unreachable: the answers to this cycle's `POST /failsafe`, once asked (`failsafe_check`). */
  acks?: FailsafeAck[];
  /** Replica: the primary that last posted to this node's `/failsafe`, and when (ms, this node's clock). */
  leader?: { name: string; at: number };
}

/** What a member answered to `GET /patroni` (see `probeFromPatroniStatus`). */
export interface PeerProbe {
  name: string;
  /** The member answered in time. */
  reachable: boolean;
  /** `master`/`primary` = running as primary. */
  role?: string;
  state?: string;
  /** max(received, replayed) on a replica, the current location on a primary. */
  walPosition?: number;
  /** The timeline it reports (`check_timeline`). */
  timeline?: number;
  nofailover?: boolean;
  /** Its `failover_priority` (Patroni's reading of its tags); 1 when it publishes none. */
  failoverPriority?: number;
  watchdogFailed?: boolean;
}

/** Everything `decide()` looks at. `now` is an input: the decision never reads a clock. */
export interface DecisionInput {
  cluster: ClusterView;
  local: LocalState;
  config: DecisionConfig;
  /** Maintenance mode (the `pause` flag of the etcd `config` key). */
  paused: boolean;
  /** etcd answered within retry_timeout this loop. */
  dcsReachable: boolean;
  /**
   * Outcome of this loop's leader lease refresh, when the view says I hold the key: the agent
   * refreshes first, then decides. `false` = the refresh failed.
   */
  leaderRefreshOk?: boolean;
  /**
   * The failed refresh got no answer from etcd (rather than finding the key someone else's):
   * failsafe mode may then keep the primary, as when etcd cannot be read at all.
   */
  leaderRefreshUnanswered?: boolean;
  /**
   * While this node believes it holds the leader key: how long its lease stays valid (from the
   * last successful refresh) beyond the lease guard's margin, ms. When etcd cannot be reached (a
   * member lost, an etcd leader election) the primary keeps running while this is positive: the
   * lease guard stops it in time, so a blip shorter than the lease costs no demotion.
   */
  leaseValidForMs?: number;
  /** ms since epoch. */
  now: number;
  /** The leader (not this node) last seen holding the key, with its PostgreSQL start time. */
  lastLeader?: LastLeader;
  /** Answers of the other members' `GET /patroni`, when the agent has asked (the race, a switchover). */
  peerProbes?: PeerProbe[];
  /** Failsafe mode's facts (with `config.failsafeMode`). */
  failsafe?: FailsafeFacts;
}

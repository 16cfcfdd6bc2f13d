/**
 * Role a member reports in its `members/<name>` key. Patroni 3.0.2 writes `master`;
 * 4.x writes `primary`, so both are accepted when reading.
 *
 * @example
 * ```ts
 * import type { MemberRole } from '@pgtools/dcs';
 * const role: MemberRole = 'replica';
 * ```
 */
export type MemberRole = 'master' | 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'uninitialized';

/**
 * The value of `members/<name>`, as Patroni writes it (compact JSON). Unknown fields written by
 * other Patroni versions are kept, so reading and re-writing a foreign key loses nothing.
 *
 * @example
 * ```ts
 * import type { MemberData } from '@pgtools/dcs';
 * const me: MemberData = {
 *   conn_url: 'postgres://127.0.0.1:5432/postgres',
 *   api_url: 'http://127.0.0.1:8008/patroni',
 *   state: 'running', role: 'replica', version: '3.0.2',
 *   xlog_location: 50331968, timeline: 1,
 * };
 * ```
 */
export interface MemberData {
  conn_url?: string;
  api_url?: string;
  /** `postgresql.proxy_address`: a connection pooler next to PostgreSQL, for service discovery only. */
  proxy_url?: string;
  /** PostgreSQL state: `running`, `stopped`, `starting`, `stopping`, `restarting`, `creating replica`, ... */
  state?: string;
  role?: MemberRole | (string & {});
  /** Version of the agent (Patroni's own version string in a Patroni cluster). */
  version?: string;
  /** WAL position in bytes: the write LSN on a primary, max(received, replayed) on a replica. */
  xlog_location?: number;
  timeline?: number;
  tags?: MemberTags;
  pending_restart?: boolean;
  scheduled_restart?: { schedule: string; postgres_version?: string; [key: string]: unknown };
  pause?: boolean;
  checkpoint_after_promote?: boolean;
  /** When its PostgreSQL started (ISO 8601; pgtools only): a leader restarted in place shows a new value. */
  postmaster_start_time?: string;
  [key: string]: unknown;
}

/**
 * Member tags (`tags:` in the node configuration), published inside the member key.
 *
 * @example
 * ```ts
 * import type { MemberTags } from '@pgtools/dcs';
 * const tags: MemberTags = { nofailover: true };
 * ```
 */
export interface MemberTags {
  nofailover?: boolean;
  noloadbalance?: boolean;
  clonefrom?: boolean;
  nosync?: boolean;
  replicatefrom?: string;
  [key: string]: unknown;
}

/**
 * The dynamic configuration kept in the `config` key (what `patronictl edit-config` edits).
 *
 * @example
 * ```ts
 * import type { ClusterConfig } from '@pgtools/dcs';
 * const config: ClusterConfig = {
 *   ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576,
 *   postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_level: 'replica' } },
 * };
 * ```
 */
export interface ClusterConfig {
  ttl?: number;
  loop_wait?: number;
  retry_timeout?: number;
  maximum_lag_on_failover?: number;
  primary_start_timeout?: number;
  master_start_timeout?: number;
  primary_stop_timeout?: number;
  /** `quorum` in quorum commit mode (Patroni 4). */
  synchronous_mode?: boolean | 'quorum';
  synchronous_mode_strict?: boolean;
  synchronous_node_count?: number;
  failsafe_mode?: boolean;
  pause?: boolean;
  check_timeline?: boolean;
  max_timelines_history?: number;
  standby_cluster?: Record<string, unknown> | null;
  slots?: Record<string, unknown> | null;
  ignore_slots?: Array<Record<string, unknown>> | null;
  postgresql?: {
    use_pg_rewind?: boolean;
    use_slots?: boolean;
    parameters?: Record<string, string | number | boolean | null>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/**
 * The `failover` key: a pending switchover (`leader` set) or failover (`member` only).
 * `{}` means "nothing pending" (that is how Patroni clears it).
 *
 * @example
 * ```ts
 * import type { FailoverValue } from '@pgtools/dcs';
 * const switchover: FailoverValue = { leader: 'node1', member: 'node2', scheduled_at: '2024-05-01T10:00:00+00:00' };
 * ```
 */
export interface FailoverValue {
  leader?: string;
  member?: string;
  /** ISO 8601 timestamp with a timezone. */
  scheduled_at?: string;
  [key: string]: unknown;
}

/**
 * The `sync` key in synchronous mode. `sync_standby` is a comma-separated, sorted list of names,
 * or null when there is none.
 *
 * @example
 * ```ts
 * import type { SyncState } from '@pgtools/dcs';
 * const sync: SyncState = { leader: 'node1', sync_standby: 'node2' };
 * ```
 */
export interface SyncState {
  leader: string | null;
  sync_standby: string | null;
  /**
   * Patroni 4 (`synchronous_mode: quorum`): a member racing for leader must see this many others
   * of leader + `sync_standby` not ahead of it. Absent or 0 otherwise.
   */
  quorum?: number;
  [key: string]: unknown;
}

/**
 * One line of the `history` key: `[timeline, switch LSN, reason, ISO timestamp, new leader]`.
 * Lines copied from an old timeline history file may have only the first three fields.
 *
 * @example
 * ```ts
 * import type { HistoryEntry } from '@pgtools/dcs';
 * const line: HistoryEntry = [1, 50331808, 'no recovery target specified', '2024-05-01T10:00:00.000000+00:00', 'node2'];
 * ```
 */
export type HistoryEntry = [timeline: number, lsn: number, reason: string, timestamp?: string, newLeader?: string];

/**
 * The `status` key the leader writes each loop: its WAL position and the positions of permanent slots.
 *
 * @example
 * ```ts
 * import type { StatusValue } from '@pgtools/dcs';
 * const status: StatusValue = { optime: 50331968, slots: { node2: 50331968 } };
 * ```
 */
export interface StatusValue {
  optime: number;
  slots?: Record<string, number>;
  [key: string]: unknown;
}

/**
 * The `failsafe` key: member name to REST API URL, written by the leader when failsafe_mode is on.
 *
 * @example
 * ```ts
 * import type { FailsafeValue } from '@pgtools/dcs';
 * const failsafe: FailsafeValue = { node1: 'http://127.0.0.1:8008/patroni' };
 * ```
 */
export type FailsafeValue = Record<string, string>;

/**
 * A parsed value together with the etcd mod revision of its key (the handle for compare-and-swap).
 *
 * @example
 * ```ts
 * import type { Versioned, ClusterConfig } from '@pgtools/dcs';
 * const config: Versioned<ClusterConfig> = { value: { ttl: 30 }, modRevision: 12 };
 * ```
 */
export interface Versioned<T> {
  value: T;
  modRevision: number;
}

/**
 * A member of the cluster as read from `members/<name>`.
 *
 * @example
 * ```ts
 * import type { Member } from '@pgtools/dcs';
 * const isRunning = (m: Member): boolean => m.data.state === 'running';
 * ```
 */
export interface Member {
  name: string;
  data: MemberData;
  modRevision: number;
  /** etcd lease id (decimal string) the key is attached to; undefined when none. */
  lease?: string;
}

/**
 * The `leader` key: who holds the lock.
 *
 * @example
 * ```ts
 * import type { LeaderInfo } from '@pgtools/dcs';
 * const describe = (l: LeaderInfo): string => `${l.name} (lease ${l.lease ?? 'none'})`;
 * ```
 */
export interface LeaderInfo {
  name: string;
  modRevision: number;
  lease?: string;
  /** The leader's member entry, when its member key exists. */
  member?: Member;
}

/**
 * A key whose value could not be parsed (hand-written garbage, an unknown legacy format).
 * The key is otherwise ignored; `modRevision` lets a caller overwrite it by compare-and-swap.
 *
 * @example
 * ```ts
 * import type { ViewProblem } from '@pgtools/dcs';
 * const show = (p: ViewProblem): string => `${p.key}: ${p.reason}`;
 * ```
 */
export interface ViewProblem {
  key: string;
  reason: string;
  raw: string;
  modRevision: number;
}

/**
 * Everything under `/<namespace>/<scope>/` at one etcd revision, parsed.
 *
 * @example
 * ```ts
 * import type { ClusterView } from '@pgtools/dcs';
 * const leaderName = (view: ClusterView): string | undefined => view.leader?.name;
 * ```
 */
export interface ClusterView {
  /** etcd revision the view was read at (or last updated to by the watch). */
  revision: number;
  /** undefined: no key; `''`: bootstrap in progress; otherwise the database system identifier. */
  initialize?: string;
  config?: Versioned<ClusterConfig>;
  leader?: LeaderInfo;
  /** Sorted by name. */
  members: Member[];
  /** From `status`, or from the legacy `optime/leader` key when `status` is absent. */
  status?: Versioned<StatusValue>;
  failover?: Versioned<FailoverValue>;
  sync?: Versioned<SyncState>;
  history?: Versioned<HistoryEntry[]>;
  failsafe?: Versioned<FailsafeValue>;
  problems: ViewProblem[];
}

/** Demotion flavours: `immediate` = fast stop now (lost the lock), `graceful` = checkpoint first (switchover). */
export type DemoteMode = 'immediate' | 'graceful';

interface Base {
  /** A log line in Patroni's words, e.g. `no action. I am (node1), the leader with the lock`. */
  message: string;
}

/** The one thing the agent does this loop. Closed union: switch on `kind`. */
export type HaAction =
  | (Base & { kind: 'bootstrap' })
  | (Base & { kind: 'wait_for_bootstrap' })
  /**
   * `from` undefined: no leader, a `no_leader` method restores the data dir (from a backup).
   * `basebackupOnly`: `reinit --from-leader`; pg_basebackup, not the configured methods.
   */
  | (Base & { kind: 'clone'; from: string | undefined; fromLeader: boolean; basebackupOnly?: true })
  | (Base & { kind: 'exit_system_id_mismatch'; expected: string; actual: string })
  | (Base & { kind: 'probe_members'; members: string[] })
  /** Failsafe mode, etcd unreachable: ask `members` (`POST /failsafe`) whether this primary may go on. */
  | (Base & { kind: 'failsafe_check'; members: string[] })
  /** Failsafe mode: every member accepted; keep the primary and feed the lease guard, fence and watchdog. */
  | (Base & { kind: 'failsafe_keep' })
  | (Base & { kind: 'acquire_leader_and_promote'; clearFailoverKey: boolean })
  | (Base & { kind: 'acquire_leader'; clearFailoverKey: boolean })
  | (Base & { kind: 'refresh_leader'; clearFailoverKey: boolean })
  | (Base & { kind: 'refresh_leader_and_promote'; clearFailoverKey: boolean })
  | (Base & { kind: 'release_leader'; reason: string })
  /**
   * `reconnect`: the leader restarted and this replica has not streamed from it since; wake the WAL
   * receiver now (instead of after `wal_retrieve_retry_interval`) and check again shortly.
   */
  | (Base & { kind: 'follow'; leader: string | undefined; reconnect?: boolean })
  /** Stop PostgreSQL if it runs, pg_rewind from `leader`, then start as its replica. */
  | (Base & { kind: 'rewind_then_follow'; leader: string })
  /** Empty the data directory (pg_rewind failed); the next cycle clones it from `leader`. */
  | (Base & { kind: 'reinitialize'; leader: string })
  | (Base & { kind: 'demote'; mode: DemoteMode; reason: string; releaseLeader: boolean })
  | (Base & { kind: 'do_switchover'; candidate: string | undefined })
  | (Base & { kind: 'restart_postgres_as_primary' })
  /**
   * Standby cluster: run as the standby leader, following the remote primary of `standby_cluster`;
   * take the leader key first (`acquire`), start PostgreSQL as a standby when it is stopped. Never promotes.
   */
  | (Base & { kind: 'lead_standby'; acquire: boolean; clearFailoverKey: boolean })
  /** Standby cluster: the primary holding the key stops and starts again as the standby leader (Patroni's `demote('demote-cluster')`). */
  | (Base & { kind: 'demote_cluster' })
  | (Base & { kind: 'start_postgres_as_replica'; leader: string | undefined })
  /** `retrySoon`: run the next cycle within half a second (etcd blip while the lease is still valid). */
  | (Base & { kind: 'wait'; retrySoon?: boolean })
  | (Base & { kind: 'paused_noop' });

/** The `kind` of every action, for exhaustive handling and tests. */
export type HaActionKind = HaAction['kind'];

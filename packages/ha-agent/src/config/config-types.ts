import type { CustomBootstrap } from './bootstrap-config.js';
import type { CallbackCommands } from './callbacks-config.js';
import type { ReplicaConfig } from './replica-config.js';
import type { DynamicSlots } from './slots-config.js';
import type { StandbyClusterConfig } from './standby-cluster-config.js';

/** Username/password pair (`postgresql.authentication.*`, `restapi.authentication`). */
export interface Credentials {
  username: string;
  password?: string;
}

/**
 * The rewind and timeline settings of the dynamic configuration that `parseDynamicConfig` does
 * not read itself (Patroni's defaults: patroni/global_config.py and patroni/postgresql/rewind.py).
 */
export interface DynamicRewindSettings {
  /** `check_timeline`: a member whose timeline is behind the cluster's (the `history` key) may not become leader. */
  checkTimeline: boolean;
  /**
   * `primary_stop_timeout` (alias `master_stop_timeout`), seconds: in synchronous mode, how long a
   * demoting primary's stop may take before it is forced. 0 = wait as usual.
   */
  primaryStopTimeout: number;
  /** `maximum_lag_on_syncnode`, bytes: a synchronous standby lagging more is swapped out. 0 or less = never. */
  maximumLagOnSyncnode: number;
}

/** `postgresql.remove_data_directory_on_diverged_timelines` of the dynamic configuration. */
export interface DynamicPostgresqlRewind {
  /** A replica whose timeline diverged from the leader's, when pg_rewind cannot be used, is cloned again. */
  removeDataDirectoryOnDivergedTimelines: boolean;
}

/** The rewind keys a node's own `postgresql:` section sets (absent = the dynamic value applies). */
export interface LocalRewindOverrides {
  usePgRewind?: boolean;
  removeDataDirectoryOnRewindFailure?: boolean;
  removeDataDirectoryOnDivergedTimelines?: boolean;
}

/** The dynamic part of the configuration: `bootstrap.dcs`, later the etcd `config` key. */
export interface DynamicConfig extends DynamicRewindSettings, DynamicSlots {
  /** Leader key TTL, seconds. Default 30. */
  ttl: number;
  /** HA loop period, seconds. Default 10. */
  loopWait: number;
  /** etcd operation retry budget, seconds. Default 10. */
  retryTimeout: number;
  /** Bytes a replica may trail `status.optime` and still race for leadership. Default 1048576. */
  maximumLagOnFailover: number;
  /** Seconds a crashed primary may take to come back before failing over. Default 300. */
  primaryStartTimeout: number;
  /** `synchronous_mode`: `on` or `quorum` (then `synchronousQuorum` too). */
  synchronousMode: boolean;
  /** `synchronous_mode: quorum`: commits wait for `ANY synchronous_node_count` of the standbys. */
  synchronousQuorum: boolean;
  /** `synchronous_node_count` (Patroni's default 1). */
  synchronousNodeCount: number;
  synchronousModeStrict: boolean;
  /**
   * `failsafe_mode`: while etcd is unreachable the primary keeps running if every member listed in
   * the `failsafe` key accepts its `POST /failsafe` (Patroni's DCS failsafe mode). Default false.
   */
  failsafeMode: boolean;
  /** `standby_cluster`: this cluster's leader follows a remote primary (absent = a normal cluster). */
  standbyCluster?: StandbyClusterConfig;
  postgresql: DynamicPostgresqlRewind & {
    usePgRewind: boolean;
    useSlots: boolean;
    /** When pg_rewind fails, empty the data dir and clone again (else the node stays stopped). */
    removeDataDirectoryOnRewindFailure: boolean;
    parameters: Record<string, string | number | boolean>;
    /** `recovery_conf`: extra recovery settings for replicas (the local section's replaces this one). */
    recoveryConf?: Record<string, string | number | boolean>;
    /** `use_unix_socket` / `use_unix_socket_repl` (the local ones win). */
    useUnixSocket?: boolean;
    useUnixSocketRepl?: boolean;
    /** `pg_ctl_timeout`, seconds: how long a fast stop may take before it is forced (the local one wins). */
    pgCtlTimeout?: number;
    /** `pg_hba`: the lines of pg_hba.conf (the local `postgresql.pg_hba` wins). */
    pgHba?: string[];
    /** `pg_ident`: the lines of pg_ident.conf (the local `postgresql.pg_ident` wins). */
    pgIdent?: string[];
  };
}

/** `tags:`: static per-node behaviour flags, plus any custom tags. */
export interface NodeTags {
  /** Effective: also true for `failover_priority: 0` alone (Patroni's `Tags.nofailover`). */
  nofailover: boolean;
  noloadbalance: boolean;
  clonefrom: boolean;
  nosync: boolean;
  /** Stream from this member instead of the leader while it runs as a replica (cascading). */
  replicatefrom?: string;
  /** No streaming: WAL comes from the archive (`restore_command`) only. */
  nostream?: boolean;
  /** As written (>= 0); higher wins the race at equal WAL position. Default 1. */
  failover_priority?: number;
  /** Preference as the synchronous standby (Patroni 4.1): higher first, 0 never (`nosync`). Default 1. */
  sync_priority?: number;
  /** Custom tags, kept as written (they show up in `/patroni` and `?tag_key=` filters). */
  [key: string]: unknown;
}

/** The parsed, validated agent configuration (Patroni's YAML). */
export interface HaConfig {
  scope: string;
  /** Always starts and ends with `/`. Default `/service/`. */
  namespace: string;
  name: string;
  restapi: {
    listen: string;
    connectAddress: string;
    authentication?: Credentials & { password: string };
    certfile?: string;
    keyfile?: string;
    keyfilePassword?: string;
    cafile?: string;
    /** OpenSSL cipher list for the HTTPS server (Patroni's `restapi.ciphers`). */
    ciphers?: string;
    verifyClient?: 'none' | 'optional' | 'required';
    allowlist?: string[];
    /** `allowlist_include_members`: the members' REST API hosts may use unsafe methods too. */
    allowlistIncludeMembers?: boolean;
  };
  etcd3: {
    /** `host:port` entries. */
    hosts: string[];
    protocol: 'http' | 'https';
    username?: string;
    password?: string;
    cacert?: string;
    cert?: string;
    key?: string;
  };
  bootstrap: {
    dcs: DynamicConfig;
    /** `bootstrap.dcs` exactly as written (snake_case), what the bootstrap winner stores in etcd. */
    dcsDocument: Record<string, unknown>;
    /** initdb arguments, e.g. `['--encoding=UTF8', '--data-checksums']`. */
    initdb: string[];
    pgHba: string[];
    users: Record<string, { password?: string; options: string[] }>;
    /** `post_bootstrap` (or `post_init`): run with a URL of the new cluster after its first start. */
    postBootstrap?: string;
    /** A custom `bootstrap.method` run instead of initdb. */
    method?: CustomBootstrap;
  };
  postgresql: {
    listen: string;
    connectAddress: string;
    dataDir: string;
    binDir?: string;
    configDir?: string;
    pgpass?: string;
    /** `use_unix_socket` / `use_unix_socket_repl`: the agent's own superuser / replication connections use the socket. */
    useUnixSocket?: boolean;
    useUnixSocketRepl?: boolean;
    /** `pg_ctl_timeout`, seconds: replaces the dynamic one. */
    pgCtlTimeout?: number;
    /** `pre_promote`: run after taking the leader key, before promoting; non-zero gives the key back. */
    prePromote?: string;
    /** `before_stop`: run, and waited for, before the agent stops PostgreSQL (not the emergency stops). */
    beforeStop?: string;
    /** `proxy_address`: published as `proxy_url` in the member key (service discovery only). */
    proxyAddress?: string;
    authentication: {
      superuser: Credentials;
      replication: Credentials;
      rewind?: Credentials;
    };
    parameters: Record<string, string | number | boolean>;
    pgHba?: string[];
    /** `recovery_conf`: extra recovery settings while running as a standby; replaces the dynamic one. */
    recoveryConf?: Record<string, string | number | boolean>;
    pgIdent?: string[];
    /** `postgresql.callbacks`: run without waiting on start, stop, restart, reload and role change. */
    callbacks?: CallbackCommands;
    /** `create_replica_methods`, their sections and `basebackup` options (default: pg_basebackup). */
    replica?: ReplicaConfig;
    /** `use_pg_rewind` and the `remove_data_directory_on_*` keys set here: they win over the dynamic ones (`effectiveDynamic`). */
    rewindOverrides?: LocalRewindOverrides;
  };
  watchdog: {
    mode: 'off' | 'automatic' | 'required';
    device: string;
    safetyMargin: number;
    /**
     * pgtools extension `watchdog.software_fence` (default true): a small sh process that stops
     * PostgreSQL when the agent dies or hangs while it runs the primary, before the lease expires.
     */
    softwareFence: boolean;
  };
  tags: NodeTags;
  /** `log:` as written (level, format, dir...). */
  log: Record<string, unknown>;
}

/** What parsing returns: the configuration and the warnings a person should read. */
export interface ParsedConfig {
  config: HaConfig;
  warnings: string[];
}

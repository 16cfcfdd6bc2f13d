import type { CallbackCommands } from './callbacks-config.js';
import type { DynamicPostgresqlRewind, DynamicRewindSettings, LocalRewindOverrides } from './rewind-config.js';

/** Username/password pair (`postgresql.authentication.*`, `restapi.authentication`). */
export interface Credentials {
  username: string;
  password?: string;
}

/** The dynamic part of the configuration: `bootstrap.dcs`, later the etcd `config` key. */
export interface DynamicConfig extends DynamicRewindSettings {
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
  synchronousMode: boolean;
  synchronousModeStrict: boolean;
  failsafeMode: boolean;
  postgresql: DynamicPostgresqlRewind & {
    usePgRewind: boolean;
    useSlots: boolean;
    /** When pg_rewind fails, empty the data dir and clone again (else the node stays stopped). */
    removeDataDirectoryOnRewindFailure: boolean;
    parameters: Record<string, string | number | boolean>;
  };
}

/** `tags:`: static per-node behaviour flags, plus any custom tags. */
export interface NodeTags {
  nofailover: boolean;
  noloadbalance: boolean;
  clonefrom: boolean;
  nosync: boolean;
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
    verifyClient?: 'none' | 'optional' | 'required';
    allowlist?: string[];
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
    postInit?: string;
  };
  postgresql: {
    listen: string;
    connectAddress: string;
    dataDir: string;
    binDir?: string;
    configDir?: string;
    pgpass?: string;
    authentication: {
      superuser: Credentials;
      replication: Credentials;
      rewind?: Credentials;
    };
    parameters: Record<string, string | number | boolean>;
    pgHba?: string[];
    /** `postgresql.callbacks`: run without waiting on start, stop, restart, reload and role change. */
    callbacks?: CallbackCommands;
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

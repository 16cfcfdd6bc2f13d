/**
 * What ha-agent does with each Patroni 4.1 configuration key (Patroni's validator.py schema, its
 * YAML and dynamic configuration docs), plus pgtools' own additions.
 * - `supported`: works as Patroni documents it.
 * - `limited`: the values that behave as in Patroni are accepted; any other value is refused at
 *   start, naming the key (the note says which values).
 * - `warned`: accepted with a warning and no effect. Only for keys that cannot change how the
 *   cluster behaves (log formatting, HTTP response headers).
 * - `refused`: stops the agent at start (exit 2), naming the key and the reason.
 * Placeholders: `<user>` is superuser, replication or rewind; `<method>` a replica or bootstrap
 * method name (a section named in `create_replica_methods` or `bootstrap.method`); `<tag>` any custom tag. docs/coming-from-patroni.md renders this table and a test
 * checks it against the parser key by key.
 */
export type KeyStatus = 'supported' | 'limited' | 'warned' | 'refused';

export interface PatroniKey {
  readonly key: string;
  readonly status: KeyStatus;
  /** For warned and refused keys, the reason (it is part of the message); for limited ones, the values. */
  readonly note: string;
  /**
   * For a limited key the parser does not read itself: the values that behave as in Patroni
   * (anything else is refused).
   */
  readonly accepts?: (value: unknown) => boolean;
}

type Row = readonly [key: string, status: KeyStatus, note: string, accepts?: (value: unknown) => boolean];

const oneOf =
  (...words: string[]) =>
  (v: unknown): boolean =>
    typeof v === 'string' && words.includes(v.toLowerCase());

const S = 'supported';
const L = 'limited';
const W = 'warned';
const R = 'refused';

const ONLY_ETCD = 'pgtools keeps its state in etcd v3 only (an `etcd3:` section)';
const NO_LOG_EFFECT = 'Python logging detail with no equivalent here; logging only, the cluster behaves the same';
const LIBPQ_SSL = 'the agent connects to PostgreSQL without TLS; only `disable`, `allow` and `prefer` behave the same';

const ROWS: readonly Row[] = [
  ['name', S, ''],
  ['scope', S, ''],
  ['namespace', S, 'default `/service/`'],
  ['log', S, 'read by the ha-agent CLI'],
  ['log.level', S, ''],
  ['log.type', S, '`plain` or `json`'],
  ['log.format', S, ''],
  ['log.dateformat', S, ''],
  ['log.static_fields', S, ''],
  ['log.dir', S, ''],
  ['log.file_num', S, ''],
  ['log.file_size', S, ''],
  ['log.traceback_level', W, NO_LOG_EFFECT],
  ['log.max_queue_size', W, 'ha-agent writes log lines directly, without a queue; logging only'],
  ['log.mode', W, 'log files get the process umask; logging only'],
  ['log.loggers', W, NO_LOG_EFFECT],
  ['log.deduplicate_heartbeat_logs', W, 'ha-agent does not log a line per heartbeat; logging only'],
  ['ctl', S, 'read by hactl, not by the agent'],
  ['ctl.insecure', S, ''],
  ['ctl.cacert', S, ''],
  ['ctl.certfile', S, ''],
  ['ctl.keyfile', S, ''],
  ['ctl.keyfile_password', S, ''],
  ['ctl.authentication.username', S, ''],
  ['ctl.authentication.password', S, ''],
  ['citus', R, 'the Citus integration (worker registration on the coordinator) is not implemented'],
  ['consul', R, ONLY_ETCD],
  ['etcd', R, 'the etcd v2 API is not supported; rename it `etcd3:` (etcd 3.4 ships with the v2 API off, and patronictl reads v3 keys)'],
  ['exhibitor', R, ONLY_ETCD],
  ['kubernetes', R, ONLY_ETCD],
  ['raft', R, ONLY_ETCD],
  ['zookeeper', R, ONLY_ETCD],
  ['restapi.listen', S, ''],
  ['restapi.connect_address', S, ''],
  ['restapi.authentication.username', S, ''],
  ['restapi.authentication.password', S, ''],
  ['restapi.certfile', S, ''],
  ['restapi.keyfile', S, ''],
  ['restapi.keyfile_password', S, ''],
  ['restapi.cafile', S, ''],
  ['restapi.ciphers', S, 'OpenSSL cipher list for the HTTPS server'],
  ['restapi.verify_client', S, ''],
  ['restapi.allowlist', S, ''],
  ['restapi.allowlist_include_members', S, "the hosts of the members' `api_url`s, as registered in etcd, may use unsafe methods"],
  ['restapi.http_extra_headers', W, 'extra response headers are not sent; the API answers the same'],
  ['restapi.https_extra_headers', W, 'extra response headers are not sent; the API answers the same'],
  ['restapi.request_queue_size', W, 'Node sizes the listen backlog itself; the API answers the same'],
  ['restapi.server_tokens', W, 'the `Server` header is not configurable; the API answers the same'],
  ['etcd3.host', S, ''],
  ['etcd3.hosts', S, 'list or comma-separated string'],
  ['etcd3.url', S, '`http(s)://host:port`: one endpoint, and the protocol'],
  ['etcd3.proxy', S, 'used like `url`: the endpoints are always used as given, never discovered'],
  ['etcd3.use_proxies', S, 'the endpoints are always used as given (etcd members are not discovered)'],
  ['etcd3.srv', R, 'DNS SRV discovery is not implemented; list the endpoints in `etcd3.hosts`'],
  ['etcd3.srv_suffix', R, 'DNS SRV discovery is not implemented; list the endpoints in `etcd3.hosts`'],
  ['etcd3.protocol', S, ''],
  ['etcd3.username', S, ''],
  ['etcd3.password', S, ''],
  ['etcd3.cacert', S, ''],
  ['etcd3.cert', S, ''],
  ['etcd3.key', S, ''],
  ['bootstrap.dcs', S, 'written to the `config` key by the bootstrap winner'],
  ['bootstrap.initdb', S, '`pgdata`, `nosync`, `pwfile`, `sync-only`, `version` refused (the agent sets them)'],
  ['bootstrap.pg_hba', S, ''],
  ['bootstrap.users', S, 'removed in Patroni 4.0; still honoured'],
  ['bootstrap.post_init', S, 'old name of `post_bootstrap` (which wins when both are set)'],
  ['bootstrap.post_bootstrap', S, 'run with a URL of the new cluster; a failure fails the bootstrap'],
  ['bootstrap.method', S, '`initdb` or the name of a `bootstrap.<method>` section'],
  ['bootstrap.<method>', S, '`command`, `no_params`, `keep_existing_recovery_conf`, `recovery_conf`; other keys passed as `--key=value`'],
  ['bootstrap.dcs.ttl', S, 'default 30'],
  ['bootstrap.dcs.loop_wait', S, 'default 10'],
  ['bootstrap.dcs.retry_timeout', S, 'default 10'],
  ['bootstrap.dcs.maximum_lag_on_failover', S, 'default 1 MiB'],
  ['bootstrap.dcs.maximum_lag_on_syncnode', S, 'a synchronous standby lagging more bytes is swapped for a healthy one; `-1` off'],
  ['bootstrap.dcs.max_timelines_history', W, 'the full history is kept in the `history` key; it only grows that key'],
  ['bootstrap.dcs.primary_start_timeout', S, 'default 300'],
  ['bootstrap.dcs.master_start_timeout', S, 'old name of `primary_start_timeout`'],
  ['bootstrap.dcs.primary_stop_timeout', S, 'synchronous mode only: a primary stop taking longer is forced'],
  ['bootstrap.dcs.master_stop_timeout', S, 'old name of `primary_stop_timeout`'],
  ['bootstrap.dcs.check_timeline', S, "a replica on a timeline behind the cluster's does not race"],
  ['bootstrap.dcs.synchronous_mode', S, "`on`/`off`, or `quorum` (`ANY k (...)`, with Patroni 4's `sync` key `quorum` field)"],
  ['bootstrap.dcs.synchronous_mode_strict', S, ''],
  ['bootstrap.dcs.synchronous_node_count', S, '`k (...)` with `synchronous_mode: on`, `ANY k (...)` with `quorum`'],
  ['bootstrap.dcs.failsafe_mode', S, 'while etcd is unreachable the primary keeps running if every member in the `failsafe` key answers its `POST /failsafe`'],
  ['bootstrap.dcs.pause', S, 'set by `hactl pause`'],
  [
    'bootstrap.dcs.slots',
    S,
    'permanent physical slots on every member, logical ones created on the leader and copied to and advanced on the replicas (see Permanent and logical slots)',
  ],
  ['bootstrap.dcs.ignore_slots', S, 'matching slots are never dropped; slots the agent did not create or publish are never dropped anyway'],
  ['bootstrap.dcs.member_slots_ttl', S, 'default `30min`; `0` drops the slot of a member as soon as its key is gone'],
  ['bootstrap.dcs.standby_cluster', S, 'the leader (`standby_leader`) follows a remote primary, the others cascade from it; removing it promotes'],
  ['bootstrap.dcs.standby_cluster.host', S, 'several hosts separated by commas add `target_session_attrs=read-write`'],
  ['bootstrap.dcs.standby_cluster.port', S, ''],
  ['bootstrap.dcs.standby_cluster.primary_slot_name', S, 'the slot on the remote primary (create it there); without it no slot is used'],
  ['bootstrap.dcs.standby_cluster.restore_command', S, 'on every member of the standby cluster'],
  ['bootstrap.dcs.standby_cluster.archive_cleanup_command', S, 'on every member of the standby cluster'],
  ['bootstrap.dcs.standby_cluster.recovery_min_apply_delay', S, 'on the standby leader only'],
  [
    'bootstrap.dcs.standby_cluster.create_replica_methods',
    L,
    '`basebackup` and the methods of `postgresql.create_replica_methods`; for the standby leader from the remote primary, and the other members',
  ],
  ['bootstrap.dcs.postgresql.parameters', S, ''],
  ['bootstrap.dcs.postgresql.use_pg_rewind', S, ''],
  ['bootstrap.dcs.postgresql.use_slots', S, ''],
  ['bootstrap.dcs.postgresql.remove_data_directory_on_rewind_failure', S, ''],
  ['bootstrap.dcs.postgresql.remove_data_directory_on_diverged_timelines', S, 'a diverged node without pg_rewind is cloned again'],
  ['bootstrap.dcs.postgresql.pg_hba', S, 'applied by reload on every member; the local `postgresql.pg_hba` wins'],
  ['bootstrap.dcs.postgresql.pg_ident', S, 'applied by reload on every member; the local `postgresql.pg_ident` wins'],
  [
    'bootstrap.dcs.postgresql.recovery_conf',
    S,
    'written while a node runs as a standby; `primary_conninfo`, `primary_slot_name` and `recovery_target*` refused (the agent sets them)',
  ],
  ['bootstrap.dcs.postgresql.pg_ctl_timeout', S, 'how long a stop may take before it is forced (immediate, then SIGKILL); starts are watched by the HA loop'],
  ['bootstrap.dcs.postgresql.use_unix_socket', S, "the agent's own superuser connections use the first absolute `unix_socket_directories` entry"],
  ['bootstrap.dcs.postgresql.use_unix_socket_repl', S, "the agent's own replication connections (timeline checks) use the socket"],
  ['postgresql.listen', S, ''],
  ['postgresql.connect_address', S, ''],
  ['postgresql.proxy_address', S, 'published as `proxy_url` in the member key'],
  ['postgresql.data_dir', S, ''],
  ['postgresql.config_dir', S, ''],
  ['postgresql.bin_dir', S, 'default `/usr/lib/postgresql/15/bin`'],
  ['postgresql.bin_name', R, 'custom binary names are not implemented; point `bin_dir` at a directory with the standard names'],
  ['postgresql.pgpass', S, ''],
  ['postgresql.parameters', S, ''],
  ['postgresql.pg_hba', S, ''],
  ['postgresql.pg_ident', S, ''],
  ['postgresql.authentication.<user>.username', S, ''],
  ['postgresql.authentication.<user>.password', S, ''],
  ['postgresql.authentication.<user>.sslmode', L, LIBPQ_SSL, oneOf('disable', 'allow', 'prefer')],
  ['postgresql.authentication.<user>.sslkey', R, 'client certificates are not implemented'],
  ['postgresql.authentication.<user>.sslcert', R, 'client certificates are not implemented'],
  ['postgresql.authentication.<user>.sslpassword', R, 'client certificates are not implemented'],
  ['postgresql.authentication.<user>.sslrootcert', R, 'server certificate verification is not implemented'],
  ['postgresql.authentication.<user>.sslcrl', R, 'server certificate verification is not implemented'],
  ['postgresql.authentication.<user>.sslcrldir', R, 'server certificate verification is not implemented'],
  ['postgresql.authentication.<user>.sslnegotiation', L, '`postgres` (the default) only', oneOf('postgres')],
  ['postgresql.authentication.<user>.gssencmode', L, '`disable` and `prefer` only (GSSAPI is not implemented)', oneOf('disable', 'prefer')],
  ['postgresql.authentication.<user>.channel_binding', L, '`disable` and `prefer` only', oneOf('disable', 'prefer')],
  ['postgresql.callbacks', S, 'see Callbacks'],
  ['postgresql.callbacks.on_start', S, ''],
  ['postgresql.callbacks.on_stop', S, ''],
  ['postgresql.callbacks.on_restart', S, ''],
  ['postgresql.callbacks.on_reload', S, ''],
  ['postgresql.callbacks.on_role_change', S, ''],
  ['postgresql.use_pg_rewind', S, 'wins over the dynamic one'],
  ['postgresql.remove_data_directory_on_rewind_failure', S, 'wins over the dynamic one'],
  ['postgresql.remove_data_directory_on_diverged_timelines', S, 'wins over the dynamic one'],
  ['postgresql.create_replica_methods', S, 'tried in order, falling back to the next; `basebackup` is pg_basebackup'],
  ['postgresql.create_replica_method', S, 'old name of `create_replica_methods`'],
  ['postgresql.<method>', S, '`command`, `no_params`, `keep_data`, `no_leader`; other keys passed as `--key=value`'],
  ['postgresql.basebackup', S, 'pg_basebackup options (`max-rate`, `checkpoint`, `waldir`...); the ones the agent sets are refused'],
  ['postgresql.recovery_conf', S, 'replaces the dynamic `recovery_conf`'],
  ['postgresql.krbsrvname', R, 'Kerberos (GSSAPI) authentication of replication connections is not implemented'],
  ['postgresql.config_base_name', L, "`postgresql` (the default) only: the agent's settings are included from postgresql.conf", oneOf('postgresql')],
  ['postgresql.custom_conf', R, 'a custom base configuration file is not implemented; use `parameters` (or an `include` in it)'],
  ['postgresql.pg_ctl_timeout', S, 'replaces the dynamic one'],
  ['postgresql.use_unix_socket', S, 'replaces the dynamic one'],
  ['postgresql.use_unix_socket_repl', S, 'replaces the dynamic one'],
  ['postgresql.pre_promote', S, 'a non-zero exit gives the leader key back and keeps the member out of the race for `ttl`'],
  ['postgresql.before_stop', S, 'waited for; not run before the emergency stops (leader lease lost)'],
  ['watchdog.mode', S, '`off`, `automatic`, `required`'],
  ['watchdog.device', S, ''],
  ['watchdog.safety_margin', S, ''],
  ['watchdog.driver', L, '`default` (the Linux watchdog device) only', oneOf('default')],
  ['watchdog.software_fence', S, 'pgtools addition, default `true`'],
  ['tags.nofailover', S, ''],
  ['tags.noloadbalance', S, ''],
  ['tags.clonefrom', S, ''],
  ['tags.nosync', S, ''],
  ['tags.replicatefrom', S, 'streams from the named member while it runs as a replica, else from the leader'],
  ['tags.nostream', S, 'needs a `restore_command` (in `recovery_conf` or `parameters`)'],
  ['tags.failover_priority', S, 'higher wins the race at equal WAL position; `0` never becomes leader'],
  ['tags.sync_priority', S, 'higher is preferred as the synchronous standby; `0` never (like `nosync`)'],
  ['tags.<tag>', S, 'custom tags are published as written'],
];

/**
 * Every Patroni 4.1 configuration key and what ha-agent does with it.
 *
 * @example
 * ```ts
 * import { PATRONI_KEYS } from '@pgtools/ha-agent';
 * PATRONI_KEYS.filter((k) => k.status === 'refused').map((k) => k.key);
 * ```
 */
export const PATRONI_KEYS: readonly PatroniKey[] = ROWS.map(([key, status, note, accepts]) =>
  accepts ? { key, status, note, accepts } : { key, status, note },
);

const BY_KEY = new Map(PATRONI_KEYS.map((k) => [k.key, k]));
const USERS = new Set(['superuser', 'replication', 'rewind']);

/**
 * The table row for a concrete key path (`postgresql.authentication.replication.sslmode`), with
 * the runtime `config.` prefix read as `bootstrap.dcs.`.
 *
 * @example
 * ```ts
 * import { patroniKey } from '@pgtools/ha-agent/internals';
 * patroniKey('config.max_timelines_history')?.status; // 'warned'
 * ```
 */
export function patroniKey(path: string): PatroniKey | undefined {
  const key = path.startsWith('config.') ? `bootstrap.dcs.${path.slice('config.'.length)}` : path;
  const exact = BY_KEY.get(key);
  if (exact) return exact;
  const parts = key.split('.');
  if (parts[0] === 'postgresql' && parts[1] === 'authentication' && USERS.has(parts[2] ?? '')) {
    return BY_KEY.get(['postgresql', 'authentication', '<user>', ...parts.slice(3)].join('.'));
  }
  return undefined;
}

import { invalid, isObj, type Obj } from './config-reader.js';

/** `PATRONI_*` variables and the key path each one sets, as in Patroni's config.py. */
const SIMPLE: ReadonlyArray<[string, string[]]> = [
  ['PATRONI_NAME', ['name']],
  ['PATRONI_NAMESPACE', ['namespace']],
  ['PATRONI_SCOPE', ['scope']],
  ['PATRONI_RESTAPI_LISTEN', ['restapi', 'listen']],
  ['PATRONI_RESTAPI_CONNECT_ADDRESS', ['restapi', 'connect_address']],
  ['PATRONI_RESTAPI_CERTFILE', ['restapi', 'certfile']],
  ['PATRONI_RESTAPI_KEYFILE', ['restapi', 'keyfile']],
  ['PATRONI_RESTAPI_KEYFILE_PASSWORD', ['restapi', 'keyfile_password']],
  ['PATRONI_RESTAPI_CAFILE', ['restapi', 'cafile']],
  ['PATRONI_RESTAPI_VERIFY_CLIENT', ['restapi', 'verify_client']],
  ['PATRONI_RESTAPI_ALLOWLIST', ['restapi', 'allowlist']],
  ['PATRONI_RESTAPI_USERNAME', ['restapi', 'authentication', 'username']],
  ['PATRONI_RESTAPI_PASSWORD', ['restapi', 'authentication', 'password']],
  ['PATRONI_ETCD3_HOSTS', ['etcd3', 'hosts']],
  ['PATRONI_ETCD3_HOST', ['etcd3', 'host']],
  ['PATRONI_ETCD3_PROTOCOL', ['etcd3', 'protocol']],
  ['PATRONI_ETCD3_USERNAME', ['etcd3', 'username']],
  ['PATRONI_ETCD3_PASSWORD', ['etcd3', 'password']],
  ['PATRONI_ETCD3_CACERT', ['etcd3', 'cacert']],
  ['PATRONI_ETCD3_CERT', ['etcd3', 'cert']],
  ['PATRONI_ETCD3_KEY', ['etcd3', 'key']],
  ['PATRONI_POSTGRESQL_LISTEN', ['postgresql', 'listen']],
  ['PATRONI_POSTGRESQL_CONNECT_ADDRESS', ['postgresql', 'connect_address']],
  ['PATRONI_POSTGRESQL_DATA_DIR', ['postgresql', 'data_dir']],
  ['PATRONI_POSTGRESQL_BIN_DIR', ['postgresql', 'bin_dir']],
  ['PATRONI_POSTGRESQL_CONFIG_DIR', ['postgresql', 'config_dir']],
  ['PATRONI_POSTGRESQL_PGPASS', ['postgresql', 'pgpass']],
  ['PATRONI_REPLICATION_USERNAME', ['postgresql', 'authentication', 'replication', 'username']],
  ['PATRONI_REPLICATION_PASSWORD', ['postgresql', 'authentication', 'replication', 'password']],
  ['PATRONI_SUPERUSER_USERNAME', ['postgresql', 'authentication', 'superuser', 'username']],
  ['PATRONI_SUPERUSER_PASSWORD', ['postgresql', 'authentication', 'superuser', 'password']],
  ['PATRONI_REWIND_USERNAME', ['postgresql', 'authentication', 'rewind', 'username']],
  ['PATRONI_REWIND_PASSWORD', ['postgresql', 'authentication', 'rewind', 'password']],
  ['PATRONI_LOG_LEVEL', ['log', 'level']],
  ['PATRONI_LOG_FORMAT', ['log', 'format']],
  ['PATRONI_LOG_DIR', ['log', 'dir']],
  ['PATRONI_WATCHDOG_MODE', ['watchdog', 'mode']],
  ['PATRONI_WATCHDOG_DEVICE', ['watchdog', 'device']],
  ['PATRONI_WATCHDOG_SAFETY_MARGIN', ['watchdog', 'safety_margin']],
];

/** Prefixes of variables that are settings, not `PATRONI_<user>_PASSWORD` bootstrap users. */
const RESERVED = [
  'RESTAPI',
  'ETCD',
  'ETCD3',
  'POSTGRESQL',
  'REPLICATION',
  'SUPERUSER',
  'REWIND',
  'LOG',
  'WATCHDOG',
  'CTL',
  'KUBERNETES',
  'ZOOKEEPER',
  'CONSUL',
  'EXHIBITOR',
  'RAFT',
  'CITUS',
];

function setPath(doc: Obj, path: readonly string[], value: unknown): void {
  let node = doc;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (!isObj(next)) node[part] = {};
    node = node[part] as Obj;
  }
  node[path[path.length - 1] as string] = value;
}

/**
 * Applies Patroni's environment overrides (`PATRONI_NAME`, `PATRONI_RESTAPI_LISTEN`,
 * `PATRONI_ETCD3_HOSTS`, `PATRONI_SUPERUSER_PASSWORD`, `PATRONI_<user>_PASSWORD`/`_OPTIONS` for
 * bootstrap users, ...) to a parsed YAML document. Returns a new document; variables win over the file.
 * `PATRONI_ETCD_*` (the v2 API) is refused like an `etcd:` section.
 *
 * @example
 * ```ts
 * import { applyEnvOverrides } from '@pgtools/ha-agent';
 * applyEnvOverrides({ name: 'a' }, { PATRONI_NAME: 'node2' }); // { name: 'node2' }
 * ```
 */
export function applyEnvOverrides(doc: Obj, env: Record<string, string | undefined>): Obj {
  const out = structuredClone(doc);
  for (const [variable, path] of SIMPLE) {
    const value = env[variable];
    if (value !== undefined && value !== '') setPath(out, path, value);
  }
  for (const variable of Object.keys(env)) {
    if (/^PATRONI_ETCD_(HOSTS?|URL|PROXY|SRV|PROTOCOL)$/.test(variable) && env[variable]) {
      throw invalid(variable, 'selects the etcd v2 API', 'rename it `PATRONI_ETCD3_...` (etcd 3.4 ships with the v2 API off, and patronictl reads v3 keys)');
    }
    const m = /^PATRONI_(.+)_(PASSWORD|OPTIONS)$/.exec(variable);
    if (!m || m[1] === undefined || RESERVED.includes(m[1].toUpperCase()) || RESERVED.some((p) => m[1]!.toUpperCase().startsWith(`${p}_`))) continue;
    const value = env[variable];
    if (value === undefined) continue;
    const user = m[1];
    if (m[2] === 'PASSWORD') setPath(out, ['bootstrap', 'users', user, 'password'], value);
    else
      setPath(
        out,
        ['bootstrap', 'users', user, 'options'],
        value
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      );
  }
  return out;
}

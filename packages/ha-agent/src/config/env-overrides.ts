import { parse as parseYaml } from 'yaml';
import { invalid, isObj, type Obj } from './config-reader.js';

type Kind = 'string' | 'list' | 'dict';
type EnvRow = readonly [variable: string, path: readonly string[], kind?: Kind];

const AUTH_PARAMS = [
  'username',
  'password',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'gssencmode',
  'channel_binding',
  'sslnegotiation',
];
const section = (name: string, params: readonly string[], kinds: Record<string, Kind> = {}): EnvRow[] =>
  params.map((p) => [`PATRONI_${name.toUpperCase()}_${p.toUpperCase()}`, [name, p], kinds[p] ?? 'string'] as const);

/**
 * Every `PATRONI_*` variable Patroni 4.1 reads (its config.py) and the key path it sets, plus
 * pgtools' `PATRONI_WATCHDOG_*`. The key then goes through the same checks as in the file, so a
 * variable for a refused key is refused too.
 */
export const PATRONI_ENV: readonly EnvRow[] = [
  ['PATRONI_NAME', ['name']],
  ['PATRONI_NAMESPACE', ['namespace']],
  ['PATRONI_SCOPE', ['scope']],
  ...section(
    'restapi',
    [
      'listen',
      'connect_address',
      'certfile',
      'keyfile',
      'keyfile_password',
      'cafile',
      'ciphers',
      'verify_client',
      'http_extra_headers',
      'https_extra_headers',
      'allowlist',
      'allowlist_include_members',
      'request_queue_size',
      'server_tokens',
    ],
    { allowlist: 'list', http_extra_headers: 'dict', https_extra_headers: 'dict' },
  ),
  ['PATRONI_RESTAPI_USERNAME', ['restapi', 'authentication', 'username']],
  ['PATRONI_RESTAPI_PASSWORD', ['restapi', 'authentication', 'password']],
  ...section('ctl', ['insecure', 'cacert', 'certfile', 'keyfile', 'keyfile_password']),
  ['PATRONI_CTL_USERNAME', ['ctl', 'authentication', 'username']],
  ['PATRONI_CTL_PASSWORD', ['ctl', 'authentication', 'password']],
  ...section('etcd3', ['host', 'hosts', 'use_proxies', 'protocol', 'srv', 'srv_suffix', 'url', 'proxy', 'cacert', 'cert', 'key', 'username', 'password'], {}),
  ...section('postgresql', ['listen', 'connect_address', 'proxy_address', 'config_dir', 'data_dir', 'pgpass', 'bin_dir']),
  ...['pg_ctl', 'initdb', 'pg_controldata', 'pg_basebackup', 'postgres', 'pg_isready', 'pg_rewind'].map(
    (b) => [`PATRONI_POSTGRESQL_BIN_${b.toUpperCase()}`, ['postgresql', 'bin_name', b]] as const,
  ),
  ...['replication', 'superuser', 'rewind'].flatMap((user) =>
    AUTH_PARAMS.map((p) => [`PATRONI_${user.toUpperCase()}_${p.toUpperCase()}`, ['postgresql', 'authentication', user, p]] as const),
  ),
  ...section(
    'log',
    [
      'type',
      'level',
      'traceback_level',
      'format',
      'dateformat',
      'static_fields',
      'max_queue_size',
      'dir',
      'mode',
      'file_size',
      'file_num',
      'loggers',
      'deduplicate_heartbeat_logs',
    ],
    { static_fields: 'dict', loggers: 'dict' },
  ),
  // Patroni's old names; the new one wins when both are set.
  ['PATRONI_LOGLEVEL', ['log', 'level']],
  ['PATRONI_LOGFORMAT', ['log', 'format']],
  ['PATRONI_LOG_DATEFMT', ['log', 'dateformat']],
  ...section('watchdog', ['mode', 'device', 'safety_margin']),
  ...section('citus', ['group', 'database']),
];

/** Other DCSs (Patroni's `PATRONI_<DCS>_<SUFFIX>`): set so the section is refused by name. */
const OTHER_DCS_VARIABLE = /^PATRONI_(CONSUL|ZOOKEEPER|EXHIBITOR|KUBERNETES|RAFT)_([A-Z_]+)$/;

/** Patroni's `_parse_list`/`_parse_dict`: a YAML flow list or mapping, brackets optional. */
function parseValue(value: string, kind: Kind): unknown {
  if (kind === 'string') return value;
  const text =
    kind === 'list' ? (value.trim().startsWith('-') || value.includes('[') ? value : `[${value}]`) : value.trim().startsWith('{') ? value : `{${value}}`;
  try {
    return parseYaml(text, { version: '1.1' });
  } catch {
    return value; // the key's own check names it
  }
}

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
  for (const [variable, path, kind] of PATRONI_ENV) {
    const value = env[variable];
    const renamed = variable === 'PATRONI_LOGLEVEL' || variable === 'PATRONI_LOGFORMAT' || variable === 'PATRONI_LOG_DATEFMT';
    if (renamed && env[`PATRONI_LOG_${path[1] === 'dateformat' ? 'DATEFORMAT' : (path[1] ?? '').toUpperCase()}`]) continue;
    if (value !== undefined && value !== '') setPath(out, path, parseValue(value, kind ?? 'string'));
  }
  for (const variable of Object.keys(env)) {
    const dcs = OTHER_DCS_VARIABLE.exec(variable);
    if (dcs?.[1] && dcs[2] && env[variable]) setPath(out, [dcs[1].toLowerCase(), dcs[2].toLowerCase()], env[variable]);
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

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PgToolsError } from '@pgtools/core';
import { parseBootstrapScripts } from './bootstrap-config.js';
import { parseCallbacks } from './callbacks-config.js';
import { parseReplicaConfig } from './replica-config.js';
import { describe, invalid, isObj, parameters, Section } from './config-reader.js';
import { commandWords } from './command-config.js';
import { patroniKey } from './patroni-keys.js';
import { parseRecoveryConf } from './recovery-conf.js';
import type { Credentials, DynamicConfig, HaConfig, ParsedConfig } from './config-types.js';
import { parseDynamicPostgresqlRewind, parseDynamicRewind, parseLocalRewind } from './rewind-config.js';
import { applyEnvOverrides } from './env-overrides.js';
import { secretsReadableWarning } from './secrets.js';
import { parseTags } from './tags-config.js';
import { parseSlotsConfig } from './slots-config.js';
import { checkStandbyMethods, parseStandbyCluster } from './standby-cluster-config.js';

/**
 * The advice given for an `etcd:` (v2 API) section (also the error's `hint`).
 *
 * @example
 * ```ts
 * import { ETCD_V2_ADVICE } from '@pgtools/ha-agent';
 * console.error(ETCD_V2_ADVICE);
 * ```
 */
export const ETCD_V2_ADVICE = 'rename it `etcd3:` (etcd 3.4 ships with the v2 API off, and patronictl reads v3 keys)';

/**
 * Patroni defaults for the dynamic configuration.
 *
 * @example
 * ```ts
 * import { DYNAMIC_DEFAULTS } from '@pgtools/ha-agent';
 * DYNAMIC_DEFAULTS.ttl; // 30
 * ```
 */
export const DYNAMIC_DEFAULTS = {
  ttl: 30,
  loopWait: 10,
  retryTimeout: 10,
  maximumLagOnFailover: 1_048_576,
  primaryStartTimeout: 300,
} as const;

const FORBIDDEN_INITDB = ['pgdata', 'nosync', 'pwfile', 'sync-only', 'version'];

function normalizeNamespace(ns: string): string {
  let out = ns.trim();
  if (!out.startsWith('/')) out = `/${out}`;
  if (!out.endsWith('/')) out = `${out}/`;
  return out;
}

/** `etcd3.url` or `etcd3.proxy` (`http(s)://host:port`): Patroni takes the protocol from it. */
function etcdUrl(section: Section): { host: string; protocol: string } | undefined {
  const key = section.has('url') ? 'url' : section.has('proxy') ? 'proxy' : undefined;
  const raw = key === undefined ? undefined : section.string(key);
  if (key === undefined || raw === undefined) return undefined;
  const m = /^(https?):\/\/([^/]+?)\/?$/.exec(raw.trim());
  if (!m || m[1] === undefined || m[2] === undefined) throw invalid(section.key(key), `must be http(s)://host:port, got "${raw}"`);
  return { protocol: m[1], host: m[2] };
}

function hostList(section: Section, urlHost?: string): string[] {
  const raw = section.value('hosts');
  let hosts: string[] = [];
  if (typeof raw === 'string') hosts = raw.split(',');
  else if (Array.isArray(raw)) {
    hosts = raw.map((h, i) => {
      if (typeof h !== 'string') throw invalid(`${section.key('hosts')}[${i}]`, `must be a host:port string, got ${describe(h)}`);
      return h;
    });
  } else if (raw !== undefined && raw !== null) throw invalid(section.key('hosts'), `must be a list or a comma-separated string, got ${describe(raw)}`);
  const single = section.string('host');
  if (single) hosts.push(single);
  if (urlHost) hosts.push(urlHost);
  hosts = [...new Set(hosts.map((h) => h.trim()).filter(Boolean))];
  if (hosts.length === 0) throw invalid(section.key('hosts'), 'is required (etcd3.hosts, etcd3.host or etcd3.url)');
  return hosts.map((h, i) => {
    const m = /^(?:\[([^\]]+)\]|([^:/]+))(?::(\d+))?$/.exec(h);
    if (!m) throw invalid(`${section.key('hosts')}[${i}]`, `must be host:port, got "${h}"`);
    return m[3] ? h : `${h}:2379`;
  });
}

function hostPort(section: Section, key: string): string {
  const v = section.requiredString(key);
  if (!/^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/.test(v.trim()) && !/^[^:\s]+(,[^:\s]+)*:\d{1,5}$/.test(v.trim())) {
    throw invalid(section.key(key), `must be host:port, got "${v}"`);
  }
  return v.trim();
}

function credentials(section: Section, required: boolean, warnings: string[]): Credentials | undefined {
  if (!required && Object.keys(section.raw).length === 0) return undefined;
  const username = required ? section.requiredString('username') : section.string('username');
  if (username === undefined) throw invalid(section.key('username'), 'is required');
  const password = section.string('password');
  section.unknownKeys(warnings);
  return password === undefined ? { username } : { username, password };
}

function initdbOptions(section: Section): string[] {
  const raw = section.value('initdb');
  if (raw === undefined || raw === null) return [];
  const items: Array<[string, unknown]> = [];
  if (Array.isArray(raw)) {
    raw.forEach((item, i) => {
      if (typeof item === 'string') items.push([item, undefined]);
      else if (isObj(item) && Object.keys(item).length === 1) {
        const [k, v] = Object.entries(item)[0] as [string, unknown];
        items.push([k, v]);
      } else throw invalid(`bootstrap.initdb[${i}]`, `must be a string or a single-key mapping, got ${describe(item)}`);
    });
  } else if (isObj(raw)) {
    for (const [k, v] of Object.entries(raw)) items.push([k, v]);
  } else {
    throw invalid('bootstrap.initdb', `must be a list, got ${describe(raw)}`);
  }
  return items.map(([k, v]) => {
    const name = k.replace(/^--/, '');
    if (FORBIDDEN_INITDB.includes(name)) throw invalid('bootstrap.initdb', `option "${name}" is set by the agent and may not be given`);
    if (v === undefined || v === null || v === true) return `--${name}`;
    if (typeof v !== 'string' && typeof v !== 'number') throw invalid(`bootstrap.initdb.${name}`, `must be a string or number, got ${describe(v)}`);
    return `--${name}=${v}`;
  });
}

/**
 * Reads `bootstrap.dcs` or the etcd `config` key (snake_case JSON) into typed, validated timing and
 * PostgreSQL settings with Patroni's defaults. Refuses `loop_wait + 2 * retry_timeout > ttl`.
 *
 * @example
 * ```ts
 * import { parseDynamicConfig } from '@pgtools/ha-agent';
 * parseDynamicConfig({ ttl: 30, loop_wait: 10, retry_timeout: 10 }).maximumLagOnFailover; // 1048576
 * ```
 */
export function parseDynamicConfig(doc: unknown, path = 'bootstrap.dcs', warnings: string[] = []): DynamicConfig {
  const s = Section.of(null, path, doc);
  const ttl = s.int('ttl', { min: 2 }) ?? DYNAMIC_DEFAULTS.ttl;
  const loopWait = s.int('loop_wait', { min: 1 }) ?? DYNAMIC_DEFAULTS.loopWait;
  const retryTimeout = s.int('retry_timeout', { min: 1 }) ?? DYNAMIC_DEFAULTS.retryTimeout;
  const maximumLagOnFailover = s.int('maximum_lag_on_failover', { min: 0 }) ?? DYNAMIC_DEFAULTS.maximumLagOnFailover;
  const primaryStartTimeout = s.int('primary_start_timeout', { min: 0 }) ?? s.int('master_start_timeout', { min: 0 }) ?? DYNAMIC_DEFAULTS.primaryStartTimeout;
  const standbyCluster = parseStandbyCluster(s.section('standby_cluster'));
  // Patroni's `is_quorum_commit_mode`: the string `quorum`, in any case. A standby cluster has no
  // synchronous replication (Patroni's is_synchronous_mode): nobody there writes the sync key.
  const quorumAsked = typeof s.value('synchronous_mode') === 'string' && String(s.value('synchronous_mode')).toLowerCase() === 'quorum';
  const syncAsked = quorumAsked || (s.bool('synchronous_mode') ?? false);
  if (syncAsked && standbyCluster) warnings.push(`${path}.synchronous_mode is ignored in a standby cluster, as Patroni does`);
  const synchronousQuorum = quorumAsked && !standbyCluster;
  const synchronousMode = syncAsked && !standbyCluster;
  const synchronousNodeCount = s.int('synchronous_node_count', { min: 1 }) ?? 1;
  const synchronousModeStrict = s.bool('synchronous_mode_strict') ?? false;
  const failsafeMode = s.bool('failsafe_mode') ?? false;
  s.value('pause');
  const rewind = parseDynamicRewind(s);
  const slots = parseSlotsConfig(s);
  const pg = s.section('postgresql');
  const usePgRewind = pg.bool('use_pg_rewind') ?? false;
  const useSlots = pg.bool('use_slots') ?? true;
  const removeDataDirectoryOnRewindFailure = pg.bool('remove_data_directory_on_rewind_failure') ?? false;
  const pgRewind = parseDynamicPostgresqlRewind(pg);
  const params = parameters(pg, 'parameters');
  const recoveryConf = parseRecoveryConf(pg);
  const pgHba = pg.stringList('pg_hba');
  const pgIdent = pg.stringList('pg_ident');
  const pgCtlTimeout = pg.int('pg_ctl_timeout', { min: 0 });
  const useUnixSocket = pg.bool('use_unix_socket');
  const useUnixSocketRepl = pg.bool('use_unix_socket_repl');
  pg.unknownKeys(warnings);
  s.unknownKeys(warnings);
  if (loopWait + 2 * retryTimeout > ttl) {
    throw invalid(
      s.key('ttl'),
      `impossible timing: loop_wait (${loopWait}) + 2 * retry_timeout (${retryTimeout}) = ${loopWait + 2 * retryTimeout} exceeds ttl (${ttl}); the leader could lose its key before it notices`,
    );
  }
  return {
    ttl,
    loopWait,
    retryTimeout,
    maximumLagOnFailover,
    primaryStartTimeout,
    synchronousMode,
    synchronousQuorum,
    synchronousNodeCount,
    synchronousModeStrict,
    failsafeMode,
    ...(standbyCluster ? { standbyCluster } : {}),
    ...rewind,
    ...slots,
    postgresql: {
      usePgRewind,
      useSlots,
      removeDataDirectoryOnRewindFailure,
      ...pgRewind,
      parameters: params,
      ...(recoveryConf ? { recoveryConf } : {}),
      ...(pgHba ? { pgHba } : {}),
      ...(pgIdent ? { pgIdent } : {}),
      ...(pgCtlTimeout !== undefined ? { pgCtlTimeout } : {}),
      ...(useUnixSocket !== undefined ? { useUnixSocket } : {}),
      ...(useUnixSocketRepl !== undefined ? { useUnixSocketRepl } : {}),
    },
  };
}

/**
 * Parses Patroni's YAML configuration (YAML 1.1, like PyYAML: unquoted `off` is false), applies
 * `PATRONI_*` environment overrides and validates it. Unknown keys give warnings; wrong types,
 * missing required keys, impossible timings and an `etcd:` (v2) section throw `PgToolsError`
 * with code `invalid_config` naming the key path.
 *
 * @example
 * ```ts
 * import { parseConfig } from '@pgtools/ha-agent';
 * const { config, warnings } = parseConfig(yamlText, process.env);
 * config.bootstrap.dcs.ttl; // 30 unless configured
 * ```
 */
export function parseConfig(text: string, env: Record<string, string | undefined> = process.env): ParsedConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { version: '1.1' });
  } catch (err) {
    throw new PgToolsError('invalid_config', `configuration is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) throw invalid('(top level)', `must be a mapping, got ${describe(doc)}`);
  if (doc.etcd !== undefined) {
    throw new PgToolsError('invalid_config', `etcd: the etcd v2 API is not supported; ${ETCD_V2_ADVICE}`, { hint: ETCD_V2_ADVICE });
  }
  const merged = applyEnvOverrides(doc, env);
  // Another DCS (or Citus) first: otherwise its user would read "etcd3: is required".
  for (const k of Object.keys(merged)) {
    const row = patroniKey(k);
    if (row?.status === 'refused') throw invalid(k, `is not supported: ${row.note}`);
  }
  const warnings: string[] = [];
  const top = new Section('', merged);

  const name = top.requiredString('name');
  const scope = top.requiredString('scope');
  const namespace = normalizeNamespace(top.string('namespace') ?? '/service/');

  const rest = top.section('restapi');
  const restAuth = rest.section('authentication');
  const restCreds = credentials(restAuth, false, warnings);
  if (restCreds && restCreds.password === undefined) throw invalid(restAuth.key('password'), 'is required when restapi.authentication is set');
  const verify = rest.string('verify_client');
  if (verify !== undefined && !['none', 'optional', 'required'].includes(verify)) {
    throw invalid(rest.key('verify_client'), `must be none, optional or required, got "${verify}"`);
  }
  const allowlist = rest.stringList('allowlist');
  const restapi: HaConfig['restapi'] = { listen: hostPort(rest, 'listen'), connectAddress: hostPort(rest, 'connect_address') };
  if (restCreds?.password !== undefined) restapi.authentication = { username: restCreds.username, password: restCreds.password };
  for (const [key, field] of [
    ['certfile', 'certfile'],
    ['keyfile', 'keyfile'],
    ['keyfile_password', 'keyfilePassword'],
    ['cafile', 'cafile'],
    ['ciphers', 'ciphers'],
  ] as const) {
    const v = rest.string(key);
    if (v !== undefined) restapi[field] = v;
  }
  if (verify) restapi.verifyClient = verify as 'none' | 'optional' | 'required';
  if (allowlist) restapi.allowlist = allowlist;
  if (rest.bool('allowlist_include_members')) restapi.allowlistIncludeMembers = true;
  if (restapi.keyfile && !restapi.certfile) throw invalid(rest.key('certfile'), 'is required when restapi.keyfile is set');
  rest.unknownKeys(warnings);

  if (!top.has('etcd3')) throw invalid('etcd3', 'is required (etcd3.hosts)');
  const e = top.section('etcd3');
  const endpoint = etcdUrl(e);
  const protocol = e.string('protocol') ?? endpoint?.protocol ?? 'http';
  if (protocol !== 'http' && protocol !== 'https') throw invalid(e.key('protocol'), `must be http or https, got "${protocol}"`);
  e.bool('use_proxies'); // the endpoints are always used as given: nothing is discovered either way
  const etcd3: HaConfig['etcd3'] = { hosts: hostList(e, endpoint?.host), protocol };
  for (const key of ['username', 'password', 'cacert', 'cert', 'key'] as const) {
    const v = e.string(key);
    if (v !== undefined) etcd3[key] = v;
  }
  if (etcd3.key !== undefined && etcd3.cert === undefined) throw invalid(e.key('cert'), 'is required when etcd3.key is set');
  if (etcd3.password !== undefined && etcd3.username === undefined) warnings.push('etcd3.password: set without etcd3.username, ignored');
  if (protocol === 'http' && (etcd3.cacert !== undefined || etcd3.cert !== undefined)) {
    warnings.push('etcd3.protocol: is http but certificates are configured; the connection uses TLS (set protocol: https)');
  }
  e.unknownKeys(warnings);

  const b = top.section('bootstrap');
  const dcsDoc = b.value('dcs') ?? {};
  if (!isObj(dcsDoc)) throw invalid('bootstrap.dcs', `must be a mapping, got ${describe(dcsDoc)}`);
  const dcs = parseDynamicConfig(dcsDoc, 'bootstrap.dcs', warnings);
  const initdb = initdbOptions(b);
  const pgHbaBoot = b.stringList('pg_hba') ?? [];
  const usersSection = b.section('users');
  const users: HaConfig['bootstrap']['users'] = {};
  for (const user of Object.keys(usersSection.raw)) {
    const u = usersSection.section(user);
    const password = u.string('password');
    const options = u.stringList('options') ?? [];
    u.unknownKeys(warnings);
    users[user] = password === undefined ? { options } : { password, options };
  }
  const scripts = parseBootstrapScripts(b, warnings);
  b.unknownKeys(warnings);

  const p = top.section('postgresql');
  const auth = p.section('authentication');
  const superuser = credentials(auth.section('superuser'), true, warnings) as Credentials;
  const replication = credentials(auth.section('replication'), true, warnings) as Credentials;
  const rewind = credentials(auth.section('rewind'), false, warnings);
  auth.unknownKeys(warnings);
  const postgresql: HaConfig['postgresql'] = {
    listen: hostPort(p, 'listen'),
    connectAddress: hostPort(p, 'connect_address'),
    // Relative paths are from the agent's working directory, as in Patroni; every binary runs with cwd /.
    dataDir: resolve(p.requiredString('data_dir')),
    authentication: rewind ? { superuser, replication, rewind } : { superuser, replication },
    parameters: parameters(p, 'parameters'),
  };
  for (const [key, field] of [
    ['bin_dir', 'binDir'],
    ['config_dir', 'configDir'],
    ['pgpass', 'pgpass'],
  ] as const) {
    const v = p.string(key);
    if (v !== undefined) postgresql[field] = key === 'bin_dir' ? v : resolve(v);
  }
  const recoveryConf = parseRecoveryConf(p);
  if (recoveryConf) postgresql.recoveryConf = recoveryConf;
  for (const [key, field] of [
    ['pre_promote', 'prePromote'],
    ['before_stop', 'beforeStop'],
  ] as const) {
    const command = p.value(key);
    if (command === undefined || command === null) continue;
    commandWords(p.key(key), command);
    postgresql[field] = command as string;
  }
  const pgCtlTimeout = p.int('pg_ctl_timeout', { min: 0 });
  if (pgCtlTimeout !== undefined) postgresql.pgCtlTimeout = pgCtlTimeout;
  for (const [key, field] of [
    ['use_unix_socket', 'useUnixSocket'],
    ['use_unix_socket_repl', 'useUnixSocketRepl'],
  ] as const) {
    const v = p.bool(key);
    if (v !== undefined) postgresql[field] = v;
  }
  if (p.has('proxy_address')) postgresql.proxyAddress = hostPort(p, 'proxy_address');
  const pgHba = p.stringList('pg_hba');
  if (pgHba) postgresql.pgHba = pgHba;
  const pgIdent = p.stringList('pg_ident');
  if (pgIdent) postgresql.pgIdent = pgIdent;
  const callbacks = parseCallbacks(p);
  if (callbacks) postgresql.callbacks = callbacks;
  postgresql.replica = checkStandbyMethods(dcs.standbyCluster, parseReplicaConfig(p));
  const rewindOverrides = parseLocalRewind(p);
  if (rewindOverrides) postgresql.rewindOverrides = rewindOverrides;
  p.unknownKeys(warnings);

  const w = top.section('watchdog');
  const modeRaw = w.value('mode');
  let mode: HaConfig['watchdog']['mode'] = 'automatic';
  if (modeRaw === false) mode = 'off';
  else if (modeRaw !== undefined && modeRaw !== null) {
    const m = String(modeRaw).toLowerCase();
    if (m === 'required' || m === 'require') mode = 'required';
    else if (m === 'automatic' || m === 'auto' || modeRaw === true) mode = 'automatic';
    else if (m === 'off' || m === 'disable' || m === 'disabled') mode = 'off';
    else throw invalid(w.key('mode'), `must be off, automatic or required, got "${String(modeRaw)}"`);
  }
  const safetyMargin = w.int('safety_margin', { min: -1 }) ?? 5;
  const watchdog = { mode, device: w.string('device') ?? '/dev/watchdog', safetyMargin, softwareFence: w.bool('software_fence') ?? true };
  w.unknownKeys(warnings);
  if (mode !== 'off') {
    const timeout = safetyMargin === -1 ? Math.floor(dcs.ttl / 2) : dcs.ttl - safetyMargin;
    if (timeout <= dcs.loopWait) {
      const text = `watchdog timeout ${timeout} s (ttl - safety_margin) does not exceed loop_wait ${dcs.loopWait} s`;
      if (mode === 'required') throw invalid(w.key('safety_margin'), text);
      warnings.push(`watchdog.safety_margin: ${text}; the watchdog will not be used`);
    }
  }

  const restoreCommand =
    postgresql.recoveryConf?.restore_command ??
    dcs.postgresql.recoveryConf?.restore_command ??
    postgresql.parameters.restore_command ??
    dcs.postgresql.parameters.restore_command;
  const tags = parseTags(top.section('tags'), name, typeof restoreCommand === 'string' && restoreCommand.trim() !== '', warnings);

  const logSection = top.section('log');
  // The ha-agent CLI reads these (agent-log-settings.ts); the others are checked against the key table.
  for (const k of ['type', 'format', 'dateformat', 'static_fields', 'dir', 'file_num', 'file_size']) logSection.value(k);
  const level = logSection.string('level');
  if (level !== undefined && !['DEBUG', 'INFO', 'WARNING', 'WARN', 'ERROR', 'CRITICAL'].includes(level.toUpperCase())) {
    throw invalid(logSection.key('level'), `must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got "${level}"`);
  }
  logSection.unknownKeys(warnings);
  top.value('ctl'); // read by hactl only
  top.unknownKeys(warnings);

  const config: HaConfig = {
    scope,
    namespace,
    name,
    restapi,
    etcd3,
    bootstrap: { dcs, dcsDocument: dcsDoc, initdb, pgHba: pgHbaBoot, users, ...scripts },
    postgresql,
    watchdog,
    tags,
    log: logSection.raw,
  };
  return { config, warnings };
}

/**
 * Reads and parses a configuration file (or YAML text when the argument contains a newline).
 * Warns when a file that its group or others can read holds passwords.
 *
 * @example
 * ```ts
 * import { loadConfig } from '@pgtools/ha-agent';
 * const { config, warnings } = await loadConfig('/etc/patroni/config.yml');
 * for (const w of warnings) console.error('WARNING:', w);
 * ```
 */
export async function loadConfig(pathOrText: string, env: Record<string, string | undefined> = process.env): Promise<ParsedConfig> {
  if (pathOrText.includes('\n')) return parseConfig(pathOrText, env);
  let text: string;
  let mode: number;
  try {
    text = await readFile(pathOrText, 'utf8');
    mode = (await stat(pathOrText)).mode;
  } catch (err) {
    throw new PgToolsError('config_unreadable', `cannot read configuration file ${pathOrText}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = parseConfig(text, env);
  const warning = secretsReadableWarning(pathOrText, mode, text);
  if (warning) parsed.warnings.push(warning);
  return parsed;
}

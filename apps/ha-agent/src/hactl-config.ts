import { readFile, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PgToolsError } from '@pgtools/core';
import { applyEnvOverrides, ETCD_V2_ADVICE } from '@pgtools/ha-agent';
import { parse as parseYaml } from 'yaml';

/**
 * What hactl needs from a Patroni configuration file: where etcd is, which cluster, and how to
 * talk to the members' REST APIs. Unlike the agent, hactl reads any Patroni YAML (a full node
 * configuration or a small `patronictl.yaml`), as patronictl does.
 *
 * @example
 * ```ts
 * import type { CtlConfig } from './hactl-config.js';
 * const c: CtlConfig = { scope: 'demo', namespace: '/service/', etcd: { hosts: ['127.0.0.1:2379'], protocol: 'http' }, rest: { insecure: false } };
 * ```
 */
export interface CtlConfig {
  scope?: string;
  namespace: string;
  /** Undefined when neither the file nor `-d` names an etcd. */
  etcd?: {
    hosts: string[];
    protocol: 'http' | 'https';
    username?: string;
    password?: string;
    cacert?: string;
    cert?: string;
    key?: string;
  };
  rest: {
    /** Basic auth for the members' REST APIs (`ctl.authentication` or `restapi.authentication`). */
    auth?: { username: string; password: string };
    /** Paths, as in the file. */
    cafile?: string;
    certfile?: string;
    keyfile?: string;
    keyfilePassword?: string;
    /** `-k` / `ctl.insecure`: do not verify the servers' certificates. */
    insecure: boolean;
  };
}

/**
 * patronictl's default configuration file: `~/.config/patroni/patronictl.yaml`.
 *
 * @example
 * ```ts
 * defaultConfigPath(); // '/home/me/.config/patroni/patronictl.yaml'
 * ```
 */
export function defaultConfigPath(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'patroni', 'patronictl.yaml');
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(message: string): PgToolsError {
  return new PgToolsError('invalid_config', message);
}

function str(section: Obj, key: string, path: string): string | undefined {
  const v = section[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  throw invalid(`${path}.${key}: must be a string`);
}

function credentials(section: Obj, path: string): { username: string; password: string } | undefined {
  const a = section.authentication;
  if (isObj(a)) {
    const username = str(a, 'username', `${path}.authentication`);
    const password = str(a, 'password', `${path}.authentication`) ?? '';
    if (username !== undefined) return { username, password };
  }
  const auth = str(section, 'auth', path);
  if (auth !== undefined) {
    const i = auth.indexOf(':');
    return i < 0 ? { username: auth, password: '' } : { username: auth.slice(0, i), password: auth.slice(i + 1) };
  }
  return undefined;
}

/**
 * Reads `-d/--dcs-url` the way patronictl's `parse_dcs` does: `host:port`, `etcd3://host:port`
 * (also `etcd://`, `http(s)://`), default port 2379.
 *
 * @example
 * ```ts
 * parseDcsUrl('etcd3://10.0.0.1:2379'); // { hosts: ['10.0.0.1:2379'], protocol: 'http' }
 * parseDcsUrl('10.0.0.1'); // { hosts: ['10.0.0.1:2379'], protocol: 'http' }
 * ```
 */
export function parseDcsUrl(dcsUrl: string): NonNullable<CtlConfig['etcd']> {
  const withSlashes = dcsUrl.includes('//') ? dcsUrl : `//${dcsUrl}`;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*)?:?\/\/([^/?#]*)/.exec(withSlashes);
  if (!m) throw invalid(`invalid DCS URL: ${dcsUrl}`);
  const scheme = (m[1] ?? '').toLowerCase();
  if (!['', 'etcd', 'etcd3', 'http', 'https'].includes(scheme)) {
    throw invalid(`Unknown dcs scheme: ${scheme} (hactl works with etcd: use etcd3://host:port)`);
  }
  const hostPort = (m[2] ?? '').replace(/^.*@/, '');
  const hosts = hostPort
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean)
    .map((h) => (/:\d+$/.test(h) && !/^\[[^\]]*\]$/.test(h) ? h : `${h}:2379`));
  return { hosts: hosts.length > 0 ? hosts : ['localhost:2379'], protocol: scheme === 'https' ? 'https' : 'http' };
}

/**
 * Builds the hactl configuration from a parsed YAML document, `PATRONI_*` variables and `-d`.
 * Throws `PgToolsError` `invalid_config` for an `etcd:` (v2) section without `-d`, another DCS,
 * or values of the wrong type. Passwords never appear in messages.
 *
 * @example
 * ```ts
 * ctlConfigFromDocument({ scope: 'demo', etcd3: { hosts: '127.0.0.1:2379' } }, {});
 * ```
 */
export function ctlConfigFromDocument(doc: unknown, env: Record<string, string | undefined>, dcsUrl?: string, insecure = false): CtlConfig {
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) throw invalid('configuration: the top level must be a mapping');
  let merged: Obj;
  try {
    merged = applyEnvOverrides(doc, env);
  } catch (err) {
    // With -d the DCS sections and variables are replaced anyway.
    if (dcsUrl === undefined) throw err;
    merged = applyEnvOverrides(doc, Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('PATRONI_ETCD_'))));
  }
  const scope = merged.scope === undefined || merged.scope === null ? undefined : String(merged.scope);
  const namespace = merged.namespace === undefined || merged.namespace === null ? '/service/' : String(merged.namespace);

  let etcd: CtlConfig['etcd'];
  if (dcsUrl !== undefined) {
    etcd = parseDcsUrl(dcsUrl);
  } else if (isObj(merged.etcd3)) {
    const e = merged.etcd3;
    const raw = e.hosts ?? e.host;
    const hosts = (Array.isArray(raw) ? raw.map(String) : raw === undefined || raw === null ? [] : String(raw).split(',')).map((h) => h.trim()).filter(Boolean);
    if (hosts.length === 0) throw invalid('etcd3.hosts: is required (or pass -d etcd3://host:port)');
    const protocol = str(e, 'protocol', 'etcd3') ?? 'http';
    if (protocol !== 'http' && protocol !== 'https') throw invalid(`etcd3.protocol: must be http or https, got "${protocol}"`);
    etcd = { hosts, protocol };
    for (const key of ['username', 'password', 'cacert', 'cert', 'key'] as const) {
      const v = str(e, key, 'etcd3');
      if (v !== undefined) etcd[key] = v;
    }
  } else if (merged.etcd !== undefined) {
    throw invalid(`etcd: the etcd v2 API is not supported; ${ETCD_V2_ADVICE}`);
  } else {
    for (const other of ['consul', 'zookeeper', 'exhibitor', 'kubernetes', 'raft']) {
      if (merged[other] !== undefined)
        throw invalid(`${other}: is not supported; hactl reads the cluster from etcd (an etcd3: section or -d etcd3://host:port)`);
    }
  }

  const ctl = isObj(merged.ctl) ? merged.ctl : {};
  const restapi = isObj(merged.restapi) ? merged.restapi : {};
  const rest: CtlConfig['rest'] = { insecure: insecure || ctl.insecure === true };
  const auth = credentials(ctl, 'ctl') ?? credentials(restapi, 'restapi');
  if (auth) rest.auth = auth;
  const cafile = str(ctl, 'cacert', 'ctl') ?? str(restapi, 'cafile', 'restapi');
  if (cafile) rest.cafile = cafile;
  const certfile = str(ctl, 'certfile', 'ctl') ?? str(restapi, 'certfile', 'restapi');
  if (certfile) {
    rest.certfile = certfile;
    const keyfile = str(ctl, 'keyfile', 'ctl') ?? str(restapi, 'keyfile', 'restapi');
    if (keyfile) rest.keyfile = keyfile;
    const keyPassword = str(ctl, 'keyfile_password', 'ctl') ?? str(restapi, 'keyfile_password', 'restapi');
    if (keyPassword) rest.keyfilePassword = keyPassword;
  }
  const out: CtlConfig = { namespace, rest };
  if (scope !== undefined) out.scope = scope;
  if (etcd) out.etcd = etcd;
  return out;
}

/**
 * Loads hactl's configuration like patronictl: `-c FILE` (or `PATRONICTL_CONFIG_FILE`, default
 * `~/.config/patroni/patronictl.yaml`, silently skipped when absent), `PATRONI_*` variables,
 * then `-d/--dcs-url` (or `DCS_URL`) replacing the file's etcd settings.
 *
 * @example
 * ```ts
 * const config = await loadCtlConfig({ configFile: '/etc/patroni/config.yml' });
 * config.etcd?.hosts; // ['10.0.0.1:2379', ...]
 * ```
 */
export async function loadCtlConfig(options: {
  configFile?: string;
  dcsUrl?: string;
  insecure?: boolean;
  env?: Record<string, string | undefined>;
}): Promise<CtlConfig> {
  const env = options.env ?? process.env;
  const explicit = options.configFile ?? env.PATRONICTL_CONFIG_FILE;
  const path = explicit ?? defaultConfigPath(env);
  let text: string | undefined;
  try {
    await access(path, constants.R_OK);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (explicit !== undefined) {
      throw new PgToolsError('invalid_config', `Provided config file ${path} not existing or no read rights. Check the -c/--config-file parameter`, {
        cause: err,
      });
    }
  }
  let doc: unknown = {};
  if (text !== undefined) {
    try {
      doc = parseYaml(text, { version: '1.1' });
    } catch (err) {
      throw new PgToolsError('invalid_config', `${path}: not valid YAML: ${((err as Error).message.split('\n')[0] ?? '').trim()}`, { cause: err });
    }
  }
  return ctlConfigFromDocument(doc, env, options.dcsUrl ?? (env.DCS_URL || undefined), options.insecure ?? false);
}

import { commandWords, pythonStr } from './command-config.js';
import { describe, invalid, isObj, type Section } from './config-reader.js';
import { shlexSplit } from './shlex-split.js';

/** The built-in replica creation method (Patroni's name for it): `pg_basebackup` from the clone source. */
export const BASEBACKUP_METHOD = 'basebackup';

/**
 * pg_basebackup options the agent sets itself or that would not leave a plain data directory
 * (Patroni's `not_allowed_options` in patroni/postgresql/bootstrap.py `basebackup`). `compress`
 * is allowed only with server-side compression (`server-gzip`...), as Patroni does on PostgreSQL 15+.
 */
export const BASEBACKUP_REFUSED_OPTIONS = [
  'pgdata',
  'format',
  'wal-method',
  'xlog-method',
  'gzip',
  'version',
  'dbname',
  'host',
  'port',
  'username',
  'password',
] as const;

/** The keys of a method's section that steer Patroni itself (they are passed on too, unless `no_params`). */
const SPECIAL_KEYS = ['no_params', 'keep_data', 'no_leader'] as const;

/**
 * `postgresql` keys that hold the agent's own settings: a replica method of that name would read
 * its section from them.
 */
const RESERVED_METHOD_NAMES = [
  'authentication',
  'parameters',
  'callbacks',
  'pg_hba',
  'pg_ident',
  'recovery_conf',
  'create_replica_methods',
  'create_replica_method',
];

/** `postgresql.basebackup` (and the default method): pg_basebackup with the user's `--key=value` options. */
export interface BasebackupMethod {
  kind: 'basebackup';
  name: typeof BASEBACKUP_METHOD;
  /** Long options as given, e.g. `['--max-rate=100M', '--verbose']`. */
  options: string[];
}

/** A user-defined method `postgresql.<name>`: a command run with `--key=value` parameters. */
export interface CommandMethod {
  kind: 'command';
  name: string;
  /** `command` (else the method name) split like Python's `shlex.split`. */
  command: string[];
  /** The section's other keys in their order, values formatted as Patroni formats them (`True`, `1`). */
  params: Array<[string, string]>;
  /** Do not add `--scope`, `--role`, `--datadir`, `--connstring` (nor pass `no_params`/`keep_data`/`no_leader`). */
  noParams: boolean;
  /** Do not empty the data directory before the method or after it failed. */
  keepData: boolean;
  /** Runs without a leader (restore from a backup); `--connstring` is then empty. */
  noLeader: boolean;
}

export type ReplicaMethod = BasebackupMethod | CommandMethod;

/** The methods when none are configured: pg_basebackup with the agent's own options only. */
export const DEFAULT_REPLICA_METHODS: readonly ReplicaMethod[] = [{ kind: 'basebackup', name: BASEBACKUP_METHOD, options: [] }];

/** How this node makes a replica: the methods tried in order. */
export interface ReplicaConfig {
  methods: ReplicaMethod[];
  /** pg_basebackup with the `postgresql.basebackup` options, listed or not: what `reinit --from-leader` runs alone. */
  basebackup?: BasebackupMethod;
}

/** Patroni's truthiness for `keep_data` / `no_params` / `no_leader` (`no_leader: 1` in its docs). */
function flag(s: Section, key: string): boolean {
  const v = s.value(key);
  if (v === undefined || v === null) return false;
  if (typeof v === 'number') return v !== 0;
  return s.bool(key) ?? false;
}

/** A parameter value as Python's `str()` prints it (the value Patroni passes). */
function paramValue(s: Section, key: string, v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return pythonStr(v);
  throw invalid(s.key(key), `must be a string, number or boolean (passed as --${key}=value), got ${describe(v)}`);
}

function commandMethod(p: Section, name: string): CommandMethod {
  const s = p.section(name);
  let commandLine = name;
  const params: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(s.raw)) {
    if (key === 'command') {
      commandLine = s.requiredString('command');
      continue;
    }
    if (value === null || value === undefined) throw invalid(s.key(key), 'has no value (it would be passed as --key=None)');
    params.push([key, paramValue(s, key, value)]);
  }
  const command = commandWords(s.key('command'), commandLine);
  const [noParams, keepData, noLeader] = SPECIAL_KEYS.map((k) => flag(s, k)) as [boolean, boolean, boolean];
  return { kind: 'command', name, command, params, noParams, keepData, noLeader };
}

/** Like Patroni's `unquote`: a value that is one quoted word loses its quotes. */
function unquote(value: string): string {
  try {
    const words = shlexSplit(value);
    return words.length === 1 && words[0] !== undefined ? words[0] : value;
  } catch {
    return value;
  }
}

function basebackupOption(path: string, rawKey: string, value: unknown): string {
  const key = rawKey.replace(/^--/, '');
  if (key.length < 2) throw invalid(path, `option "${rawKey}": give pg_basebackup's long option name (e.g. max-rate), not a short one`);
  if ((BASEBACKUP_REFUSED_OPTIONS as readonly string[]).includes(key)) {
    throw invalid(path, `option "${key}" is set by the agent (or would not leave a data directory PostgreSQL can start from) and may not be given`);
  }
  if (value === undefined) {
    if (key === 'compress') throw invalid(path, 'option "compress" needs a value (server-side compression, e.g. server-gzip)');
    return `--${key}`;
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw invalid(`${path}.${key}`, `must be a string or number (list a flag as \`- ${key}\`), got ${describe(value)}`);
  }
  const text = unquote(String(value));
  if (text === '') throw invalid(`${path}.${key}`, `has no value (list a flag as \`- ${key}\`)`);
  // Client-side compression would leave a compressed tar, not a data directory.
  if (key === 'compress' && !text.startsWith('server'))
    throw invalid(`${path}.${key}`, `only server-side compression is allowed (server-gzip, server-lz4, server-zstd), got "${text}"`);
  return `--${key}=${text}`;
}

/**
 * `postgresql.basebackup`: a list of flags and single-key mappings, or one mapping (Patroni's
 * `process_user_options`), as pg_basebackup long options.
 *
 * @example
 * ```ts
 * // basebackup: [verbose, {max-rate: 100M}]
 * parseBasebackupOptions(p); // ['--verbose', '--max-rate=100M']
 * ```
 */
export function parseBasebackupOptions(p: Section): string[] {
  const path = p.key(BASEBACKUP_METHOD);
  const raw = p.value(BASEBACKUP_METHOD);
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) {
    return raw.map((item, i) => {
      if (typeof item === 'string') return basebackupOption(`${path}[${i}]`, item, undefined);
      if (isObj(item) && Object.keys(item).length === 1) {
        const [k, v] = Object.entries(item)[0] as [string, unknown];
        return basebackupOption(`${path}[${i}]`, k, v);
      }
      throw invalid(`${path}[${i}]`, `must be an option name or a single-key mapping, got ${describe(item)}`);
    });
  }
  if (isObj(raw)) return Object.entries(raw).map(([k, v]) => basebackupOption(path, k, v ?? ''));
  throw invalid(path, `must be a list or a mapping of pg_basebackup options, got ${describe(raw)}`);
}

/**
 * Reads `postgresql.create_replica_methods` (alias `create_replica_method`), each method's
 * section `postgresql.<method>` and `postgresql.basebackup`. Without methods the built-in
 * `basebackup` is the only one. A method name that is not a string, a section that is not a
 * mapping, a command that does not split into words and a refused pg_basebackup option are refused.
 *
 * @example
 * ```ts
 * // postgresql: {create_replica_methods: [pgbackrest, basebackup], pgbackrest: {command: 'pgbackrest restore', no_params: true}}
 * parseReplicaConfig(p).methods.map((m) => m.name); // ['pgbackrest', 'basebackup']
 * ```
 */
export function parseReplicaConfig(p: Section): ReplicaConfig {
  const basebackup: BasebackupMethod = { kind: 'basebackup', name: BASEBACKUP_METHOD, options: parseBasebackupOptions(p) };
  const listKey = p.has('create_replica_methods') ? 'create_replica_methods' : 'create_replica_method';
  const raw = p.value(listKey);
  p.value('create_replica_methods');
  if (raw === undefined || raw === null) return { methods: [basebackup], basebackup };
  if (!Array.isArray(raw)) throw invalid(p.key(listKey), `must be a list of method names, got ${describe(raw)}`);
  if (raw.length === 0) return { methods: [basebackup], basebackup };
  const methods = raw.map((name, i): ReplicaMethod => {
    if (typeof name !== 'string' || name.trim() === '') throw invalid(`${p.key(listKey)}[${i}]`, `must be a method name, got ${describe(name)}`);
    if (name === BASEBACKUP_METHOD) return basebackup;
    if (RESERVED_METHOD_NAMES.includes(name))
      throw invalid(`${p.key(listKey)}[${i}]`, `"${name}" is a postgresql setting, not a method section; name the method differently`);
    return commandMethod(p, name);
  });
  return { methods, basebackup };
}

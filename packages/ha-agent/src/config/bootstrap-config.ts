import { commandWords, pythonStr } from './command-config.js';
import { describe, invalid, isObj, type Section } from './config-reader.js';

type Setting = string | number | boolean;

/**
 * A custom `bootstrap.method` (Patroni's `_custom_bootstrap`): a command that fills the data dir,
 * run instead of initdb.
 */
export interface CustomBootstrap {
  /** The method's name (`bootstrap.method`), also the name of its section. */
  name: string;
  /** `command`: the command line (split like Patroni's `shlex.split`). */
  command: string;
  /** `no_params`: do not pass `--scope` and `--datadir`. */
  noParams: boolean;
  /** `keep_existing_recovery_conf`: keep the signal files and recovery settings the command left. */
  keepExistingRecoveryConf: boolean;
  /** `recovery_conf`: recovery settings written with `recovery.signal` before the first start. */
  recoveryConf?: Record<string, Setting>;
  /** Every other key of the section, passed as `--key=value` in the order written. */
  extraArgs: string[];
}

/** The bootstrap section's scripts: the method (undefined = initdb) and `post_bootstrap`. */
export interface BootstrapScripts {
  method?: CustomBootstrap;
  /** `post_bootstrap` (or its older name `post_init`): run after the new cluster first starts. */
  postBootstrap?: string;
}

// Keys of a method section that are not passed as `--key=value` (Patroni's `reserved_args`);
// `scope` and `datadir` are dropped because the agent passes them itself.
const RESERVED = new Set(['command', 'no_params', 'keep_existing_recovery_conf', 'recovery_conf', 'scope', 'datadir']);

function commandLine(key: string, value: unknown): string {
  commandWords(key, value);
  return value as string;
}

function recoveryConf(s: Section, key: string): Record<string, Setting> | undefined {
  const raw = s.value(key);
  if (raw === undefined || raw === null) return undefined;
  if (!isObj(raw)) throw invalid(s.key(key), `must be a mapping of recovery settings, got ${describe(raw)}`);
  const out: Record<string, Setting> = {};
  for (const [name, value] of Object.entries(raw)) {
    const path = `${s.key(key)}.${name}`;
    if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) throw invalid(path, 'is not a setting name');
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw invalid(path, `must be a string, number or boolean, got ${describe(value)}`);
    }
    out[name] = value;
  }
  // standby.signal: the new cluster would stay a standby and the bootstrap never end.
  const standby = out.standby_mode;
  if (standby === true || (typeof standby === 'string' && ['on', 'true', 'yes', '1'].includes(standby.toLowerCase()))) {
    throw invalid(`${s.key(key)}.standby_mode`, 'would keep the bootstrapped cluster a standby forever; use recovery_target_action: promote');
  }
  delete out.standby_mode;
  return out;
}

function customMethod(b: Section, name: string, warnings: string[]): CustomBootstrap {
  if (!b.has(name)) throw invalid(b.key('method'), `names "${name}" but there is no bootstrap.${name} section with its command`);
  const s = b.section(name);
  const command = commandLine(s.key('command'), s.value('command'));
  const noParams = s.bool('no_params') ?? false;
  const keepExistingRecoveryConf = s.bool('keep_existing_recovery_conf') ?? false;
  const recovery = recoveryConf(s, 'recovery_conf');
  const extraArgs: string[] = [];
  for (const [key, value] of Object.entries(s.raw)) {
    if (RESERVED.has(key)) {
      if (key === 'scope' || key === 'datadir') warnings.push(`${s.key(key)}: set by the agent (--${key}), ignored`);
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw invalid(s.key(key), `must be a string, number or boolean (passed as --${key}=value), got ${describe(value)}`);
    }
    extraArgs.push(`--${key}=${pythonStr(value)}`);
  }
  return { name, command, noParams, keepExistingRecoveryConf, ...(recovery ? { recoveryConf: recovery } : {}), extraArgs };
}

/**
 * Reads `bootstrap.method` with its section and `bootstrap.post_bootstrap` / `post_init`
 * (Patroni's `bootstrap.py`). `method: initdb` or none is the default. A method without a section
 * or a section without `command` is refused naming the key (Patroni would silently run initdb).
 *
 * @example
 * ```ts
 * // bootstrap: {method: restore, restore: {command: /usr/local/bin/restore.sh, target: nightly}}
 * parseBootstrapScripts(b, warnings).method?.extraArgs; // ['--target=nightly']
 * ```
 */
export function parseBootstrapScripts(b: Section, warnings: string[]): BootstrapScripts {
  const out: BootstrapScripts = {};
  const method = b.string('method');
  if (method !== undefined && method.trim() !== '' && method !== 'initdb') {
    if (['dcs', 'pg_hba', 'users', 'post_bootstrap', 'post_init', 'method'].includes(method)) {
      throw invalid(b.key('method'), `"${method}" is a bootstrap setting, not a method name`);
    }
    out.method = customMethod(b, method, warnings);
  }
  // Patroni: `config.get('post_bootstrap') or config.get('post_init')`.
  const post = b.value('post_bootstrap') ?? b.value('post_init');
  const key = b.raw.post_bootstrap !== undefined && b.raw.post_bootstrap !== null ? 'post_bootstrap' : 'post_init';
  if (key === 'post_bootstrap' && b.value('post_init') !== undefined) warnings.push(`${b.key('post_init')}: post_bootstrap is set and wins, ignored`);
  if (post !== undefined && post !== null) out.postBootstrap = commandLine(b.key(key), post);
  return out;
}

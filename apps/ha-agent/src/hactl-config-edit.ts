import { PgToolsError } from '@pgtools/core';
import { parse as parseYaml } from 'yaml';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads one `-s`/`-p` value as patronictl does (`yaml.safe_load`, YAML 1.1: `on` is true,
 * `20` a number, empty or `null` removes the key).
 *
 * @example
 * ```ts
 * parseSettingValue('20'); // 20
 * parseSettingValue('null'); // null
 * ```
 */
export function parseSettingValue(text: string): unknown {
  try {
    const v: unknown = parseYaml(text, { version: '1.1' });
    return v === undefined ? null : v;
  } catch (err) {
    throw new PgToolsError('invalid_argument', `Invalid parameter value ${JSON.stringify(text)}: ${((err as Error).message.split('\n')[0] ?? '').trim()}`, {
      cause: err,
    });
  }
}

function setPath(config: Obj, path: string[], value: unknown, prefix: string[]): void {
  // PostgreSQL settings may contain dots (`pg_stat_statements.max`): never nest below parameters.
  const p = prefix.length === 2 && prefix[0] === 'postgresql' && prefix[1] === 'parameters' ? [path.join('.')] : path;
  const key = p[0] as string;
  if (p.length === 1) {
    if (value === null) delete config[key];
    else config[key] = value;
    return;
  }
  if (!isObj(config[key])) config[key] = {};
  const child = config[key] as Obj;
  setPath(child, p.slice(1), value, [...prefix, key]);
  if (Object.keys(child).length === 0) delete config[key];
}

/**
 * Applies `edit-config -s key.path=value` and `-p param=value` settings to a copy of the dynamic
 * configuration, exactly as patronictl's `apply_config_changes`: dotted paths, YAML values,
 * `null` removes, emptied sections disappear. Throws `invalid_argument` for a setting without `=`.
 *
 * @example
 * ```ts
 * applySettings({ ttl: 30 }, ['ttl=20'], ['max_connections=200']);
 * // { ttl: 20, postgresql: { parameters: { max_connections: 200 } } }
 * ```
 */
export function applySettings(data: Obj, settings: readonly string[], pgSettings: readonly string[] = []): Obj {
  const changed = structuredClone(data);
  const all = [...settings, ...pgSettings.map((v) => `postgresql.parameters.${v.trimStart()}`)];
  for (const pair of all) {
    const eq = pair.indexOf('=');
    if (!pair || eq < 0) throw new PgToolsError('invalid_argument', `Invalid parameter setting ${pair}`);
    const path = pair.slice(0, eq).trim().split('.');
    setPath(changed, path, parseSettingValue(pair.slice(eq + 1)), []);
  }
  return changed;
}

/**
 * Patroni's `patch_config`: merges `patch` into `config` in place (nested mappings merged,
 * `null` removes a key). Returns whether anything changed.
 *
 * @example
 * ```ts
 * const c = { ttl: 30, pause: true };
 * patchConfig(c, { ttl: 20, pause: null }); // true; c is { ttl: 20 }
 * ```
 */
export function patchConfig(config: Obj, patch: Obj): boolean {
  let changed = false;
  for (const [name, value] of Object.entries(patch)) {
    if (value === null || value === undefined) {
      if (name in config && config[name] !== null) changed = true;
      delete config[name];
    } else if (name in config) {
      if (isObj(value)) {
        if (isObj(config[name])) {
          if (patchConfig(config[name] as Obj, value)) changed = true;
        } else {
          config[name] = value;
          changed = true;
        }
      } else if (JSON.stringify(config[name]) !== JSON.stringify(value)) {
        config[name] = value;
        changed = true;
      }
    } else {
      config[name] = value;
      changed = true;
    }
  }
  return changed;
}

/**
 * Structural equality of two JSON-like values (key order ignored), to tell "Not changed".
 *
 * @example
 * ```ts
 * sameJson({ a: 1, b: 2 }, { b: 2, a: 1 }); // true
 * ```
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameJson(a[k], b[k]));
  }
  return false;
}

import { PgToolsError } from '@pgtools/core';
import { patroniKey } from './patroni-keys.js';

/** Refuses a configuration value, naming the key path (`bootstrap.dcs.ttl`). */
export function invalid(path: string, message: string, hint?: string): PgToolsError {
  return new PgToolsError('invalid_config', `${path}: ${message}`, hint ? { hint } : {});
}

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Typed accessors over one YAML mapping, collecting unknown keys as warnings. */
export class Section {
  private readonly seen = new Set<string>();
  constructor(
    readonly path: string,
    readonly raw: Obj,
  ) {}

  static of(parent: Section | null, key: string, value: unknown): Section {
    const path = parent && parent.path ? `${parent.path}.${key}` : key;
    if (value === undefined || value === null) return new Section(path, {});
    if (!isObj(value)) throw invalid(path, `must be a mapping, got ${describe(value)}`);
    return new Section(path, value);
  }

  key(k: string): string {
    return this.path ? `${this.path}.${k}` : k;
  }

  has(k: string): boolean {
    this.seen.add(k);
    return this.raw[k] !== undefined && this.raw[k] !== null;
  }

  value(k: string): unknown {
    this.seen.add(k);
    return this.raw[k];
  }

  section(k: string): Section {
    this.seen.add(k);
    return Section.of(this, k, this.raw[k]);
  }

  string(k: string): string | undefined {
    const v = this.value(k);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    // Never echo what may be a secret.
    throw invalid(this.key(k), `must be a string, got ${/password|secret/i.test(k) ? typeof v : describe(v)}`);
  }

  requiredString(k: string): string {
    const v = this.string(k);
    if (v === undefined || v.trim() === '') throw invalid(this.key(k), 'is required');
    return v;
  }

  int(k: string, options: { min?: number } = {}): number | undefined {
    const v = this.value(k);
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n)) throw invalid(this.key(k), `must be an integer, got ${describe(v)}`);
    if (options.min !== undefined && n < options.min) throw invalid(this.key(k), `must be at least ${options.min}, got ${n}`);
    return n;
  }

  bool(k: string): boolean | undefined {
    const v = this.value(k);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      const s = v.toLowerCase();
      if (['true', 'yes', 'on', '1', 'y'].includes(s)) return true;
      if (['false', 'no', 'off', '0', 'n'].includes(s)) return false;
    }
    throw invalid(this.key(k), `must be a boolean, got ${describe(v)}`);
  }

  stringList(k: string): string[] | undefined {
    const v = this.value(k);
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw invalid(this.key(k), `must be a list of strings, got ${describe(v)}`);
    return v.map((item, i) => {
      if (typeof item !== 'string') throw invalid(`${this.key(k)}[${i}]`, `must be a string, got ${describe(item)}`);
      return item;
    });
  }

  /**
   * Checks the keys nobody read against Patroni's key table: a refused key, or a limited one with
   * a value that would behave differently, throws naming the key; a warned one and an unknown one
   * (a typo) become warnings. `_legacy` is ignored (the table knows every Patroni key).
   */
  unknownKeys(warnings: string[], _legacy: readonly string[] = []): void {
    for (const k of Object.keys(this.raw)) {
      if (this.seen.has(k)) continue;
      const path = this.key(k);
      const row = patroniKey(path);
      const value = this.raw[k];
      if (row?.status === 'refused') throw invalid(path, `is not supported: ${row.note}`);
      if (row?.status === 'limited' && row.accepts) {
        if (!row.accepts(value)) throw invalid(path, `${describe(value)} is not supported: ${row.note}`);
      } else if (row?.status === 'warned') warnings.push(`${path}: not supported by pgtools, ignored (${row.note})`);
      else warnings.push(`${path}: unknown key, ignored`);
    }
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isObj(value)) return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** A `parameters:` mapping (PostgreSQL settings): strings, numbers and booleans; anything else is refused naming it. */
export function parameters(section: Section, key: string): Record<string, string | number | boolean> {
  const s = section.section(key);
  const out: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(s.raw)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[name] = value;
    else if (value !== null) throw invalid(s.key(name), `must be a string, number or boolean, got ${describe(value)}`);
  }
  return out;
}

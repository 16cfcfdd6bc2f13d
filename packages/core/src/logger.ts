/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/**
 * What pgtools libraries log through. Libraries never print: pass a logger to see
 * what they do (the apps pass one that writes to stderr or JSON lines).
 *
 * @example
 * ```ts
 * import type { Logger } from '@pgtools/core';
 * const logger: Logger = {
 *   debug: () => {},
 *   info: (msg, fields) => console.error(msg, fields ?? ''),
 *   warn: (msg, fields) => console.error('WARNING:', msg, fields ?? ''),
 *   error: (msg, fields) => console.error('ERROR:', msg, fields ?? ''),
 * };
 * ```
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const noop = (): void => {};

/**
 * The default logger: drops everything.
 *
 * @example
 * ```ts
 * import { silentLogger } from '@pgtools/core';
 * silentLogger.info('never shown');
 * ```
 */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** One log call, as a custom line format sees it. */
export interface LogRecord {
  time: Date;
  level: LogLevel;
  message: string;
  /** The call's fields after the logger's static fields (the call's win). */
  fields: LogFields;
}

/** Options of `createStreamLogger`. */
export interface StreamLoggerOptions {
  /** Lines below this level are dropped (default `info`). */
  level?: LogLevel;
  /** One JSON object per line: `time`, `level`, `message`, then the fields. */
  json?: boolean;
  /** Fields added to every line (service name, host...). */
  staticFields?: LogFields;
  /** Builds the line (without the newline) instead of the plain or JSON format. */
  format?: (record: LogRecord) => string;
  now?: () => Date;
}

const RESERVED = new Set(['time', 'level', 'message']);

// A log line must never throw: fields come from callers who may pass errors, bigints, cycles, getters that throw.
function jsonSafe(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'function') return `[Function${value.name ? ` ${value.name}` : ''}]`;
  if (typeof value === 'symbol') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth > 8) return '[Too deep]';
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof Error) {
      const out: Record<string, unknown> = { name: value.name, message: value.message };
      for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v, seen, depth + 1);
      if (value.cause !== undefined) out.cause = jsonSafe(value.cause, seen, depth + 1);
      return out;
    }
    if (Array.isArray(value)) return value.map((v) => jsonSafe(v, seen, depth + 1));
    if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonSafe(v, seen, depth + 1)]));
    if (value instanceof Set) return [...value].map((v) => jsonSafe(v, seen, depth + 1));
    if (ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return jsonSafe(toJSON.call(value), seen, depth + 1);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) out[k] = jsonSafe((value as Record<string, unknown>)[k], seen, depth + 1);
    return out;
  } catch (err) {
    return `[Unserializable: ${err instanceof Error ? err.message : 'error'}]`;
  } finally {
    seen.delete(value);
  }
}

/**
 * `JSON.stringify` for log lines that never throws: bigints become strings, cycles `"[Circular]"`,
 * errors `{name, message, code, ..., cause}`, throwing getters or `toJSON` a `"[Unserializable: ...]"` marker.
 *
 * @example
 * ```ts
 * import { stringifyLogValue } from '@pgtools/core';
 * const a: Record<string, unknown> = { n: 1n };
 * a.self = a;
 * stringifyLogValue(a); // '{"n":"1","self":"[Circular]"}'
 * ```
 */
export function stringifyLogValue(value: unknown): string {
  try {
    return JSON.stringify(jsonSafe(value, new WeakSet(), 0)) ?? 'null';
  } catch {
    return '"[Unserializable]"';
  }
}

function jsonLine(record: LogRecord): string {
  const entry: Record<string, unknown> = { time: record.time.toISOString(), level: record.level, message: record.message };
  // A field named like a reserved key must not hide what the call said.
  for (const [k, v] of Object.entries(record.fields)) entry[RESERVED.has(k) ? `field.${k}` : k] = v;
  return stringifyLogValue(entry);
}

function plainLine(record: LogRecord): string {
  const prefix = record.level === 'info' ? 'INFO' : record.level.toUpperCase();
  const extra = Object.keys(record.fields).length > 0 ? ` ${stringifyLogValue(record.fields)}` : '';
  return `${prefix}: ${record.message}${extra}`;
}

/**
 * A logger that writes one line per message to a stream: plain text (`INFO: message {fields}`),
 * JSON lines, or a custom format. Never throws on odd fields (circular, bigint, errors) and never
 * lets a failing custom format or stream take the caller down. Meant for the apps; libraries take
 * whatever logger they are given.
 *
 * @example
 * ```ts
 * import { createStreamLogger } from '@pgtools/core';
 * const logger = createStreamLogger(process.stderr, { level: 'info', json: true, staticFields: { service: 'demo' } });
 * logger.warn('lock not obtained', { table: 'public.orders', waitedMs: 1500n });
 * // {"time":"...","level":"warn","message":"lock not obtained","service":"demo","table":"public.orders","waitedMs":"1500"}
 * ```
 */
export function createStreamLogger(stream: { write(chunk: string): unknown }, options: StreamLoggerOptions = {}): Logger {
  const min = LEVELS.indexOf(options.level ?? 'info');
  const now = options.now ?? (() => new Date());
  const format = options.format ?? (options.json ? jsonLine : plainLine);
  const emit =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (LEVELS.indexOf(level) < min) return;
      const record: LogRecord = { time: now(), level, message: String(message), fields: { ...options.staticFields, ...fields } };
      let line: string;
      try {
        line = format(record);
      } catch (err) {
        line = jsonLine({ ...record, fields: { ...record.fields, logFormatError: err instanceof Error ? err.message : String(err) } });
      }
      try {
        stream.write(`${line}\n`);
      } catch {
        // A closed or broken log stream must not turn a log call into a crash of the HA loop.
      }
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

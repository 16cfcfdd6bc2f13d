import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createStreamLogger, stringifyLogValue, type LogFields, type LogRecord, type Logger } from '@pgtools/core';
import type { AgentLogSettings } from './agent-log-settings.js';
import { PY_ATTRIBUTES, pyAttributes, pyFormatNames, renderPyFormat } from './python-log-format.js';

type Sink = { write(chunk: string): unknown };

/** Patroni's file name, so log shipping set up for Patroni keeps finding the file. */
export const LOG_FILE_NAME = 'patroni.log';

/**
 * Appends to `dir/patroni.log` and rotates like Python's RotatingFileHandler: before a write that
 * would pass `maxBytes`, `patroni.log.N-1` becomes `.N` ... and `patroni.log` becomes `.1`.
 * Synchronous on purpose: a line logged just before the process dies must be on disk.
 *
 * @example
 * ```ts
 * const file = openRotatingLog('/var/log/ha-agent', 25_000_000, 4);
 * file.write('hello\n');
 * file.close();
 * ```
 */
export function openRotatingLog(dir: string, maxBytes: number, backups: number): Sink & { close(): void; path: string } {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOG_FILE_NAME);
  let fd = openSync(path, 'a', 0o600);
  let size = fstatSync(fd).size;
  const rotate = (): void => {
    closeSync(fd);
    if (backups > 0) {
      rmSync(`${path}.${backups}`, { force: true });
      for (let i = backups - 1; i >= 1; i--) {
        try {
          renameSync(`${path}.${i}`, `${path}.${i + 1}`);
        } catch {
          // Not there yet: fewer rotations so far than backups kept.
        }
      }
      renameSync(path, `${path}.1`);
    } else {
      rmSync(path, { force: true });
    }
    fd = openSync(path, 'a', 0o600);
    size = 0;
  };
  return {
    path,
    write(chunk: string): void {
      const bytes = Buffer.byteLength(chunk);
      if (maxBytes > 0 && size > 0 && size + bytes > maxBytes) rotate();
      writeSync(fd, chunk);
      size += bytes;
    },
    close(): void {
      closeSync(fd);
    },
  };
}

function jsonFormat(settings: AgentLogSettings, startedAt: number): ((r: LogRecord) => string) | undefined {
  const spec = settings.format;
  if (spec === undefined && settings.dateformat === undefined) return undefined;
  // Each entry: [Python attribute, key in the JSON object].
  const keys: Array<[string, string]> =
    spec === undefined
      ? [
          ['asctime', 'time'],
          ['levelname', 'level'],
          ['message', 'message'],
        ]
      : typeof spec === 'string'
        ? pyFormatNames(spec).map((n) => [n, n])
        : spec.flatMap((item) => (typeof item === 'string' ? [[item, item] as [string, string]] : Object.entries(item)));
  const known = new Set<string>(PY_ATTRIBUTES);
  return (record) => {
    const attrs = pyAttributes(record, { name: 'ha-agent', dateformat: settings.dateformat, startedAt });
    const out: LogFields = {};
    for (const [attr, key] of keys) if (known.has(attr)) out[key] = spec === undefined && attr === 'levelname' ? record.level : attrs[attr];
    for (const [k, v] of Object.entries(record.fields)) out[k in out ? `field.${k}` : k] = v;
    return stringifyLogValue(out);
  };
}

/** Patroni's default plain format: operators (and timing evidence) need the time on every line. */
const PATRONI_PLAIN_FORMAT = '%(asctime)s %(levelname)s: %(message)s';

function plainFormat(settings: AgentLogSettings, startedAt: number): ((r: LogRecord) => string) | undefined {
  const spec = settings.format ?? PATRONI_PLAIN_FORMAT;
  if (typeof spec !== 'string') return undefined;
  return (record) => {
    const line = renderPyFormat(spec, pyAttributes(record, { name: 'ha-agent', dateformat: settings.dateformat, startedAt }));
    const extra = Object.keys(record.fields).length > 0 ? ` ${stringifyLogValue(record.fields)}` : '';
    return `${line}${extra}`;
  };
}

/** Attributes a format names that ha-agent cannot fill (Python's module, lineno...): said once at start. */
function unsupported(settings: AgentLogSettings): string[] {
  const spec = settings.format;
  if (spec === undefined) return [];
  const names = typeof spec === 'string' ? pyFormatNames(spec) : spec.flatMap((i) => (typeof i === 'string' ? [i] : Object.keys(i)));
  const known = new Set<string>(PY_ATTRIBUTES);
  return [...new Set(names.filter((n) => !known.has(n)))];
}

/**
 * The ha-agent CLI's logger from Patroni's `log:` settings: plain or JSON lines on stderr, or in
 * a rotated `patroni.log` under `log.dir`. `warnings` are about the settings themselves.
 *
 * @example
 * ```ts
 * const { logger, close } = createAgentLogger(agentLogSettings({ type: 'json' }), process.stderr);
 * logger.info('started', { scope: 'demo' });
 * close();
 * ```
 */
export function createAgentLogger(settings: AgentLogSettings, stderr: Sink): { logger: Logger; warnings: string[]; close(): void; file?: string } {
  const startedAt = Date.now();
  const file = settings.dir !== undefined ? openRotatingLog(settings.dir, settings.fileSize, settings.fileNum) : undefined;
  // The core JSON format already gives time/level/message; a Patroni format or dateformat takes over when set.
  const format = settings.type === 'json' ? jsonFormat(settings, startedAt) : plainFormat(settings, startedAt);
  // A failed (full) disk must not stop the agent: fall back to stderr, said once.
  let fileBroken = false;
  const sink: Sink = file
    ? {
        write(chunk: string): void {
          if (!fileBroken) {
            try {
              file.write(chunk);
              return;
            } catch (err) {
              fileBroken = true;
              stderr.write(`ha-agent: cannot write ${file.path} (${(err as Error).message}); logging to stderr from now on\n`);
            }
          }
          stderr.write(chunk);
        },
      }
    : stderr;
  const logger = createStreamLogger(sink, {
    level: settings.level,
    json: settings.type === 'json',
    ...(settings.type === 'json' && settings.staticFields ? { staticFields: settings.staticFields } : {}),
    ...(format ? { format } : {}),
  });
  const missing = unsupported(settings);
  const warnings =
    missing.length > 0
      ? [`log.format: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not available in ha-agent and will be empty or left out`]
      : [];
  return { logger, warnings, close: () => file?.close(), ...(file ? { file: file.path } : {}) };
}

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

/**
 * A logger that writes one line per message to a stream: plain text or JSON lines.
 * Meant for the apps; libraries take whatever logger they are given.
 *
 * @example
 * ```ts
 * import { createStreamLogger } from '@pgtools/core';
 * const logger = createStreamLogger(process.stderr, { level: 'info', json: false });
 * logger.warn('lock not obtained', { table: 'public.orders' });
 * ```
 */
export function createStreamLogger(
  stream: { write(chunk: string): unknown },
  options: { level?: LogLevel; json?: boolean; now?: () => Date } = {},
): Logger {
  const min = LEVELS.indexOf(options.level ?? 'info');
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel) => (message: string, fields?: LogFields): void => {
    if (LEVELS.indexOf(level) < min) return;
    if (options.json) {
      stream.write(`${JSON.stringify({ time: now().toISOString(), level, message, ...fields })}\n`);
      return;
    }
    const prefix = level === 'info' ? 'INFO' : level.toUpperCase();
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    stream.write(`${prefix}: ${message}${extra}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

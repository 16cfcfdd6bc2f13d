import type { LogLevel } from '@pgtools/core';

/** pg_repack's `-E/--elevel` levels (bin/pgut/pgut.c, parse_elevel). */
export const ELEVELS = ['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'LOG', 'FATAL', 'PANIC'] as const;
export type Elevel = (typeof ELEVELS)[number];

/** What kind of line the CLI prints; `log` is `--echo`'s statements (pg_repack prints them at LOG). */
export type LineKind = 'debug' | 'info' | 'warning' | 'error' | 'log';

/** How much the CLI prints: the library logger's level (or none) and which lines of ours are shown. */
export interface Verbosity {
  logger: LogLevel | 'silent';
  shows(kind: LineKind): boolean;
  /** Phase timings after each phase (`--echo`, or `-E DEBUG`). */
  phaseTimings: boolean;
}

/** Case-insensitive, like pg_repack; undefined for anything else. */
export function parseElevel(text: string): Elevel | undefined {
  const upper = text.trim().toUpperCase();
  return (ELEVELS as readonly string[]).includes(upper) ? (upper as Elevel) : undefined;
}

// pg_repack filters in log_min_messages order, where LOG sits between ERROR and FATAL
// (bin/pgut/pgut.c, log_required): -E LOG shows LOG lines and nothing below FATAL.
const ORDER: readonly Elevel[] = ['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'LOG', 'FATAL', 'PANIC'];
const KIND_LEVEL: Readonly<Record<LineKind, Elevel>> = { debug: 'DEBUG', info: 'INFO', warning: 'WARNING', error: 'ERROR', log: 'LOG' };

/**
 * The CLI's verbosity for `-E LEVEL` (pg_repack's default is INFO). Without `-E` the output is what it
 * always was: INFO and WARNING lines, the library's warnings, and with `--echo` its debug lines too.
 * `--echo`'s statements are LOG lines: pg_repack shows them at every level up to ERROR and at LOG.
 * A run that stops with an error always says why, whatever the level (pg_repack's ERROR aborts print too).
 *
 * @example
 * ```ts
 * verbosityOf('WARNING', false).shows('info'); // false
 * verbosityOf('LOG', true).shows('log');       // true
 * ```
 */
export function verbosityOf(elevel: Elevel | undefined, echo: boolean): Verbosity {
  const min = ORDER.indexOf(elevel ?? 'INFO');
  const shows = (kind: LineKind): boolean => {
    if (kind === 'log') return echo && (elevel === undefined || min <= ORDER.indexOf('LOG'));
    if (elevel === 'LOG') return false;
    return ORDER.indexOf(KIND_LEVEL[kind]) >= min;
  };
  if (elevel === undefined) return { logger: echo ? 'debug' : 'warn', shows, phaseTimings: echo };
  // The library's info lines repeat what the event lines already say: only DEBUG lets them through.
  // Its error lines repeat the summary of a failed table (and also name skipped ones): from ERROR up,
  // the CLI's own lines say it once.
  const logger: Verbosity['logger'] = elevel === 'DEBUG' ? 'debug' : min <= ORDER.indexOf('WARNING') ? 'warn' : 'silent';
  return { logger, shows, phaseTimings: echo || elevel === 'DEBUG' };
}

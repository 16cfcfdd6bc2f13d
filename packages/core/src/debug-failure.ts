import type { Logger } from './logger.js';

/**
 * A `.catch` handler for a best-effort step whose failure changes nothing for the caller (a
 * ROLLBACK after an error, a release, a stop, a write that only informs others): the failure is
 * logged at debug level with what failed, never silently dropped, and the promise resolves.
 *
 * @example
 * ```ts
 * import { debugFailure } from '@pgtools/core';
 * await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK after the failed copy'));
 * ```
 */
export function debugFailure(logger: Logger, what: string): (err: unknown) => undefined {
  return debugFailureOr(logger, what, undefined);
}

/**
 * `debugFailure` that answers `fallback` in place of the failed value.
 *
 * @example
 * ```ts
 * import { debugFailureOr } from '@pgtools/core';
 * const text = await readFile(path, 'utf8').catch(debugFailureOr(logger, `reading ${path}`, ''));
 * ```
 */
export function debugFailureOr<T>(logger: Logger, what: string, fallback: T): (err: unknown) => T {
  return (err) => {
    logger.debug(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
    return fallback;
  };
}

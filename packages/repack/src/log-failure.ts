import type { Logger } from '@pgtools/core';

/**
 * A rejection handler for best-effort steps (a ROLLBACK after an error, a release, a stop) whose
 * failure changes nothing for the run: it is logged at debug with what failed, then dropped.
 *
 * @example
 * ```ts
 * await client.query('ROLLBACK').catch(logFailure(logger, 'ROLLBACK after the failed copy'));
 * ```
 */
export function logFailure(logger: Logger, what: string): (err: unknown) => void {
  return (err) => logger.debug(`${what} failed`, { error: String(err) });
}

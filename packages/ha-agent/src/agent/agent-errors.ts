import { PgToolsError, type Logger } from '@pgtools/core';

/** An error's message, whatever was thrown. */
export const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A `PgToolsError`'s code, for events. */
export const errCode = (err: unknown): string | undefined => (err instanceof PgToolsError ? err.code : undefined);

/**
 * A `.catch` handler for a failure the agent carries on after (best-effort cleanup, a write that
 * only informs others): logged at debug level with what failed, so it is never silently lost.
 *
 * @example
 * ```ts
 * await dcs.clearFailover().catch(debugFailure(logger, 'clearing the failover key'));
 * ```
 */
export function debugFailure(logger: Logger, what: string): (err: unknown) => undefined {
  return debugFailureOr(logger, what, undefined);
}

/** `debugFailure` that answers `fallback` in place of the failed value. */
export function debugFailureOr<T>(logger: Logger, what: string, fallback: T): (err: unknown) => T {
  return (err) => {
    logger.debug(`${what} failed: ${errMessage(err)}`);
    return fallback;
  };
}

import { PgToolsError } from '@pgtools/core';

/** The timing inputs of the watchdog: the leader key TTL and the HA loop period, in seconds. */
export interface WatchdogTiming {
  ttl: number;
  loopWait: number;
  /** Seconds between the watchdog firing and the leader key expiring; -1 means `ttl / 2`. Default 5. */
  safetyMargin?: number;
}

/**
 * The watchdog timeout Patroni asks for: `ttl - safety_margin`, or `floor(ttl / 2)` when the
 * margin is -1. The machine must be reset before the leader key can expire and a replica promote.
 *
 * @example
 * ```ts
 * import { watchdogTimeout } from '@pgtools/watchdog';
 * watchdogTimeout({ ttl: 30, loopWait: 10 });                    // 25
 * watchdogTimeout({ ttl: 20, loopWait: 10, safetyMargin: -1 });  // 10
 * ```
 */
export function watchdogTimeout(timing: WatchdogTiming): number {
  checkTiming(timing);
  const margin = timing.safetyMargin ?? 5;
  return margin === -1 ? Math.floor(timing.ttl / 2) : timing.ttl - margin;
}

/**
 * Whether a timeout leaves room for one loop: a watchdog that fires before the next keepalive
 * could possibly arrive would reset a healthy primary, so such timeouts are refused.
 *
 * @example
 * ```ts
 * import { isTimeoutUsable } from '@pgtools/watchdog';
 * isTimeoutUsable(25, 10); // true
 * isTimeoutUsable(10, 10); // false
 * ```
 */
export function isTimeoutUsable(timeout: number, loopWait: number): boolean {
  return timeout > loopWait;
}

function checkTiming(timing: WatchdogTiming): void {
  const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!positive(timing.ttl)) throw new PgToolsError('invalid_watchdog_config', `watchdog ttl must be a positive number of seconds, got ${String(timing.ttl)}`);
  if (!positive(timing.loopWait)) {
    throw new PgToolsError('invalid_watchdog_config', `watchdog loop_wait must be a positive number of seconds, got ${String(timing.loopWait)}`);
  }
  const margin = timing.safetyMargin;
  if (margin !== undefined && (typeof margin !== 'number' || !Number.isInteger(margin) || (margin < 0 && margin !== -1))) {
    throw new PgToolsError('invalid_watchdog_config', `watchdog safety_margin must be a non-negative integer or -1, got ${String(margin)}`);
  }
}

import { PgToolsError, silentLogger, type Logger } from '@pgtools/core';
import type { WatchdogDriver } from './drivers/driver.js';
import { createLinuxDriver } from './drivers/linux-driver.js';
import { createTestingDriver } from './drivers/testing-driver.js';
import { parseWatchdogMode, type WatchdogMode } from './watchdog-mode.js';
import { isTimeoutUsable, watchdogTimeout } from './watchdog-timing.js';

/** Events a watchdog reports, for the agent's status output and tests. */
export type WatchdogEvent =
  | { type: 'activated'; device: string; timeout: number; timingSlack: number }
  | { type: 'activation_failed'; mode: WatchdogMode; error: PgToolsError }
  | { type: 'keepalive_failed'; device: string; message: string }
  | { type: 'disabled'; device: string };

export interface WatchdogOptions {
  /** `off`, `automatic` (default) or `required`; Patroni spellings and YAML booleans accepted. */
  mode?: WatchdogMode | string | boolean;
  /** Default `/dev/watchdog`. */
  device?: string;
  /** `default` = the Linux device; `testing` = Patroni's FIFO test harness at `testingFifo`. */
  driver?: 'default' | 'testing';
  testingFifo?: string;
  /** Leader key TTL, seconds. */
  ttl: number;
  /** HA loop period, seconds. */
  loopWait: number;
  /** Default 5; -1 means timeout = ttl / 2. */
  safetyMargin?: number;
  /** Path of util-linux `wdctl` (default: from PATH). */
  wdctl?: string;
  logger?: Logger;
  onEvent?: (event: WatchdogEvent) => void;
}

/** A watchdog as the HA loop uses it: armed before promotion, pinged after each lock refresh, disarmed on demote. */
export interface Watchdog {
  readonly mode: WatchdogMode;
  /** The timeout requested from the device, seconds. */
  readonly timeout: number;
  /** True while the device is open and armed. */
  readonly isRunning: boolean;
  /** False only in `required` mode when the device is unusable (what `/patroni` reports as `watchdog_failed`). */
  readonly isHealthy: boolean;
  /** Why the last activation failed (code `watchdog_unavailable` or `watchdog_unsafe_timeout`). */
  readonly lastError: PgToolsError | undefined;
  /**
   * Arms the device. Resolves true when the node may act as primary: the device is armed, or the
   * mode is `off`, or the mode is `automatic` (a missing device is logged and ignored). Resolves
   * false only in `required` mode when the device could not be armed; `lastError` says why.
   */
  activate(): Promise<boolean>;
  /** Pings an armed device; no-op otherwise. Returns false when the write failed (logged). */
  keepalive(): boolean;
  /** Magic close: disarms the device (demote, pause, shutdown). Safe to call when not running. */
  disable(): void;
  /** New ttl/loop_wait/safety_margin (dynamic config changed); re-arms a running device with the new timeout. */
  reconfigure(timing: { ttl: number; loopWait: number; safetyMargin?: number }): Promise<boolean>;
}

/**
 * Creates a watchdog with Patroni's semantics (modes, timeout = ttl - safety_margin, refused when
 * it does not exceed loop_wait). Never opens the device before `activate()`.
 *
 * @example
 * ```ts
 * import { createWatchdog } from '@pgtools/watchdog';
 * const wd = createWatchdog({ mode: 'automatic', ttl: 30, loopWait: 10 });
 * if (!(await wd.activate())) throw wd.lastError;   // before promoting
 * wd.keepalive();                                    // after each leader lock refresh
 * wd.disable();                                      // on demote / shutdown
 * ```
 */
export function createWatchdog(options: WatchdogOptions): Watchdog {
  const logger = options.logger ?? silentLogger;
  const emit = options.onEvent ?? (() => {});
  const mode = parseWatchdogMode(options.mode, logger);
  let timing = { ttl: options.ttl, loopWait: options.loopWait, safetyMargin: options.safetyMargin ?? 5 };
  let timeout = watchdogTimeout(timing);
  const driver: WatchdogDriver = makeDriver(options);
  let lastError: PgToolsError | undefined;

  const fail = (code: 'watchdog_unavailable' | 'watchdog_unsafe_timeout', message: string, cause?: unknown): boolean => {
    const error = new PgToolsError(code, message, cause === undefined ? {} : { cause });
    lastError = error;
    emit({ type: 'activation_failed', mode, error });
    if (mode === 'required') {
      logger.error(`Configuration requires a watchdog, but the watchdog could not be activated: ${message}`);
      return false;
    }
    logger.warn(`Could not activate watchdog, continuing without it: ${message}`);
    return true;
  };

  const activate = async (): Promise<boolean> => {
    if (mode === 'off') return true;
    if (driver.isRunning) return true;
    if (!isTimeoutUsable(timeout, timing.loopWait)) {
      driver.close();
      return fail(
        'watchdog_unsafe_timeout',
        `watchdog timeout ${timeout} s (ttl ${timing.ttl} - safety_margin ${timing.safetyMargin}) must exceed loop_wait ${timing.loopWait} s`,
      );
    }
    let actual: number | undefined;
    try {
      actual = await driver.start(timeout);
    } catch (err) {
      driver.close();
      return fail('watchdog_unavailable', `${driver.description}: ${(err as Error).message}`, err);
    }
    const effective = actual ?? timeout;
    if (actual === undefined) logger.warn(`could not read the timeout of ${driver.description}; assuming ${timeout} s`);
    if (!isTimeoutUsable(effective, timing.loopWait) || effective >= timing.ttl) {
      driver.close();
      return fail(
        'watchdog_unsafe_timeout',
        `${driver.description} runs with a ${effective} s timeout (requested ${timeout} s): it must exceed loop_wait ${timing.loopWait} s and stay below ttl ${timing.ttl} s`,
      );
    }
    if (effective !== timeout) logger.warn(`${driver.description} timeout is ${effective} s instead of the requested ${timeout} s`);
    lastError = undefined;
    const timingSlack = effective - timing.loopWait;
    logger.info(`${driver.description} activated with ${effective} second timeout, timing slack ${timingSlack} seconds`);
    emit({ type: 'activated', device: driver.description, timeout: effective, timingSlack });
    return true;
  };

  return {
    mode,
    get timeout() {
      return timeout;
    },
    get isRunning() {
      return driver.isRunning;
    },
    get isHealthy() {
      if (mode !== 'required') return true;
      return isTimeoutUsable(timeout, timing.loopWait) && (driver.isRunning || driver.isAccessible());
    },
    get lastError() {
      return lastError;
    },
    activate,
    keepalive() {
      if (!driver.isRunning) return true;
      try {
        driver.keepalive();
        return true;
      } catch (err) {
        const message = (err as Error).message;
        logger.error(`Could not send watchdog keepalive: ${message}`);
        emit({ type: 'keepalive_failed', device: driver.description, message });
        return false;
      }
    },
    disable() {
      if (!driver.isRunning) return;
      try {
        driver.close();
        logger.info(`${driver.description} disabled (magic close)`);
      } catch (err) {
        // The device may now fire: say so loudly, there is nothing else to do.
        logger.error(`Could not write the magic close to ${driver.description}: ${(err as Error).message}`);
      }
      emit({ type: 'disabled', device: driver.description });
    },
    async reconfigure(next) {
      timing = { ttl: next.ttl, loopWait: next.loopWait, safetyMargin: next.safetyMargin ?? timing.safetyMargin };
      const previous = timeout;
      timeout = watchdogTimeout(timing);
      if (!driver.isRunning || previous === timeout) return true;
      // The Linux device takes a new timeout only through wdctl, which needs the device closed.
      driver.close();
      return activate();
    },
  };
}

function makeDriver(options: WatchdogOptions): WatchdogDriver {
  if (options.driver === 'testing') {
    if (!options.testingFifo) throw new PgToolsError('invalid_watchdog_config', 'the testing watchdog driver needs testingFifo');
    return createTestingDriver({ path: options.testingFifo });
  }
  if (options.driver !== undefined && options.driver !== 'default') {
    throw new PgToolsError('invalid_watchdog_config', `unknown watchdog driver ${String(options.driver)}`);
  }
  return createLinuxDriver({ device: options.device ?? '/dev/watchdog', ...(options.wdctl ? { wdctl: options.wdctl } : {}) });
}

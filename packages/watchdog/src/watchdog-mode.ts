import type { Logger } from '@pgtools/core';

/** Patroni's watchdog modes. */
export type WatchdogMode = 'off' | 'automatic' | 'required';

/**
 * Reads a watchdog mode the way Patroni does: `require`/`required`, `auto`/`automatic`, and
 * everything else (including YAML 1.1's unquoted `off`, which arrives as `false`) means `off`;
 * unrecognised words are logged. `undefined` gives the default, `automatic`.
 *
 * @example
 * ```ts
 * import { parseWatchdogMode } from '@pgtools/watchdog';
 * parseWatchdogMode('required'); // 'required'
 * parseWatchdogMode(false);      // 'off'
 * ```
 */
export function parseWatchdogMode(value: unknown, logger?: Logger): WatchdogMode {
  if (value === undefined || value === null) return 'automatic';
  if (value === false) return 'off';
  if (value === true) return 'automatic';
  const mode = String(value).toLowerCase();
  if (mode === 'require' || mode === 'required') return 'required';
  if (mode === 'auto' || mode === 'automatic') return 'automatic';
  if (mode !== 'off' && mode !== 'disable' && mode !== 'disabled') {
    logger?.warn(`Watchdog mode ${String(value)} not recognized, disabling watchdog`);
  }
  return 'off';
}

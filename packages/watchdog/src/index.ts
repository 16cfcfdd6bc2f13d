export { createWatchdog } from './watchdog.js';
export type { Watchdog, WatchdogOptions, WatchdogEvent } from './watchdog.js';
export { parseWatchdogMode } from './watchdog-mode.js';
export type { WatchdogMode } from './watchdog-mode.js';
export { watchdogTimeout, isTimeoutUsable } from './watchdog-timing.js';
export type { WatchdogTiming } from './watchdog-timing.js';
export { parseWdctlTimeout } from './drivers/linux-driver.js';

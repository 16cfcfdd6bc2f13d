import { accessSync, constants, openSync } from 'node:fs';
import { closeQuietly, writeAll } from './fd-writer.js';
import type { WatchdogDriver } from './driver.js';

/**
 * Patroni's watchdog test harness (`features/watchdog.feature`): instead of ioctls, everything goes
 * to a named pipe or file the test reads: `Ctimeout=<n>\n` when the timeout is set, `1` per
 * keepalive, `V` on the magic close. Opening a FIFO does not wait for a reader (O_NONBLOCK): with no
 * reader the open fails like a missing device would.
 */
export function createTestingDriver(options: { path: string }): WatchdogDriver {
  const path = options.path;
  let fd: number | undefined;
  return {
    description: `testing watchdog ${path}`,
    get isRunning() {
      return fd !== undefined;
    },
    isAccessible() {
      try {
        accessSync(path, constants.W_OK);
        return true;
      } catch {
        return false;
      }
    },
    async start(timeout) {
      if (fd !== undefined) throw new Error(`watchdog ${path} is already open`);
      fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK);
      writeAll(fd, `Ctimeout=${timeout}\n`);
      return timeout;
    },
    keepalive() {
      if (fd === undefined) throw new Error(`watchdog ${path} is closed`);
      writeAll(fd, '1');
    },
    close() {
      if (fd === undefined) return;
      const current = fd;
      fd = undefined;
      try {
        writeAll(current, 'V');
      } finally {
        closeQuietly(current);
      }
    },
  };
}

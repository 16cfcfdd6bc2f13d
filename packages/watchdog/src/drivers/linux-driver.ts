import { execFile } from 'node:child_process';
import { accessSync, constants, openSync } from 'node:fs';
import { promisify } from 'node:util';
import { closeQuietly, writeAll } from './fd-writer.js';
import type { WatchdogDriver } from './driver.js';

const run = promisify(execFile);

export interface LinuxDriverOptions {
  device: string;
  /** The util-linux `wdctl` binary. Default `wdctl` from PATH. */
  wdctl?: string;
}

/**
 * The Linux watchdog device (`/dev/watchdog`, softdog or hardware). No native addon: the timeout is
 * set and read with util-linux `wdctl` before the device is opened, because the kernel lets only
 * one process hold the device open and `wdctl` needs to open it for the ioctls. Keepalive is a
 * write, disarming is the magic close `V`.
 */
export function createLinuxDriver(options: LinuxDriverOptions): WatchdogDriver {
  const wdctl = options.wdctl ?? 'wdctl';
  const device = options.device;
  let fd: number | undefined;
  return {
    description: device,
    get isRunning() {
      return fd !== undefined;
    },
    isAccessible() {
      try {
        accessSync(device, constants.W_OK);
        return true;
      } catch {
        return false;
      }
    },
    async start(timeout) {
      if (fd !== undefined) throw new Error(`watchdog device ${device} is already open`);
      // Fail early with a clear message instead of letting wdctl report "No such file".
      accessSync(device, constants.W_OK);
      await run(wdctl, ['-s', String(timeout), device], { timeout: 10_000 });
      const actual = await readTimeout(wdctl, device);
      // Never O_CREAT: a missing device must not become a regular file.
      fd = openSync(device, constants.O_WRONLY);
      return actual;
    },
    keepalive() {
      if (fd === undefined) throw new Error(`watchdog device ${device} is closed`);
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

/** Reads the timeout with `wdctl -O -I -F <dev>` (one line: `<dev>: TIMEOUT="15" ...`). */
async function readTimeout(wdctl: string, device: string): Promise<number | undefined> {
  const { stdout } = await run(wdctl, ['-O', '-I', '-F', device], { timeout: 10_000 });
  return parseWdctlTimeout(stdout);
}

/**
 * Extracts the timeout from `wdctl` output, one-line (`TIMEOUT="15"`) or table (`Timeout: 15 seconds`).
 *
 * @example
 * ```ts
 * import { parseWdctlTimeout } from '@pgtools/watchdog';
 * parseWdctlTimeout('/dev/watchdog: TIMEOUT="25" TIMELEFT="24"'); // 25
 * ```
 */
export function parseWdctlTimeout(output: string): number | undefined {
  const m = /\bTIMEOUT="(\d+)"/.exec(output) ?? /^Timeout:\s+(\d+)\s+second/m.exec(output);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

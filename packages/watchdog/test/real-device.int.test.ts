import { describe, expect, it } from 'vitest';
import { createWatchdog } from '../src/index.js';

// Opening a real watchdog and dying reboots the machine: this runs only when asked, on a disposable
// host with softdog loaded, e.g. PGTOOLS_TEST_REAL_WATCHDOG=/dev/watchdog.
const device = process.env.PGTOOLS_TEST_REAL_WATCHDOG;

describe.skipIf(!device)('real watchdog device (opt-in)', () => {
  it('arms, pings and disarms the device with the magic close', async () => {
    const wd = createWatchdog({ mode: 'required', device: device as string, ttl: 30, loopWait: 10 });
    try {
      expect(await wd.activate()).toBe(true);
      expect(wd.isRunning).toBe(true);
      expect(wd.keepalive()).toBe(true);
    } finally {
      wd.disable();
    }
    expect(wd.isRunning).toBe(false);
  });
});

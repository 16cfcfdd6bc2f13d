import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWatchdog, type WatchdogEvent } from '../src/index.js';
import { makeFifoDir, openFifoReader, type FifoReader } from './fifo-reader.js';

// These tests never touch /dev/watchdog: the testing driver writes to a FIFO in a temp dir, and the
// default driver is only pointed at paths inside the temp dir.

function recordingLogger() {
  const lines: string[] = [];
  const push = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  return { lines, logger: { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') } };
}

describe('testing driver on a real FIFO', () => {
  let tmp: ReturnType<typeof makeFifoDir>;
  let fifo: FifoReader | undefined;
  beforeEach(() => {
    tmp = makeFifoDir();
  });
  afterEach(() => {
    fifo?.close();
    fifo = undefined;
    tmp.remove();
  });

  it('writes the timeout, each keepalive and the magic close (ttl 20 -> 15 s, as in watchdog.feature)', async () => {
    fifo = openFifoReader(tmp.dir);
    const events: WatchdogEvent[] = [];
    const wd = createWatchdog({ mode: 'required', driver: 'testing', testingFifo: fifo.path, ttl: 20, loopWait: 10, onEvent: (e) => events.push(e) });
    expect(wd.isRunning).toBe(false);
    expect(await wd.activate()).toBe(true);
    expect(wd.isRunning).toBe(true);
    expect(wd.isHealthy).toBe(true);
    await fifo.waitFor((t) => t === 'Ctimeout=15\n');
    expect(wd.keepalive()).toBe(true);
    wd.keepalive();
    wd.keepalive();
    await fifo.waitFor((t) => t === 'Ctimeout=15\n111');
    wd.disable();
    expect(wd.isRunning).toBe(false);
    await fifo.waitFor((t) => t === 'Ctimeout=15\n111V');
    expect(wd.keepalive()).toBe(true); // no-op once disabled
    expect(fifo.text()).toBe('Ctimeout=15\n111V');
    expect(events.map((e) => e.type)).toEqual(['activated', 'disabled']);
    expect(events[0]).toMatchObject({ timeout: 15, timingSlack: 5 });
  });

  it('activating twice keeps one open device and writes the timeout once', async () => {
    fifo = openFifoReader(tmp.dir);
    const wd = createWatchdog({ mode: 'automatic', driver: 'testing', testingFifo: fifo.path, ttl: 30, loopWait: 10 });
    expect(await wd.activate()).toBe(true);
    expect(await wd.activate()).toBe(true);
    wd.keepalive();
    wd.disable();
    await fifo.waitFor((t) => t.endsWith('V'));
    expect(fifo.text()).toBe('Ctimeout=25\n1V');
  });

  it('re-arms with the new timeout when ttl changes (edit-config ttl=30)', async () => {
    fifo = openFifoReader(tmp.dir);
    const wd = createWatchdog({ mode: 'automatic', driver: 'testing', testingFifo: fifo.path, ttl: 20, loopWait: 10 });
    await wd.activate();
    expect(await wd.reconfigure({ ttl: 30, loopWait: 10 })).toBe(true);
    expect(wd.timeout).toBe(25);
    expect(wd.isRunning).toBe(true);
    wd.disable();
    await fifo.waitFor((t) => t === 'Ctimeout=15\nVCtimeout=25\nV');
  });

  it('mode off never opens the device', async () => {
    fifo = openFifoReader(tmp.dir);
    const wd = createWatchdog({ mode: 'off', driver: 'testing', testingFifo: fifo.path, ttl: 30, loopWait: 10 });
    expect(await wd.activate()).toBe(true);
    expect(wd.isRunning).toBe(false);
    wd.keepalive();
    wd.disable();
    await new Promise((r) => setTimeout(r, 100));
    expect(fifo.text()).toBe('');
  });

  it('required mode refuses a timeout that does not exceed loop_wait, without opening the device', async () => {
    fifo = openFifoReader(tmp.dir);
    const { logger, lines } = recordingLogger();
    const wd = createWatchdog({ mode: 'required', driver: 'testing', testingFifo: fifo.path, ttl: 20, loopWait: 15, logger });
    expect(wd.timeout).toBe(15);
    expect(await wd.activate()).toBe(false);
    expect(wd.lastError?.code).toBe('watchdog_unsafe_timeout');
    expect(wd.isHealthy).toBe(false);
    expect(wd.isRunning).toBe(false);
    expect(lines.some((l) => l.startsWith('error:'))).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(fifo.text()).toBe('');
    // automatic mode carries on without a watchdog
    const auto = createWatchdog({ mode: 'automatic', driver: 'testing', testingFifo: fifo.path, ttl: 20, loopWait: 15 });
    expect(await auto.activate()).toBe(true);
    expect(auto.isRunning).toBe(false);
  });

  it('a FIFO without a reader is an unavailable device', async () => {
    const { execFileSync } = await import('node:child_process');
    const path = join(tmp.dir, 'nobody-reads.fifo');
    execFileSync('mkfifo', [path]);
    const required = createWatchdog({ mode: 'required', driver: 'testing', testingFifo: path, ttl: 30, loopWait: 10 });
    expect(await required.activate()).toBe(false);
    expect(required.lastError?.code).toBe('watchdog_unavailable');
    const auto = createWatchdog({ mode: 'automatic', driver: 'testing', testingFifo: path, ttl: 30, loopWait: 10 });
    expect(await auto.activate()).toBe(true);
    expect(auto.isRunning).toBe(false);
    expect(auto.lastError?.code).toBe('watchdog_unavailable');
  });

  it('a plain file works as the test device too', async () => {
    const path = join(tmp.dir, 'watchdog.log');
    writeFileSync(path, '');
    const wd = createWatchdog({ mode: 'required', driver: 'testing', testingFifo: path, ttl: 30, loopWait: 10, safetyMargin: -1 });
    expect(await wd.activate()).toBe(true);
    wd.keepalive();
    wd.disable();
    expect(readFileSync(path, 'utf8')).toBe('Ctimeout=15\n1V');
  });
});

describe('Linux driver without a device (never /dev/watchdog in tests)', () => {
  let tmp: ReturnType<typeof makeFifoDir>;
  beforeEach(() => {
    tmp = makeFifoDir();
  });
  afterEach(() => tmp.remove());

  it('automatic mode logs and continues when the device is absent', async () => {
    const { logger, lines } = recordingLogger();
    const wd = createWatchdog({ mode: 'automatic', device: join(tmp.dir, 'watchdog'), ttl: 30, loopWait: 10, logger });
    expect(wd.isHealthy).toBe(true);
    expect(await wd.activate()).toBe(true);
    expect(wd.isRunning).toBe(false);
    expect(wd.lastError?.code).toBe('watchdog_unavailable');
    expect(lines.some((l) => l.startsWith('warn:') && l.includes('watchdog'))).toBe(true);
  });

  it('required mode fails when the device is absent and reports unhealthy', async () => {
    const wd = createWatchdog({ mode: 'required', device: join(tmp.dir, 'watchdog'), ttl: 30, loopWait: 10 });
    expect(wd.isHealthy).toBe(false);
    expect(await wd.activate()).toBe(false);
    expect(wd.lastError?.code).toBe('watchdog_unavailable');
    expect(wd.lastError?.message).toContain(join(tmp.dir, 'watchdog'));
  });

  it('required mode fails when wdctl cannot drive the path (a regular file is no watchdog)', async () => {
    const path = join(tmp.dir, 'not-a-watchdog');
    writeFileSync(path, '');
    const wd = createWatchdog({ mode: 'required', device: path, ttl: 30, loopWait: 10 });
    expect(await wd.activate()).toBe(false);
    expect(wd.lastError?.code).toBe('watchdog_unavailable');
    expect(wd.isRunning).toBe(false);
  });
});

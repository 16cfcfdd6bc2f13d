import { describe, expect, it } from 'vitest';
import { isTimeoutUsable, parseWatchdogMode, parseWdctlTimeout, watchdogTimeout } from '../src/index.js';

describe('watchdog timing', () => {
  it('is ttl - safety_margin, or ttl // 2 when the margin is -1', () => {
    expect(watchdogTimeout({ ttl: 30, loopWait: 10 })).toBe(25);
    expect(watchdogTimeout({ ttl: 20, loopWait: 10 })).toBe(15);
    expect(watchdogTimeout({ ttl: 30, loopWait: 10, safetyMargin: 0 })).toBe(30);
    expect(watchdogTimeout({ ttl: 31, loopWait: 10, safetyMargin: -1 })).toBe(15);
  });
  it('refuses timeouts that do not exceed loop_wait', () => {
    expect(isTimeoutUsable(11, 10)).toBe(true);
    expect(isTimeoutUsable(10, 10)).toBe(false);
    expect(isTimeoutUsable(5, 10)).toBe(false);
  });
  it('rejects nonsense timing with invalid_watchdog_config', () => {
    expect(() => watchdogTimeout({ ttl: 0, loopWait: 10 })).toThrow(expect.objectContaining({ code: 'invalid_watchdog_config' }));
    expect(() => watchdogTimeout({ ttl: 30, loopWait: 10, safetyMargin: -3 })).toThrow(/safety_margin/);
  });
});

describe('parseWatchdogMode', () => {
  it('reads Patroni spellings', () => {
    expect(parseWatchdogMode(undefined)).toBe('automatic');
    expect(parseWatchdogMode('required')).toBe('required');
    expect(parseWatchdogMode('Require')).toBe('required');
    expect(parseWatchdogMode('auto')).toBe('automatic');
    expect(parseWatchdogMode(false)).toBe('off');
    expect(parseWatchdogMode('disabled')).toBe('off');
  });
  it('disables and warns on unknown words', () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (m: string) => void warnings.push(m) };
    expect(parseWatchdogMode('sometimes', logger)).toBe('off');
    expect(warnings[0]).toMatch(/not recognized/);
  });
});

describe('parseWdctlTimeout', () => {
  it('reads one-line and table output', () => {
    expect(parseWdctlTimeout('/dev/watchdog: TIMEOUT="25" PRETIMEOUT="0" TIMELEFT="24"\n')).toBe(25);
    expect(parseWdctlTimeout('Device:        /dev/watchdog\nTimeout:       60 seconds\nTimeleft:      59 seconds\n')).toBe(60);
    expect(parseWdctlTimeout('/dev/watchdog: TIMELEFT="3"')).toBeUndefined();
  });
});

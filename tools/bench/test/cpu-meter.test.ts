import { describe, expect, it } from 'vitest';
import os from 'node:os';
import { busyCores, parseCpuTimes, startCpuMeter } from '../src/cpu-meter.js';

const stat = (user: number, idle: number, guest: number): string =>
  [`cpu  ${user} 0 0 ${idle} 0 0 0 0 ${guest} 0`, `cpu0 ${user} 0 0 ${idle} 0 0 0 0 ${guest} 0`, 'cpu1 0 0 0 0 0 0 0 0 0 0', 'intr 1 2 3', ''].join('\n');

describe('cpu meter', () => {
  it('counts busy and idle ticks of the aggregate line, guest time once (it is part of user)', () => {
    expect(parseCpuTimes(stat(30, 70, 20))).toEqual({ busy: 30, total: 100, cores: 2 });
    // iowait counts as idle, irq, softirq and steal as busy.
    expect(parseCpuTimes('cpu  10 1 2 50 7 3 4 5 9 9\ncpu0 1 1 1 1 1 1 1 1 1 1\n')).toEqual({ busy: 25, total: 82, cores: 1 });
  });

  it('turns two snapshots into busy cores', () => {
    // 2 cores, 100 ticks passed, 75 of them busy: one and a half cores.
    expect(busyCores(parseCpuTimes(stat(100, 100, 0)), parseCpuTimes(stat(175, 125, 50)))).toBe(1.5);
    expect(busyCores(parseCpuTimes(stat(100, 100, 0)), parseCpuTimes(stat(100, 100, 0)))).toBe(0);
  });

  it('sees one core kept busy by this process', () => {
    const meter = startCpuMeter();
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // spin
    }
    const cores = meter.stop();
    // This process spun on one core the whole time; the other cores may or may not be busy.
    expect(cores).toBeGreaterThanOrEqual(0.8);
    expect(cores).toBeLessThanOrEqual(os.cpus().length + 0.01);
  });
});

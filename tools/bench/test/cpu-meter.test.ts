import { describe, expect, it } from 'vitest';
import os from 'node:os';
import { startCpuMeter } from '../src/cpu-meter.js';

describe('startCpuMeter', () => {
  it('sees one core kept busy by this process', () => {
    const meter = startCpuMeter();
    const until = Date.now() + 300;
    let spins = 0;
    while (Date.now() < until) spins++;
    const cores = meter.stop();
    expect(spins).toBeGreaterThan(0);
    // This process spun on one core the whole time; the other cores may or may not be busy.
    expect(cores).toBeGreaterThanOrEqual(0.8);
    expect(cores).toBeLessThanOrEqual(os.cpus().length + 0.01);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSameProcess, spawnDetached, startTimeOf, stopProcess, type ProcessRecord } from '../src/proc.js';

const dir = mkdtempSync(join(tmpdir(), 'pgtools-lab-proc-'));
const started: ProcessRecord[] = [];

afterAll(async () => {
  for (const p of started) await stopProcess(p, 'SIGKILL', 2000);
  rmSync(dir, { recursive: true, force: true });
});

describe('process records', () => {
  it('recognises a detached process by PID, start time and command line, and stops it', async () => {
    const marker = `pgtools-lab-proc-test-${process.pid}`;
    const rec = spawnDetached('sh', ['-c', 'sleep 30', marker], { logFile: join(dir, 'sleep.log'), marker });
    started.push(rec);
    expect(rec.startTime).toBe(startTimeOf(rec.pid));
    expect(isSameProcess(rec)).toBe(true);
    // Another start time or another command line means another process: never signalled.
    expect(isSameProcess({ ...rec, startTime: String(Number(rec.startTime) + 1) })).toBe(false);
    expect(isSameProcess({ ...rec, marker: 'something-else-entirely' })).toBe(false);
    expect(await stopProcess({ ...rec, marker: 'something-else-entirely' })).toBe(false);
    expect(isSameProcess(rec)).toBe(true);
    expect(await stopProcess(rec, 'SIGTERM', 5000)).toBe(true);
    expect(isSameProcess(rec)).toBe(false);
    expect(await stopProcess(rec)).toBe(false);
  });
});

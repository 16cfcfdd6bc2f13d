import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How a measured child process went. */
export interface MeasuredRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Spawn to exit, wall clock (ms since the epoch). */
  startedAt: number;
  endedAt: number;
  /** Peak resident set size of the child (and any children it waited for), in KiB. */
  maxRssKb: number | undefined;
  /** CPU seconds the child used (only with GNU time). */
  userS: number | undefined;
  sysS: number | undefined;
  /** `gnu-time` (rusage from wait4) or `vmhwm` (VmHWM polled from /proc every 10 ms). */
  rssSource: 'gnu-time' | 'vmhwm' | 'none';
}

const GNU_TIME = '/usr/bin/time';

/**
 * Runs a command to completion and measures its wall time and peak RSS: through GNU time's
 * `%M` when `/usr/bin/time` exists, otherwise by polling `VmHWM` in `/proc/<pid>/status`
 * (a high-water mark, so polling only misses the last few ms of growth).
 *
 * @example
 * ```ts
 * const run = await runMeasured('psql', ['-c', 'VACUUM FULL t'], { env: process.env });
 * console.log(run.endedAt - run.startedAt, 'ms', run.maxRssKb, 'KiB');
 * ```
 */
export async function runMeasured(command: string, args: readonly string[], { env }: { env?: NodeJS.ProcessEnv } = {}): Promise<MeasuredRun> {
  const useTime = existsSync(GNU_TIME);
  const dir = mkdtempSync(join(tmpdir(), 'pgtools-bench-time-'));
  const timeFile = join(dir, 'time.txt');
  try {
    const [cmd, argv] = useTime ? [GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, command, ...args]] : [command, [...args]];
    const startedAt = Date.now();
    const child = spawn(cmd, argv, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let hwm: number | undefined;
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)\s*kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwm = Math.max(hwm ?? 0, Number(m[1]));
          } catch {
            /* gone already */
          }
        }, 10);
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    const endedAt = Date.now();
    if (poll) clearInterval(poll);
    let maxRssKb = hwm;
    let userS: number | undefined;
    let sysS: number | undefined;
    if (useTime && existsSync(timeFile)) {
      // GNU time prefixes "Command exited with non-zero status N" on failure: take the last line.
      const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
      const [rss, user, sys] = (lines[lines.length - 1] ?? '').trim().split(/\s+/).map(Number);
      if (Number.isFinite(rss)) maxRssKb = rss;
      if (Number.isFinite(user)) userS = user;
      if (Number.isFinite(sys)) sysS = sys;
    }
    return { exitCode, stdout, stderr, startedAt, endedAt, maxRssKb, userS, sysS, rssSource: useTime ? 'gnu-time' : maxRssKb !== undefined ? 'vmhwm' : 'none' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

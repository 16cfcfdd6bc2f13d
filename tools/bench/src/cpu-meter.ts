import { readFileSync } from 'node:fs';

/** Cumulative CPU time of the whole machine from one `/proc/stat` snapshot, in clock ticks. */
export interface CpuTimes {
  busy: number;
  total: number;
  cores: number;
}

/**
 * Reads a `/proc/stat` text: the aggregate `cpu` line's first eight fields (user nice system idle
 * iowait irq softirq steal; guest time is already part of user and nice) and the number of `cpuN` lines.
 *
 * @example
 * ```ts
 * parseCpuTimes('cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 5 0 2 40 3 0 0 0 0 0\ncpu1 5 0 3 40 2 0 0 0 0 0\n');
 * // => { busy: 15, total: 100, cores: 2 }
 * ```
 */
export function parseCpuTimes(text: string): CpuTimes {
  const lines = text.split('\n');
  const fields = (lines[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  // idle + iowait: the CPU had nothing to run.
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total, cores: lines.filter((l) => /^cpu\d+ /.test(l)).length };
}

/**
 * The average number of busy cores between two snapshots.
 *
 * @example
 * ```ts
 * busyCores({ busy: 0, total: 0, cores: 2 }, { busy: 50, total: 100, cores: 2 }); // 1
 * ```
 */
export function busyCores(start: CpuTimes, end: CpuTimes): number {
  const total = end.total - start.total;
  return total > 0 ? (start.cores * (end.busy - start.busy)) / total : 0;
}

/**
 * Starts measuring how busy the whole machine's CPUs are (Linux `/proc/stat`); `stop()` returns the
 * average number of busy cores since the start. Everything running counts, not only PostgreSQL.
 *
 * @example
 * ```ts
 * const meter = startCpuMeter();
 * await client.query('CREATE INDEX ON t (a)');
 * meter.stop(); // e.g. 1.02: one core busy throughout
 * ```
 */
export function startCpuMeter(): { stop(): number } {
  const read = (): CpuTimes => parseCpuTimes(readFileSync('/proc/stat', 'utf8'));
  const start = read();
  return { stop: () => busyCores(start, read()) };
}

import { readFileSync } from 'node:fs';

interface CpuTimes {
  busy: number;
  total: number;
  cores: number;
}

function readCpuTimes(): CpuTimes {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const fields = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
  // idle + iowait: the CPU had nothing to run.
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total, cores: lines.filter((l) => /^cpu\d+ /.test(l)).length };
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
  const start = readCpuTimes();
  return {
    stop() {
      const end = readCpuTimes();
      const total = end.total - start.total;
      return total > 0 ? (start.cores * (end.busy - start.busy)) / total : 0;
    },
  };
}

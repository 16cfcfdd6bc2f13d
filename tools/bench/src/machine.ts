import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** What the benchmark ran on. */
export interface MachineInfo {
  nproc: string;
  cpuModel: string;
  memory: string;
  kernel: string;
  node: string;
  loadAverage: string;
}

const sh = (cmd: string, args: string[]): string => {
  try {
    // Only the end: `free -h` aligns its header with leading spaces.
    return execFileSync(cmd, args, { encoding: 'utf8' }).trimEnd();
  } catch {
    return 'n/a';
  }
};

/**
 * Describes the machine: `nproc`, the CPU model, `free -h`, the kernel, node, the load average.
 *
 * @example
 * ```ts
 * console.log(describeMachine().nproc);
 * ```
 */
export function describeMachine(): MachineInfo {
  let cpuModel = 'n/a';
  try {
    cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'n/a';
  } catch {
    /* not Linux */
  }
  return {
    nproc: sh('nproc', []),
    cpuModel,
    memory: sh('free', ['-h']),
    kernel: sh('uname', ['-sr']),
    node: process.version,
    loadAverage: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
  };
}

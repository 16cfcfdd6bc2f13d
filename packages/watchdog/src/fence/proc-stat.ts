import { readdirSync, readFileSync } from 'node:fs';

/** The fields of `/proc/<pid>/stat` the fence needs. */
export interface ProcStat {
  pid: number;
  /** One letter: R, S, D, T, Z... */
  state: string;
  ppid: number;
  pgrp: number;
  /** Field 22: start time in clock ticks since boot; with the PID, the identity of a process. */
  startTime: number;
}

/**
 * Reads `/proc/<pid>/stat`; undefined when the process does not exist (Linux only).
 *
 * @example
 * ```ts
 * const st = readProcStat(process.pid);
 * console.log(st?.startTime);
 * ```
 */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after its last ") ".
  const rest = text
    .slice(text.lastIndexOf(') ') + 2)
    .trim()
    .split(' ');
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  const startTime = Number(rest[19]);
  if (state === undefined || !Number.isInteger(startTime)) return undefined;
  return { pid, state, ppid, pgrp, startTime };
}

/** True while `pid` runs and is not a zombie. */
export function isRunning(pid: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.state !== 'Z';
}

/**
 * The live processes of process group `pgrp` (the fence runs in its own group).
 *
 * @example
 * ```ts
 * const pids = processGroupMembers(fence.pid);
 * ```
 */
export function processGroupMembers(pgrp: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name));
    if (st && st.pgrp === pgrp && st.state !== 'Z') pids.push(st.pid);
  }
  return pids;
}

/** Memory of a set of processes, from /proc/<pid>/status (RSS) and smaps_rollup (PSS). */
export function memoryOf(pids: readonly number[]): { rssKb: number; pssKb: number | undefined } {
  let rssKb = 0;
  let pssKb: number | undefined = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      rssKb += Number(m?.[1] ?? 0);
    } catch {
      continue;
    }
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      pssKb = m && pssKb !== undefined ? pssKb + Number(m[1]) : undefined;
    } catch {
      pssKb = undefined;
    }
  }
  return { rssKb, pssKb };
}

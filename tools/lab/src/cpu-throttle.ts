import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CPU_ROOT = '/sys/fs/cgroup/cpu';

/** The PID and all its descendants (from /proc/PID/stat parent links). */
export function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(parents.get(pid) ?? []));
  }
  return out;
}

/** True when this process may create cgroup v1 `cpu` groups (root on a host or VM that exposes them). */
export function canThrottle(): boolean {
  if (!existsSync(join(CPU_ROOT, 'cgroup.procs'))) return false;
  const probe = join(CPU_ROOT, `pgtools-lab-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves a process tree into a cgroup with a CPU quota (`percent` of one CPU), so one lab node
 * is starved of CPU as if something burnt its own host. Processes forked later inherit it.
 * Returns the group's path for `releaseThrottle`.
 *
 * @example
 * ```ts
 * const group = throttle('lab-node1', agentPid, 5);
 * // ... later
 * releaseThrottle(group);
 * ```
 */
export function throttle(name: string, rootPid: number, percent: number): string {
  const group = join(CPU_ROOT, `pgtools-${name}`);
  mkdirSync(group, { recursive: true });
  writeFileSync(join(group, 'cpu.cfs_period_us'), '100000');
  writeFileSync(join(group, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round(percent * 1000))));
  for (const pid of processTree(rootPid)) {
    try {
      writeFileSync(join(group, 'cgroup.procs'), String(pid));
    } catch {
      // exited meanwhile
    }
  }
  return group;
}

/** Moves every process of the group back to the root group and removes it. Safe to call twice. */
export function releaseThrottle(group: string): void {
  if (!existsSync(group)) return;
  for (let round = 0; round < 5; round++) {
    const pids = readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        writeFileSync(join(CPU_ROOT, 'cgroup.procs'), pid);
      } catch {
        // exited meanwhile
      }
    }
  }
  try {
    rmdirSync(group);
  } catch {
    // a process forked during the move: the next call (or `lab down`) removes it
  }
}

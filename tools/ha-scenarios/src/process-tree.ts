import { readdirSync, readFileSync } from 'node:fs';
import { isAlive } from '@pgtools/testkit';

/**
 * `pid` and all its descendants (children by parent PID, recursively), parents first, read from
 * /proc in one pass. A tree that may fork meanwhile should be frozen (SIGSTOP) before it is killed.
 *
 * @example
 * ```ts
 * import { processTree } from '@pgtools/ha-scenarios';
 * const pids = processTree(process.pid); // [process.pid, ...children]
 * ```
 */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name may contain spaces and parentheses: the fields after the last ')' are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = isAlive(pid) ? [pid] : [];
  while (queue.length > 0 && out.length < 10_000) {
    const next = queue.shift()!;
    if (out.includes(next)) continue;
    out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

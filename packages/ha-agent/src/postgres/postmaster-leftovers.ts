import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { readProcStat } from '@pgtools/watchdog';

/** A process identified as the fence does it: PID plus start time (clock ticks since boot). */
export interface ProcessId {
  pid: number;
  startTime: number;
}

/**
 * How long orphaned server processes get to exit by themselves after SIGQUIT (what a postmaster
 * sends its children when one crashes) before they are SIGKILLed. A backend busy in a query sees
 * its postmaster's death only at its next wait, which may be minutes away (issue 14, scenario 9).
 */
export const LEFTOVER_QUIT_GRACE_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Same PID and same start time: the process we saw is still there (and not a zombie). */
function stillThere(p: ProcessId): boolean {
  const st = readProcStat(p.pid);
  return st !== undefined && st.startTime === p.startTime && st.state !== 'Z';
}

/**
 * The `postgres` processes still running in `dataDir` (their working directory, which every server
 * process inherits from the postmaster): after a postmaster is SIGKILLed its backends and auxiliary
 * processes live on, attached to the old shared memory, until they notice. Linux only; processes
 * of another user are invisible without privileges and are not listed.
 *
 * @example
 * ```ts
 * import { serverProcessesIn } from '@pgtools/ha-agent/internals';
 * serverProcessesIn('/var/lib/postgresql/15/main'); // [{ pid: 4242, startTime: 81234 }]
 * ```
 */
export function serverProcessesIn(dataDir: string): ProcessId[] {
  let dir: string;
  try {
    dir = realpathSync(dataDir);
  } catch {
    return [];
  }
  const found: ProcessId[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) !== dir) continue;
      if (basename(readlinkSync(`/proc/${pid}/exe`)) !== 'postgres') continue;
    } catch {
      continue;
    }
    const st = readProcStat(pid);
    if (st && st.state !== 'Z') found.push({ pid, startTime: st.startTime });
  }
  return found;
}

/**
 * Makes sure no process of a dead postmaster is left in `dataDir` before a new one starts there:
 * SIGQUIT, then after `graceMs` SIGKILL, each checked by PID and start time right before the
 * signal so a reused PID is never hit. Resolves with what was found (empty: nothing to wait for);
 * rejects when something survives SIGKILL (it cannot be stopped from here: say which).
 *
 * @example
 * ```ts
 * import { reapLeftovers } from '@pgtools/ha-agent/internals';
 * const left = await reapLeftovers('/var/lib/postgresql/15/main');
 * if (left.length) console.log(`stopped ${left.length} orphaned server processes`);
 * ```
 */
export async function reapLeftovers(dataDir: string, graceMs = LEFTOVER_QUIT_GRACE_MS): Promise<ProcessId[]> {
  const found = serverProcessesIn(dataDir);
  if (found.length === 0) return found;
  const signal = (sig: NodeJS.Signals): void => {
    for (const p of found) {
      if (!stillThere(p)) continue;
      try {
        process.kill(p.pid, sig);
      } catch {
        // gone meanwhile
      }
    }
  };
  const waitGone = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (found.some(stillThere)) {
      if (Date.now() >= deadline) return false;
      await sleep(20);
    }
    return true;
  };
  signal('SIGQUIT');
  if (await waitGone(graceMs)) return found;
  signal('SIGKILL');
  if (await waitGone(5000)) return found;
  const left = found.filter(stillThere).map((p) => p.pid);
  throw new Error(`server processes of a dead postmaster still run in ${dataDir} after SIGKILL: ${left.join(', ')}`);
}

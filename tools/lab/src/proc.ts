import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { netnsExec } from '@pgtools/testkit';

/** How a recorded process is recognised again by a later `lab` process: PID, start time, command line. */
export interface ProcessRecord {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot): a reused PID has another one. */
  startTime: string;
  /** A piece of /proc/PID/cmdline that must still be there (e.g. the config file path). */
  marker: string;
  logFile: string;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are split from the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [String(pid), 'comm', ...rest];
  } catch {
    return undefined;
  }
}

/**
 * The start time of `pid`, or undefined when there is no such process.
 *
 * @example
 * ```ts
 * startTimeOf(process.pid); // e.g. '123456'
 * ```
 */
export function startTimeOf(pid: number): string | undefined {
  return statFields(pid)?.[21];
}

/**
 * True while the recorded process is still the one we started: alive (not a zombie), same start
 * time, and its command line still contains the marker. Never signal a PID without this check.
 *
 * @example
 * ```ts
 * if (isSameProcess(state.haproxy)) process.kill(state.haproxy.pid, 'SIGTERM');
 * ```
 */
export function isSameProcess(rec: Pick<ProcessRecord, 'pid' | 'startTime' | 'marker'>): boolean {
  const fields = statFields(rec.pid);
  if (!fields || fields[2] === 'Z' || fields[21] !== rec.startTime) return false;
  try {
    return readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').split('\0').join(' ').includes(rec.marker);
  } catch {
    return false;
  }
}

/**
 * Starts a process that outlives this one (own session, output appended to `logFile`) and
 * records what is needed to find it again.
 *
 * @example
 * ```ts
 * const rec = spawnDetached('haproxy', ['-db', '-f', cfg], { logFile: 'haproxy.log', marker: cfg });
 * ```
 */
export function spawnDetached(
  command: string,
  args: readonly string[],
  options: { logFile: string; marker: string; uid?: number; gid?: number; env?: NodeJS.ProcessEnv; cwd?: string; netns?: string },
): ProcessRecord {
  const fd = openSync(options.logFile, 'a');
  const user = options.uid !== undefined && options.gid !== undefined ? { uid: options.uid, gid: options.gid } : undefined;
  try {
    // In a namespace the user switch happens after `ip netns exec` (which needs root), via setpriv.
    const [file, ...argv] = options.netns ? netnsExec(options.netns, [command, ...args], user) : [command, ...args];
    const child = spawn(file!, argv, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(user && !options.netns ? user : {}),
    });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    const startTime = startTimeOf(child.pid);
    if (startTime === undefined) throw new Error(`${command} exited at once; see ${options.logFile}`);
    return { pid: child.pid, startTime, marker: options.marker, logFile: options.logFile };
  } finally {
    closeSync(fd);
  }
}

/**
 * Sends `signal` to the recorded process if it is still the same one. True when it was sent.
 *
 * @example
 * ```ts
 * signalIfSame(state.haproxy.proc, 'SIGHUP');
 * ```
 */
export function signalIfSame(rec: Pick<ProcessRecord, 'pid' | 'startTime' | 'marker'>, signal: NodeJS.Signals): boolean {
  if (!isSameProcess(rec)) return false;
  try {
    process.kill(rec.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Signals, waits up to `timeoutMs` for the process to go, then SIGKILL. True when it was running.
 *
 * @example
 * ```ts
 * await stopProcess(state.etcd[0]!.proc, 'SIGTERM', 10_000);
 * ```
 */
export async function stopProcess(
  rec: Pick<ProcessRecord, 'pid' | 'startTime' | 'marker'>,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 20_000,
): Promise<boolean> {
  if (!isSameProcess(rec)) return false;
  signalIfSame(rec, 'SIGCONT');
  signalIfSame(rec, signal);
  const deadline = Date.now() + timeoutMs;
  while (isSameProcess(rec) && Date.now() < deadline) await sleep(100);
  if (isSameProcess(rec)) {
    signalIfSame(rec, 'SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (isSameProcess(rec) && Date.now() < killDeadline) await sleep(100);
  }
  return true;
}

/**
 * The postmaster of a data directory (first line of postmaster.pid), as a record to check and signal.
 *
 * @example
 * ```ts
 * const pm = postmasterOf('/tmp/play/.lab/node1/data');
 * if (pm) process.kill(pm.pid, 'SIGKILL');
 * ```
 */
export function postmasterOf(dataDir: string): ProcessRecord | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const startTime = startTimeOf(pid);
  if (startTime === undefined) return undefined;
  const rec = { pid, startTime, marker: 'postgres', logFile: '' };
  // The postmaster's command line is `.../postgres -D <dataDir> ...`: check it is this data dir's.
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!cmd.some((a) => a === dataDir || a.endsWith(dataDir))) return undefined;
  } catch {
    return undefined;
  }
  return rec;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

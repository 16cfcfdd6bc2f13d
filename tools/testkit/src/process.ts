import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, chown, chmod } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsExec } from './netns-exec.js';

/** True while `pid` is a live process (a zombie counts as dead). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** A server process started by the test kit. Stopped by its PID only. */
export interface ManagedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  isRunning(): boolean;
  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILL. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
  /** Sends a signal without waiting (SIGKILL, SIGSTOP, SIGCONT for fault tests). */
  signal(signal: NodeJS.Signals): void;
  /** The last lines the process wrote, for error messages. */
  logTail(lines?: number): string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this OS user (uid, gid); the kit uses it for PostgreSQL when tests run as root. */
  user?: OsUser | undefined;
  /** What the reaper sends first if the test process dies (PostgreSQL: SIGINT, fast shutdown). */
  stopSignal?: NodeJS.Signals;
  /** Run inside this network namespace (see `createNetwork`); needs root. */
  netns?: string;
  logFile: string;
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * The OS user servers run as: `postgres` when the tests run as root (PostgreSQL refuses root),
 * otherwise undefined (the current user).
 */
export function serverUser(): OsUser | undefined {
  if (!isRoot()) return undefined;
  const name = process.env.PGTOOLS_TEST_OS_USER ?? 'postgres';
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { name, uid, gid };
  } catch {
    throw new Error(`tests run as root but OS user "${name}" does not exist; install postgresql-15 (it creates it)`);
  }
}

/** A private temp dir that disappears with the test process even when teardown never runs. */
export interface TempDir {
  readonly path: string;
  remove(): void;
}

/** Creates a private temp dir (`pgtools-test-*`), owned by `user` when given. */
export async function makeTempDir(prefix: string, user?: OsUser): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `pgtools-test-${prefix}-`));
  if (user) {
    await chown(path, user.uid, user.gid);
    await chmod(path, 0o700);
  }
  const reaper = startReaper({ dir: path });
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true });
      reaper.dismiss();
    },
  };
}

// The kernel may give the same ephemeral port to two listen(0) calls in a row once the first is
// closed, and callers often ask for several ports before starting anything (an etcd cluster's
// client and peer URLs): a port is never handed out twice by one process.
const portsHandedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await listenOnEphemeralPort();
    if (portsHandedOut.has(port)) continue;
    portsHandedOut.add(port);
    return port;
  }
  throw new Error('could not find a free port that was not handed out before');
}

function listenOnEphemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the allocated port'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a detached server process with its output in `logFile`, plus a reaper that stops it
 * by PID if this test process dies first (Ctrl-C, a crashed worker).
 */
export function spawnManaged(command: string, args: readonly string[], options: SpawnOptions): ManagedProcess {
  const fd = openSync(options.logFile, 'a');
  if (options.user) execFileSync('chown', [`${options.user.uid}:${options.user.gid}`, options.logFile]);
  let child: ChildProcess;
  try {
    // `ip netns exec` and `setpriv` both exec in place, so the PID we track is the server's own.
    const inNetns = options.netns !== undefined;
    const [file, ...argv] = inNetns ? netnsExec(options.netns!, [command, ...args], options.user) : [command, ...args];
    child = spawn(file!, argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
      ...(options.user && !inNetns ? { uid: options.user.uid, gid: options.user.gid } : {}),
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running = false;
      resolve(code);
    });
    child.once('error', () => {
      running = false;
      resolve(null);
    });
  });
  const reaper = startReaper({ pid, signal: options.stopSignal ?? 'SIGTERM' });

  const managed: ManagedProcess = {
    pid,
    logFile: options.logFile,
    exited,
    isRunning: () => running,
    signal(signal) {
      if (running) process.kill(pid, signal);
    },
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (running) {
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, signal);
        } catch {
          // already gone
        }
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
        if ((await Promise.race([exited, timer])) === 'timeout' && running) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
          await exited;
        }
      }
      reaper.dismiss();
    },
    logTail(lines = 30) {
      try {
        return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
  return managed;
}

/** Dismiss once the thing it guards has been cleaned up normally. */
export interface Reaper {
  dismiss(): void;
}

/**
 * A detached `sh` that waits for this test process to die and then stops `pid` (only if it is
 * still the same process: its start time is checked, so a reused PID is never hit) and removes `dir`.
 * `pidFile` (e.g. a data dir's `postmaster.pid`, whose process another program restarts) is re-read
 * while this process lives; the last PID it named is SIGKILLed if it still runs a `postgres` binary.
 * Normal teardown dismisses it; it only acts after Ctrl-C or a crashed test worker.
 */
export function startReaper(target: { pid?: number; dir?: string; signal?: NodeJS.Signals; netns?: string[]; pidFile?: string }): Reaper {
  // Field 3 of /proc/PID/stat is the state (Z: a zombie is already dead), field 22 the start time.
  const script = [
    'owner=$1; pid=$2; dir=$3; sig=$4; pidfile=$5; st=""; pm=""; pmst=""',
    '[ -n "$pid" ] && st=$(cut -d" " -f22 "/proc/$pid/stat" 2>/dev/null)',
    'while kill -0 "$owner" 2>/dev/null; do',
    '  if [ -n "$pidfile" ] && [ -f "$pidfile" ]; then p=$(head -n 1 "$pidfile" 2>/dev/null); case "$p" in ""|*[!0-9]*) ;; *) pm=$p; pmst=$(cut -d" " -f22 "/proc/$pm/stat" 2>/dev/null);; esac; fi',
    '  sleep 0.5',
    'done',
    'if [ -n "$pm" ] && [ -n "$pmst" ] && [ "$(cut -d" " -f22 "/proc/$pm/stat" 2>/dev/null)" = "$pmst" ] && tr "\\0" " " < "/proc/$pm/cmdline" 2>/dev/null | grep -q postgres; then kill -KILL "$pm" 2>/dev/null; fi',
    'same() { [ -n "$st" ] && [ "$(cut -d" " -f22 "/proc/$pid/stat" 2>/dev/null)" = "$st" ] && [ "$(cut -d" " -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; }',
    'if same; then',
    '  kill -CONT "$pid" 2>/dev/null; kill -"$sig" "$pid" 2>/dev/null',
    '  i=0; while same && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done',
    '  same && kill -KILL "$pid" 2>/dev/null',
    'fi',
    '[ -n "$dir" ] && rm -rf -- "$dir"',
    'shift 5; for ns in "$@"; do ip netns del "$ns" 2>/dev/null; done',
    'exit 0',
  ].join('\n');
  const args = [
    '-c',
    script,
    'pgtools-reaper',
    String(process.pid),
    target.pid === undefined ? '' : String(target.pid),
    target.dir ?? '',
    (target.signal ?? 'SIGTERM').replace(/^SIG/, ''),
    target.pidFile ?? '',
    ...(target.netns ?? []),
  ];
  const reaper = spawn('sh', args, { detached: true, stdio: 'ignore' });
  reaper.unref();
  return {
    dismiss() {
      if (reaper.pid !== undefined && reaper.exitCode === null && reaper.signalCode === null) {
        try {
          process.kill(reaper.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

/** Waits until `check` resolves true, polling; throws with `describe()` after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 30_000, intervalMs = 100, describe = () => 'condition' }: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

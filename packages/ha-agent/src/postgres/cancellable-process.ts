import { spawn } from 'node:child_process';
import type { RunAs } from './run-binary.js';

/** Options of `runCancellable`. */
export interface CancellableOptions {
  runAs?: RunAs | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Aborting kills the whole process group (the command and whatever it started). */
  signal: AbortSignal;
  /** Each line the command writes (stdout and stderr). */
  onLine?: (line: string) => void;
  /** The command's process ID, once started. */
  onStarted?: (pid: number) => void;
}

/** How a cancellable command ended. */
export interface CancellableResult {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  cancelled: boolean;
  /** The last lines it wrote, for the error message. */
  tail: string[];
}

/** Lines kept for the error message of a failed command. */
const TAIL_LINES = 20;

/**
 * Runs a command without a time limit in its own process group (a replica creation may take
 * days for a big database); aborting `signal` kills the group with SIGKILL, like Patroni's
 * `CancellableSubprocess` kills the command and its children, and resolves once it exited.
 * Never rejects: a command that cannot start resolves with code 127.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const r = await runCancellable(['/usr/bin/pgbackrest', 'restore'], { signal: ac.signal });
 * if (r.code !== 0) console.error(r.tail.join('\n'));
 * ```
 */
export function runCancellable(argv: readonly string[], options: CancellableOptions): Promise<CancellableResult> {
  const [file, ...args] = argv;
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    options.onLine?.(line);
  };
  if (file === undefined || options.signal.aborted) return Promise.resolve({ code: null, signal: null, cancelled: true, tail });
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      env: { ...process.env, ...options.env },
      cwd: options.cwd ?? '/',
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    });
    let cancelled = false;
    const kill = (): void => {
      cancelled = true;
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener('abort', kill);
      resolve({ code, signal, cancelled, tail });
    };
    options.signal.addEventListener('abort', kill, { once: true });
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        const lines = buf.split(/\r?\n|\r/);
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.trim() !== '') keep(l);
        // A command printing no newline must not grow this without bound.
        if (buf.length > 65_536) buf = buf.slice(-4096);
      });
      stream.on('end', () => {
        if (buf.trim() !== '') keep(buf);
      });
    }
    if (child.pid !== undefined) options.onStarted?.(child.pid);
    child.on('error', (err) => {
      keep(err.message);
      finish(127, null);
    });
    // 'close' waits for the output to end; a background process the command left holding its
    // stdout would delay that forever, so the exit counts once a second has passed without it.
    child.on('exit', (code, signal) => {
      setTimeout(() => finish(code, signal), 1000);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
}

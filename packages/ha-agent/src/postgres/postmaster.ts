import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PgToolsError, silentLogger, type Logger } from '@pgtools/core';
import type { RunAs } from './run-binary.js';
import { confValue } from './server-settings.js';
import { isAlive } from './process-alive.js';

/** PostgreSQL shutdown modes: `smart` waits for clients, `fast` disconnects them, `immediate` skips the checkpoint. */
export type StopMode = 'smart' | 'fast' | 'immediate';

const STOP_SIGNAL: Record<StopMode, NodeJS.Signals> = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' };

/** `PM_STATUS` from line 8 of postmaster.pid. */
export type PostmasterStatus = 'starting' | 'stopping' | 'ready' | 'standby' | 'unknown';

/** Options of `Postmaster.start`. */
export interface PostmasterStartOptions {
  binDir: string;
  dataDir: string;
  /** Passed as `-c name=value`. */
  settings: Record<string, string | number | boolean>;
  runAs?: RunAs | undefined;
  /** Server output goes here (appended); without it, lines go to the logger at debug level. */
  logFile?: string | undefined;
  logger?: Logger;
}

/**
 * Reads postmaster.pid: the PID and PM_STATUS the postmaster publishes (PostgreSQL 10+).
 *
 * @example
 * ```ts
 * import { readPidFile } from '@pgtools/ha-agent/internals';
 * readPidFile('/var/lib/postgresql/15/main'); // { pid: 1234, status: 'ready' } or undefined
 * ```
 */
export function readPidFile(dataDir: string): { pid: number; status: PostmasterStatus } | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const s = (lines[7] ?? '').trim();
  const status: PostmasterStatus = s === 'starting' || s === 'stopping' || s === 'ready' || s === 'standby' ? s : 'unknown';
  return { pid, status };
}

/**
 * One postmaster process, tracked by PID. Started as our child, its death is seen at once through
 * the child's `exit` event (`on('exit', ...)`); a postmaster left running by a previous agent is
 * adopted from postmaster.pid and watched by polling.
 *
 * @example
 * ```ts
 * import { Postmaster } from '@pgtools/ha-agent/internals';
 * const pm = Postmaster.start({ binDir: '/usr/lib/postgresql/15/bin', dataDir: '/data', settings: { port: 5432 } });
 * pm.on('exit', (code, signal) => console.log('postmaster exited', code, signal));
 * await pm.waitReady(60_000);
 * await pm.stop('fast');
 * ```
 */
export class Postmaster extends EventEmitter<{ exit: [code: number | null, signal: string | null] }> {
  readonly pid: number;
  readonly dataDir: string;
  readonly startedAt = Date.now();
  private running = true;
  private readonly exited: Promise<void>;
  private poll: NodeJS.Timeout | undefined;

  private constructor(pid: number, dataDir: string, child: ChildProcess | undefined) {
    super();
    this.pid = pid;
    this.dataDir = dataDir;
    this.exited = new Promise<void>((resolve) => {
      const done = (code: number | null, signal: string | null): void => {
        if (!this.running) return;
        this.running = false;
        if (this.poll) clearInterval(this.poll);
        resolve();
        this.emit('exit', code, signal);
      };
      if (child) {
        child.once('exit', (code, signal) => done(code, signal));
        child.once('error', () => done(null, null));
      } else {
        this.poll = setInterval(() => {
          if (!isAlive(pid)) done(null, null);
        }, 250);
        this.poll.unref();
      }
    });
  }

  /** Spawns `postgres -D dataDir -c ...` in its own process group (a Ctrl-C meant for the agent must not reach it). */
  static start(options: PostmasterStartOptions): Postmaster {
    const args = ['-D', options.dataDir];
    for (const [k, v] of Object.entries(options.settings)) {
      args.push('-c', `${k}=${typeof v === 'string' ? v : confValue(v)}`);
    }
    let fd: number | undefined;
    if (options.logFile) fd = openSync(options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(join(options.binDir, 'postgres'), args, {
        cwd: options.dataDir,
        env: { ...process.env, LC_ALL: 'C' },
        detached: true,
        stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
        ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
      });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (child.pid === undefined) throw new PgToolsError('postgres_start_failed', `could not start ${join(options.binDir, 'postgres')}`);
    const logger = options.logger ?? silentLogger;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.trim()) logger.debug(`postgres: ${line}`);
      });
    }
    return new Postmaster(child.pid, options.dataDir, child);
  }

  /** A live postmaster found in postmaster.pid (left by a previous agent), or undefined. */
  static adopt(dataDir: string): Postmaster | undefined {
    const info = readPidFile(dataDir);
    if (!info || !isAlive(info.pid)) return undefined;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8');
    } catch {
      return undefined;
    }
    // A PID reused by another program after a reboot must not be taken for PostgreSQL.
    if (!/postgres|postmaster/.test(cmd)) return undefined;
    return new Postmaster(info.pid, dataDir, undefined);
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** PM_STATUS as the postmaster published it, when postmaster.pid belongs to this process. */
  status(): PostmasterStatus | undefined {
    const info = readPidFile(this.dataDir);
    return info && info.pid === this.pid ? info.status : undefined;
  }

  /** Waits until the postmaster accepts connections (`ready` or `standby`); false on timeout or exit. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running && Date.now() < deadline) {
      const s = this.status();
      if (s === 'ready' || s === 'standby') return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  /** Resolves when the process has exited. */
  wait(): Promise<void> {
    return this.exited;
  }

  /** Sends a signal if the process still runs. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * Stops the postmaster with `mode` and waits; after `timeoutMs` escalates to immediate, then SIGKILL,
   * because an agent that cannot stop its server cannot demote it either. False = it had to escalate.
   */
  async stop(mode: StopMode = 'fast', timeoutMs = 60_000): Promise<boolean> {
    const waitFor = async (ms: number): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const t = new Promise<false>((r) => {
        timer = setTimeout(() => r(false), ms);
      });
      const ok = await Promise.race([this.exited.then(() => true as const), t]);
      clearTimeout(timer);
      return ok;
    };
    this.signal(STOP_SIGNAL[mode]);
    if (await waitFor(timeoutMs)) return true;
    this.signal('SIGQUIT');
    if (await waitFor(10_000)) return false;
    this.signal('SIGKILL');
    await waitFor(10_000);
    return false;
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { debugFailure, type Logger } from '@pgtools/core';
import type { CallbackAction } from '../config/callbacks-config.js';
import type { RunAs } from '../postgres/run-binary.js';
import { errMessage } from './agent-errors.js';

/** What `CallbackRunner` reports: a callback started, and how it ended. */
export type CallbackRunnerEvent =
  | { type: 'callback_started'; action: CallbackAction; argv: string[]; pid: number }
  | { type: 'callback_exited'; action: CallbackAction; pid: number; code: number | null; signal: string | null };

/** Options of `CallbackRunner`. */
export interface CallbackRunnerOptions {
  logger: Logger;
  /** Run the callbacks as this OS user (the one PostgreSQL runs as, like Patroni's own user). */
  runAs?: RunAs | undefined;
  onEvent?: ((event: CallbackRunnerEvent) => void) | undefined;
}

// Patroni runs `on_reload` in an executor of its own (`OnReloadExecutor`): a reload kills only a
// previous reload callback, every other action kills the previous one of the others.
type Slot = 'reload' | 'lifecycle';

/**
 * Runs Patroni's `postgresql.callbacks` without waiting for them: each in its own process group
 * (spawned detached), so that the one still running when the next of its kind starts is killed
 * with all its children (SIGKILL to the group, as Patroni kills the process and its children).
 * Exit codes are logged. A callback is never waited for and outlives the agent.
 *
 * @example
 * ```ts
 * import { CallbackRunner, callbackArgv } from '@pgtools/ha-agent/internals';
 * const runner = new CallbackRunner({ logger });
 * runner.run('on_start', callbackArgv('/etc/patroni/cb.sh', 'on_start', 'replica', 'batman'));
 * ```
 */
export class CallbackRunner {
  private readonly running = new Map<Slot, ChildProcess>();

  constructor(private readonly options: CallbackRunnerOptions) {}

  /** Kills the running callback of the same kind, if any, then starts `argv` and returns at once. */
  run(action: CallbackAction, argv: readonly string[]): void {
    const { logger, runAs } = this.options;
    const slot: Slot = action === 'on_reload' ? 'reload' : 'lifecycle';
    this.killRunning(slot);
    const [file, ...args] = argv;
    if (file === undefined) return;
    let child: ChildProcess;
    try {
      child = spawn(file, args, { detached: true, stdio: 'ignore', ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) });
    } catch (err) {
      logger.warn(`callback ${action} could not be started (${argv.join(' ')}): ${errMessage(err)}`);
      return;
    }
    // A missing or non-executable program is reported here, after spawn() returned.
    child.on('error', (err) => logger.warn(`callback ${action} could not be started (${argv.join(' ')}): ${errMessage(err)}`));
    const pid = child.pid;
    if (pid === undefined) return;
    this.running.set(slot, child);
    logger.info(`callback ${action}: started ${argv.join(' ')} (pid ${pid})`);
    this.options.onEvent?.({ type: 'callback_started', action, argv: [...argv], pid });
    child.on('exit', (code, signal) => {
      if (this.running.get(slot) === child) this.running.delete(slot);
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (code === 0) logger.info(`callback ${action} (pid ${pid}) ${how}`);
      else logger.warn(`callback ${action} (pid ${pid}) ${how}`);
      this.options.onEvent?.({ type: 'callback_exited', action, pid, code, signal });
    });
    // The agent neither waits for a callback nor stays alive for one.
    child.unref();
  }

  private killRunning(slot: Slot): void {
    const child = this.running.get(slot);
    this.running.delete(slot);
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
      this.options.logger.warn(`killed callback ${child.spawnargs.join(' ')} (pid ${child.pid}) because it was still running`);
    } catch (err) {
      debugFailure(this.options.logger, `killing the callback process group ${child.pid}`)(err);
    }
  }
}

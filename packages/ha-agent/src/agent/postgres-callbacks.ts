import type { Logger } from '@pgtools/core';
import type { CallbackAction } from '../config/callbacks-config.js';
import type { HaConfig } from '../config/config-types.js';
import type { RunAs } from '../postgres/run-binary.js';
import { callbackArgv, type CallbackRole } from './callback-command.js';
import { CallbackRunner, type CallbackRunnerEvent } from './callback-runner.js';
import { errMessage } from './agent-errors.js';

/** Where `PostgresCallbacks` finds its commands and how it runs them. */
export interface PostgresCallbacksOptions {
  /** The current configuration (`postgresql.callbacks` and `scope`; a SIGHUP may change them). */
  config(): HaConfig;
  logger: Logger;
  runAs?: RunAs | undefined;
  onEvent?: (event: CallbackRunnerEvent) => void;
  /** Runs one callback without waiting; default a `CallbackRunner`. */
  run?: (action: CallbackAction, argv: string[]) => void;
}

/**
 * When which callback fires, with which role word: Patroni's bookkeeping around `call_nowait`
 * (patroni/postgresql/__init__.py, ha.py), told what the agent did to PostgreSQL.
 *
 * - `on_start` once a start completed (now, or at the first cycle that finds PostgreSQL
 *   answering), also once for a PostgreSQL found running when the agent started;
 * - `on_restart` instead, after a restart (REST `POST /restart`, scheduled restarts);
 * - `on_stop` after the agent stopped a running PostgreSQL (not after a crash);
 * - `on_role_change` at a promotion (`primary`), and instead of `on_start` when a former primary
 *   starts as a replica (`replica`: switchover, demotion, lease guard), or `demoted` when a crashed
 *   primary gave up its leader key without coming back;
 * - `on_reload` after a configuration reload of a running PostgreSQL.
 *
 * @example
 * ```ts
 * import { PostgresCallbacks } from '@pgtools/ha-agent/internals';
 * const callbacks = new PostgresCallbacks({ config: () => config, logger });
 * callbacks.started('replica', await pg.start({ standby: true }));
 * await pg.promote();
 * callbacks.promoted(); // runs `<on_role_change command> on_role_change primary <scope>`
 * ```
 */
export class PostgresCallbacks {
  /** Patroni's `Postgresql.role` as far as callbacks go; undefined until the agent knows it. */
  private role: CallbackRole | undefined;
  /** Patroni's `cb_called`: a start/stop/restart/role change callback fired since the agent started. */
  private called = false;
  /** Patroni's `__cb_pending`: fired once the start in progress completes. */
  private pending: 'on_start' | 'on_restart' | undefined;

  private readonly run: (action: CallbackAction, argv: string[]) => void;

  constructor(private readonly options: PostgresCallbacksOptions) {
    const runner = options.run ? undefined : new CallbackRunner({ logger: options.logger, runAs: options.runAs, onEvent: options.onEvent });
    this.run = options.run ?? ((action, argv) => runner?.run(action, argv));
  }

  /**
   * PostgreSQL was started as `role` (`ready`: it answers already). A former primary starting as
   * a replica is a role change (Patroni's `follow()` with `change_role`): `on_role_change` at once,
   * no `on_start`.
   */
  started(role: 'primary' | 'replica' | 'standby_leader', ready: boolean, how: 'start' | 'restart' = 'start'): void {
    // Patroni's `change_role`: from primary/demoted to a standby role, or between replica and standby_leader.
    const standbyRoles: readonly string[] = ['replica', 'standby_leader'];
    const changesRole =
      how === 'start' &&
      this.called &&
      role !== 'primary' &&
      (this.role === 'primary' || this.role === 'demoted' || (this.role !== undefined && this.role !== role && standbyRoles.includes(this.role)));
    this.role = role;
    if (changesRole) {
      this.pending = undefined;
      this.fire('on_role_change');
      return;
    }
    this.pending = how === 'restart' ? 'on_restart' : 'on_start';
    if (ready) this.answering(role);
  }

  /** The cycle found PostgreSQL answering as `role`: a start that was still in progress completed. */
  answering(role: 'primary' | 'replica' | 'standby_leader'): void {
    // A standby leader answers in recovery, as a replica does.
    if (!(role === 'replica' && this.role === 'standby_leader')) this.role = role;
    const action = this.pending ?? (this.called ? undefined : 'on_start');
    this.pending = undefined;
    if (action) this.fire(action);
  }

  /** The agent stopped a running PostgreSQL (`role`: what it ran as; default the last known role). */
  stopped(role?: CallbackRole): void {
    if (role) this.role = role;
    this.pending = undefined;
    this.fire('on_stop');
  }

  /** The data directory was emptied (reinitialize): the next start is a start, whatever ran before. */
  wiped(): void {
    this.role = undefined;
    this.pending = undefined;
  }

  /** A crashed primary gave up the leader key without coming back (Patroni's `post_recover`). */
  gaveUpLeaderKey(): void {
    if (this.role !== 'primary') return;
    this.role = 'demoted';
    this.fire('on_role_change');
  }

  /**
   * A running standby took or left the standby leader role of a standby cluster without a restart
   * (Patroni's `follow`): `on_role_change` with the new role, when it changed.
   */
  roleChanged(role: 'replica' | 'standby_leader'): void {
    if (this.role === role) return;
    this.role = role;
    this.fire('on_role_change');
  }

  /** Promoted to primary. */
  promoted(): void {
    this.role = 'primary';
    this.fire('on_role_change');
  }

  /** A running PostgreSQL re-read its configuration. */
  reloaded(): void {
    this.fire('on_reload');
  }

  private fire(action: CallbackAction): void {
    if (action !== 'on_reload') this.called = true;
    const { callbacks } = this.options.config().postgresql;
    const command = callbacks?.[action];
    if (command === undefined) return;
    const role = this.role ?? 'replica';
    const scope = this.options.config().scope;
    try {
      this.run(action, callbackArgv(command, action, role, scope));
    } catch (err) {
      this.options.logger.error(`callback ${command} ${action} ${role} ${scope} failed: ${errMessage(err)}`);
    }
  }
}

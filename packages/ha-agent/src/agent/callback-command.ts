import type { CallbackAction } from '../config/callbacks-config.js';
import { shlexSplit } from '../config/shlex-split.js';

/**
 * The role word a callback receives (Patroni 4's `PostgresqlRole` values as `call_nowait` passes
 * them: `promoted` is passed as `primary`); `standby_leader` for the leader of a standby cluster.
 */
export type CallbackRole = 'primary' | 'replica' | 'standby_leader' | 'demoted';

/**
 * The argv of one callback, as Patroni builds it (`Postgresql.call_nowait`):
 * `shlex.split(command) + [action, role, scope]`. Throws `invalid_command` when the command line
 * does not split (an unclosed quote).
 *
 * @example
 * ```ts
 * import { callbackArgv } from '@pgtools/ha-agent/internals';
 * callbackArgv('/usr/bin/python3 /etc/patroni/cb.py --verbose', 'on_role_change', 'primary', 'batman');
 * // ['/usr/bin/python3', '/etc/patroni/cb.py', '--verbose', 'on_role_change', 'primary', 'batman']
 * ```
 */
export function callbackArgv(command: string, action: CallbackAction, role: CallbackRole, scope: string): string[] {
  return [...shlexSplit(command), action, role, scope];
}

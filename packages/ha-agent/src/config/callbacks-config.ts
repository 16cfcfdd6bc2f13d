import { commandWords } from './command-config.js';
import { invalid, type Section } from './config-reader.js';

/**
 * The actions of Patroni's `postgresql.callbacks` (patroni/postgresql/callback_executor.py,
 * `CallbackAction`), in the order its documentation lists them.
 */
export const CALLBACK_ACTIONS = ['on_reload', 'on_restart', 'on_role_change', 'on_start', 'on_stop'] as const;

/** One of `CALLBACK_ACTIONS`. */
export type CallbackAction = (typeof CALLBACK_ACTIONS)[number];

/** `postgresql.callbacks`: the command line (split like Patroni's `shlex.split`) per action. */
export type CallbackCommands = Partial<Record<CallbackAction, string>>;

function isAction(name: string): name is CallbackAction {
  return (CALLBACK_ACTIONS as readonly string[]).includes(name);
}

/**
 * Reads `postgresql.callbacks`: a mapping of action names to command lines. An unknown action
 * name (a typo would silently never run), a command that is not a non-empty string, or one that
 * does not split into words (an unclosed quote) is refused; a null value means no command.
 *
 * @example
 * ```ts
 * // postgresql: {callbacks: {on_role_change: /etc/patroni/vip.sh}}
 * parseCallbacks(p); // { on_role_change: '/etc/patroni/vip.sh' }
 * ```
 */
export function parseCallbacks(p: Section): CallbackCommands | undefined {
  const s = p.section('callbacks');
  const out: CallbackCommands = {};
  for (const [name, value] of Object.entries(s.raw)) {
    const key = s.key(name);
    if (!isAction(name)) throw invalid(key, `unknown callback; the actions are ${CALLBACK_ACTIONS.join(', ')}`);
    if (value === null || value === undefined) continue;
    commandWords(key, value);
    out[name] = value as string;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

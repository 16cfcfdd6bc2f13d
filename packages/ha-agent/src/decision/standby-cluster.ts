import type { DecisionInput } from './decision-input.js';
import type { HaAction } from './ha-action.js';

/**
 * The decision in a standby cluster (Patroni's `is_standby_cluster()` branches of ha.py): the
 * leader key holder never promotes but follows the remote primary as the "standby leader"
 * (`lead_standby`, also when it wins the race or restarts a stopped PostgreSQL), a primary that
 * holds the key is demoted to standby leader (`demote_cluster`: `standby_cluster` was added to
 * a running cluster), and the other members follow the standby leader as usual. `action` is what
 * `decide` chose for a normal cluster; the messages are Patroni's.
 *
 * @example
 * ```ts
 * import { inStandbyCluster } from '@pgtools/ha-agent/internals';
 * inStandbyCluster(input, { kind: 'refresh_leader_and_promote', clearFailoverKey: false, message: '' }).kind; // 'lead_standby'
 * ```
 */
export function inStandbyCluster(input: DecisionInput, action: HaAction): HaAction {
  const me = input.config.name;
  const { local } = input;
  switch (action.kind) {
    case 'bootstrap':
      return { ...action, message: 'trying to bootstrap a new standby leader' };
    case 'wait_for_bootstrap':
      return { ...action, message: action.message.replace('waiting for leader', 'waiting for standby_leader') };
    case 'acquire_leader_and_promote':
      return {
        kind: 'lead_standby',
        acquire: true,
        clearFailoverKey: action.clearFailoverKey,
        message: 'promoted self to a standby leader by acquiring session lock',
      };
    case 'refresh_leader_and_promote':
      return {
        kind: 'lead_standby',
        acquire: false,
        clearFailoverKey: action.clearFailoverKey,
        message: local.standbyLeader
          ? `no action. I am (${me}), the standby leader with the lock`
          : 'promoted self to a standby leader because i had the session lock',
      };
    case 'restart_postgres_as_primary':
      return { kind: 'lead_standby', acquire: false, clearFailoverKey: false, message: 'starting as a standby leader because i had the session lock' };
    case 'refresh_leader': {
      const runningPrimary = local.postgresRunning && local.postgresStarting !== true && local.role === 'primary';
      if (!runningPrimary || input.paused) return action;
      return { kind: 'demote_cluster', message: 'demoting to a standby cluster' };
    }
    case 'follow':
      if (!action.message.startsWith('no action.')) return action;
      return { ...action, message: `no action. I am (${me}), a secondary, and following a standby leader (${action.leader ?? 'none'})` };
    default:
      return action;
  }
}

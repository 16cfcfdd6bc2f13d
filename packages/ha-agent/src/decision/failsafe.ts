import type { DecisionInput } from './decision-input.js';
import type { HaAction } from './ha-action.js';

// Patroni's DCS failsafe mode (patroni/ha.py `_handle_dcs_error`, `check_failsafe_topology`,
// `Failsafe`; docs/dcs_failsafe_mode.rst) as pure decisions. While the leader holds the key it
// publishes the members it sees in the `failsafe` key; when etcd cannot be reached, the primary may
// go on only if every other member listed there accepts its `POST /failsafe`, and a replica that
// gets these calls does not race for the leader key for `ttl` seconds after the last one.

/**
 * A running primary that cannot reach etcd, with failsafe mode on: first ask the members of the
 * `failsafe` key (`failsafe_check`), then keep the primary (`failsafe_keep`) if every one accepted.
 * Undefined = failsafe mode does not save it (off, no `failsafe` key, this node not in it, or a
 * member did not accept): the caller goes on as without failsafe mode (keep while the lease is
 * valid, then demote). A single-member topology keeps the primary at once, as in Patroni.
 */
export function decideFailsafePrimary(input: DecisionInput): HaAction | undefined {
  const cfg = input.config;
  const topology = input.failsafe?.topology;
  if (!cfg.failsafeMode || !topology?.includes(cfg.name)) return undefined;
  const others = topology.filter((n) => n !== cfg.name);
  const acks = input.failsafe?.acks;
  if (others.length > 0 && acks === undefined) {
    return {
      kind: 'failsafe_check',
      members: others,
      message: `DCS is not accessible and failsafe mode is on: asking ${others.join(', ')} (POST /failsafe) whether I may continue as the primary`,
    };
  }
  if (!others.every((n) => acks?.some((a) => a.name === n && a.accepted))) return undefined;
  return { kind: 'failsafe_keep', message: 'continue to run as a leader because failsafe mode is enabled and all members are accessible' };
}

/**
 * No leader key in etcd, with failsafe mode on (Patroni's `Failsafe.update_cluster` and its check
 * in `is_healthiest_node`): a replica that a primary posted to within `ttl` seconds treats that
 * primary as the leader and keeps following it instead of racing; a member missing from a
 * non-empty `failsafe` key is out of the race. Undefined = the usual race.
 */
export function decideFailsafeRace(input: DecisionInput, runningPrimary: boolean): HaAction | undefined {
  const cfg = input.config;
  const me = cfg.name;
  if (!cfg.failsafeMode) return undefined;
  const posted = input.failsafe?.leader;
  if (!runningPrimary && posted && posted.name !== me && input.now - posted.at < cfg.ttl * 1000) {
    const ago = ((input.now - posted.at) / 1000).toFixed(1);
    return {
      kind: 'follow',
      leader: posted.name,
      message: `no action. I am (${me}), a secondary, and following a leader (${posted.name}): failsafe mode is active, it called POST /failsafe ${ago} s ago`,
    };
  }
  const topology = input.failsafe?.topology;
  if (topology && topology.length > 0 && !topology.includes(me)) {
    const why = 'I am not in the failsafe key';
    return runningPrimary
      ? { kind: 'demote', mode: 'immediate', releaseLeader: false, reason: why, message: `demoting self because I am not the healthiest node: ${why}` }
      : { kind: 'follow', leader: undefined, message: `following a different leader because I am not the healthiest node: ${why}` };
  }
  return undefined;
}

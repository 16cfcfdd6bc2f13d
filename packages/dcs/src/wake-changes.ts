import type { KeyLayout } from './key-layout.js';
import type { KeyChange } from './kv-cache.js';

/** `postmaster_start_time` of a member key's JSON value ('' when absent or unreadable). */
function startTimeOf(value: string | undefined): string {
  try {
    const v = (JSON.parse(value ?? '{}') as { postmaster_start_time?: unknown }).postmaster_start_time;
    return typeof v === 'string' ? v : '';
  } catch {
    return '';
  }
}

/**
 * Whether a change of a key must wake the HA loop of member `self` at once rather than at its next
 * loop: leader, failover and config always; status and the leader's optime while someone else leads;
 * the leader's member key when its PostgreSQL restarted in place.
 */
export function isWakeChange(layout: KeyLayout, self: string, change: KeyChange, leaderName: string | undefined): boolean {
  const { key } = change;
  if (key === layout.leader || key === layout.failover || key === layout.config) return true;
  // The leader wrote status itself; replicas want the new optime to re-evaluate lag at once.
  if (key === layout.status || key === layout.leaderOptime) return change.newValue !== undefined && leaderName !== self;
  // The leader's PostgreSQL restarted in place: its replicas reconnect at once (issue 14).
  // The leader key's value is not trusted to be a valid member name: compare, never build, the key.
  if (leaderName !== undefined && leaderName !== self && key === `${layout.members}${leaderName}`) {
    return change.newValue !== undefined && startTimeOf(change.oldValue) !== startTimeOf(change.newValue);
  }
  return false;
}

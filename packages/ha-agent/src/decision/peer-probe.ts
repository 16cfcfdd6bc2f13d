import type { PeerProbe } from './decision-input.js';
import { failoverTags } from './failover-tags.js';

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Turns a member's `GET /patroni` JSON into a `PeerProbe` (Patroni's `_MemberStatus`): the WAL
 * position is the location on a primary, max(received, replayed) on a replica.
 *
 * @example
 * ```ts
 * import { probeFromPatroniStatus } from '@pgtools/ha-agent/internals';
 * probeFromPatroniStatus('node2', { state: 'running', role: 'replica',
 *   xlog: { received_location: 200, replayed_location: 150 } }).walPosition; // 200
 * ```
 */
export function probeFromPatroniStatus(name: string, body: unknown): PeerProbe {
  if (typeof body !== 'object' || body === null) return { name, reachable: false };
  const b = body as Record<string, unknown>;
  const xlog = (typeof b.xlog === 'object' && b.xlog !== null ? b.xlog : {}) as Record<string, unknown>;
  const role = typeof b.role === 'string' ? b.role : undefined;
  const isPrimary = role === 'master' || role === 'primary';
  const walPosition = isPrimary ? num(xlog.location) : Math.max(num(xlog.received_location) ?? 0, num(xlog.replayed_location) ?? 0) || undefined;
  const tags = (typeof b.tags === 'object' && b.tags !== null ? b.tags : {}) as Record<string, unknown>;
  const { nofailover, failoverPriority } = failoverTags(tags);
  const probe: PeerProbe = {
    name,
    reachable: true,
    nofailover,
    failoverPriority,
    watchdogFailed: b.watchdog_failed === true,
  };
  if (role !== undefined) probe.role = role;
  if (typeof b.state === 'string') probe.state = b.state;
  if (walPosition !== undefined) probe.walPosition = walPosition;
  const timeline = num(b.timeline);
  if (timeline !== undefined) probe.timeline = timeline;
  return probe;
}

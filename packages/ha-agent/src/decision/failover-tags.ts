/**
 * Patroni 4's reading of a member's `nofailover` / `failover_priority` tags (patroni/tags.py,
 * `Tags.nofailover` and `Tags.failover_priority`), for this node's tags and for those other
 * members publish:
 * - `nofailover`, when present, wins: true means priority 0, false means the written priority or 1;
 * - without it, `failover_priority <= 0` means never become leader (like `nofailover: true`);
 * - the priority defaults to 1.
 */
export interface FailoverTags {
  /** This member must never take the leader key (race, failover, switchover candidate). */
  nofailover: boolean;
  /** Higher wins the race between members with the same WAL position; 0 when `nofailover`. */
  failoverPriority: number;
}

/** Patroni's `parse_int` for a tag value: an integer, or a string that reads as one; else undefined. */
function intTag(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

/** A boolean tag as published: JSON true, or the strings Patroni's `parse_bool` takes. */
function boolTag(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return ['true', 'on', 'yes', '1'].includes(value.toLowerCase());
  return value === 1;
}

/**
 * The effective `nofailover` and failover priority of a tags object (as written in the
 * configuration or as a member publishes it).
 *
 * @example
 * ```ts
 * import { failoverTags } from '@pgtools/ha-agent/internals';
 * failoverTags({ failover_priority: 0 }); // { nofailover: true, failoverPriority: 0 }
 * failoverTags({ nofailover: false, failover_priority: 0 }); // { nofailover: false, failoverPriority: 0 }
 * failoverTags({}); // { nofailover: false, failoverPriority: 1 }
 * ```
 */
export function failoverTags(tags: Readonly<Record<string, unknown>> | undefined): FailoverTags {
  const { off, priority } = priorityTag(tags, 'nofailover', 'failover_priority');
  return { nofailover: off, failoverPriority: priority };
}

/** Patroni's `_bool_tag` / `_priority_tag` pair: the boolean, when present, wins; priority <= 0 means off. */
function priorityTag(tags: Readonly<Record<string, unknown>> | undefined, boolName: string, priorityName: string): { off: boolean; priority: number } {
  const written = tags?.[boolName];
  const priority = intTag(tags?.[priorityName]);
  const hasBool = written !== undefined && written !== null;
  const off = hasBool ? boolTag(written) : priority !== undefined && priority <= 0;
  return { off, priority: hasBool && boolTag(written) ? 0 : (priority ?? 1) };
}

/**
 * The effective `nosync` and synchronous standby priority of a tags object, read as
 * `failoverTags` reads `nofailover` / `failover_priority` (Patroni 4.1's `Tags.nosync` and
 * `Tags.sync_priority`): higher is preferred as the synchronous standby, 0 never.
 *
 * @example
 * ```ts
 * import { syncTags } from '@pgtools/ha-agent/internals';
 * syncTags({ sync_priority: 0 }); // { nosync: true, syncPriority: 0 }
 * syncTags({}); // { nosync: false, syncPriority: 1 }
 * ```
 */
export function syncTags(tags: Readonly<Record<string, unknown>> | undefined): { nosync: boolean; syncPriority: number } {
  const { off, priority } = priorityTag(tags, 'nosync', 'sync_priority');
  return { nosync: off, syncPriority: priority };
}

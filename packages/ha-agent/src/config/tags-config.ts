import { failoverTags, syncTags } from '../decision/failover-tags.js';
import { describe, invalid, type Section } from './config-reader.js';
import type { NodeTags } from './config-types.js';
import { patroniKey } from './patroni-keys.js';

/** Tags that are true or false (Patroni's validator: `bool`). */
const BOOL_TAGS = ['nofailover', 'noloadbalance', 'clonefrom', 'nosync', 'nostream'] as const;
/** Integer tags >= 0 (Patroni 4.1's `failover_priority` and `sync_priority`). */
const PRIORITY_TAGS: readonly string[] = ['failover_priority', 'sync_priority'];

/**
 * Reads `tags:` (Patroni 4's predefined tags plus custom ones, kept as written). Refused, naming
 * the key: a boolean tag that is not a boolean, `failover_priority` that is not an integer >= 0,
 * `replicatefrom` that is not a non-empty member name, and `nostream: true` without a
 * `restore_command` (in `recovery_conf` or `parameters`, local or dynamic): such
 * a replica could get WAL from nowhere. `nofailover` holds the effective value (Patroni's
 * `Tags.nofailover`: `failover_priority: 0` alone means true). Warned about: `nofailover` and
 * `failover_priority` saying different things (Patroni's `_validate_contradictory_tags`;
 * `nofailover` wins), `replicatefrom` naming this member, and `replicatefrom` with `nostream`.
 *
 * @example
 * ```ts
 * // tags: {failover_priority: 0, replicatefrom: node2}
 * parseTags(top.section('tags'), 'node3', true, warnings);
 * // { nofailover: true, noloadbalance: false, clonefrom: false, nosync: false, failover_priority: 0, replicatefrom: 'node2' }
 * ```
 */
export function parseTags(t: Section, name: string, hasRestoreCommand: boolean, warnings: string[]): NodeTags {
  const tags: NodeTags = { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false };
  for (const key of Object.keys(t.raw)) {
    const value = (BOOL_TAGS as readonly string[]).includes(key) || PRIORITY_TAGS.includes(key) || key === 'replicatefrom' ? t.value(key) : undefined;
    if ((BOOL_TAGS as readonly string[]).includes(key)) {
      const v = t.bool(key);
      if (v !== undefined) tags[key] = v;
    } else if (key === 'failover_priority' || key === 'sync_priority') {
      if (value === null) continue;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalid(t.key(key), `must be an integer >= 0, got ${describe(value)}`);
      tags[key] = value;
    } else if (key === 'replicatefrom') {
      if (value === null) continue;
      if (typeof value !== 'string' || value.trim() === '') throw invalid(t.key(key), `must be the name of a member, got ${describe(value)}`);
      tags.replicatefrom = value;
    } else if (patroniKey(t.key(key)) === undefined) {
      tags[key] = t.value(key); // a custom tag, published as written
    }
  }
  t.unknownKeys(warnings);
  const hasBool = t.raw.nofailover !== undefined && t.raw.nofailover !== null;
  const priority = tags.failover_priority;
  if (hasBool && priority !== undefined && tags.nofailover !== priority <= 0) {
    warnings.push(
      `${t.key('failover_priority')}: ${priority} conflicts with nofailover: ${String(tags.nofailover)}; nofailover wins (as in Patroni): ${tags.nofailover ? 'this member never becomes leader' : `priority ${priority}, and it may become leader`}`,
    );
  }
  tags.nofailover = failoverTags({ nofailover: hasBool ? tags.nofailover : undefined, failover_priority: priority }).nofailover;
  const hasNosync = t.raw.nosync !== undefined && t.raw.nosync !== null;
  const syncPriority = tags.sync_priority;
  if (hasNosync && syncPriority !== undefined && tags.nosync !== syncPriority <= 0) {
    warnings.push(`${t.key('sync_priority')}: ${syncPriority} conflicts with nosync: ${String(tags.nosync)}; nosync wins (as in Patroni)`);
  }
  tags.nosync = syncTags({ nosync: hasNosync ? tags.nosync : undefined, sync_priority: syncPriority }).nosync;
  if (tags.replicatefrom === name) warnings.push(`${t.key('replicatefrom')}: names this member itself; it streams from the leader`);
  if (tags.nostream === true) {
    if (tags.replicatefrom !== undefined) warnings.push(`${t.key('replicatefrom')}: has no effect with nostream: true (this member does not stream)`);
    if (!hasRestoreCommand) {
      throw invalid(
        t.key('nostream'),
        'needs a restore_command (in recovery_conf or parameters, local or dynamic): without streaming, the archive is where this replica gets its WAL',
      );
    }
  }
  return tags;
}

/**
 * The tags a member publishes (member key and `GET /patroni`): those that are not false, plus
 * `nofailover` / `nosync` whenever `failover_priority` / `sync_priority` is set (Patroni's `_filter_tags`), so that readers
 * see both.
 *
 * @example
 * ```ts
 * publishedTags({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false, failover_priority: 2 });
 * // { nofailover: false, failover_priority: 2 }
 * ```
 */
export function publishedTags(tags: NodeTags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (v === undefined) continue;
    if (v !== false || (k === 'nofailover' && tags.failover_priority !== undefined) || (k === 'nosync' && tags.sync_priority !== undefined)) out[k] = v;
  }
  return out;
}

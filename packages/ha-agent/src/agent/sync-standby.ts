import type { PgStatus } from '../postgres/pg-status.js';

/** What the leader should do about its synchronous standby this loop. */
export interface SyncStandbyChoice {
  /** The member that should be the synchronous standby; undefined = none is eligible. */
  picked: string | undefined;
  /** `picked` when PostgreSQL already reports it as `sync` (commits wait for it): only then may the `sync` key name it. */
  confirmed: string | undefined;
  /** Streaming members left out for lagging more than `maximum_lag_on_syncnode`. */
  lagging: string[];
}

/** What `pickSyncStandby` needs for `maximum_lag_on_syncnode`. */
export interface SyncnodeLag {
  /** `maximum_lag_on_syncnode`, bytes; 0 or less (Patroni's default -1) = no limit. */
  maximumLagOnSyncnode?: number | undefined;
  /** The primary's WAL flush position: the reference when a single standby streams. */
  primaryLsn?: number | undefined;
}

/**
 * The standbys within `maximum_lag_on_syncnode` (Patroni's `SyncHandler.current_state`): their
 * position (`lsn`) trails the most advanced standby's, or the primary's when only one streams, by
 * no more than the limit. A standby whose position is unknown is left out when a limit is set.
 *
 * @example
 * ```ts
 * import { withinSyncnodeLag } from '@pgtools/ha-agent/internals';
 * withinSyncnodeLag([{ application_name: 'node2', lsn: 100 }, { application_name: 'node3', lsn: 900 }], { maximumLagOnSyncnode: 500 });
 * // [{ application_name: 'node3', lsn: 900 }]
 * ```
 */
export function withinSyncnodeLag<R extends { lsn?: number | undefined }>(rows: R[], lag: SyncnodeLag): R[] {
  const limit = lag.maximumLagOnSyncnode ?? -1;
  if (limit <= 0) return rows;
  const known = rows.flatMap((r) => (r.lsn === undefined ? [] : [r.lsn]));
  const reference = known.length > 1 ? Math.max(...known) : lag.primaryLsn;
  if (reference === undefined) return rows;
  return rows.filter((r) => r.lsn !== undefined && reference - r.lsn <= limit);
}

/**
 * Picks the synchronous standby (Patroni's `current_state` for one sync standby): among the members
 * streaming from this primary (their `application_name` is their member name), not tagged `nosync`,
 * the current one stays while it streams; otherwise the first that PostgreSQL already reports as
 * `sync` or `potential`, then the first by name. `confirmed` tells whether commits already wait for it.
 *
 * @example
 * ```ts
 * import { pickSyncStandby } from '@pgtools/ha-agent/internals';
 * pickSyncStandby({
 *   me: 'node1', current: undefined,
 *   members: [{ name: 'node2' }, { name: 'node3', nosync: true }],
 *   replication: [{ usename: 'replicator', application_name: 'node2', client_addr: null, state: 'streaming', sync_state: 'async', sync_priority: 0 }],
 * }); // { picked: 'node2', confirmed: undefined, lagging: [] }
 * ```
 */
export function pickSyncStandby(
  input: {
    me: string;
    current: string | undefined;
    members: Array<{ name: string; nosync?: boolean; syncPriority?: number }>;
    replication: PgStatus['replication'];
  } & SyncnodeLag,
): SyncStandbyChoice {
  const { ordered, lagging, priority } = rankSyncCandidates(input);
  const current = ordered.find((r) => r.application_name === input.current);
  // The current standby stays unless a higher priority one streams (no flapping between equals).
  const row = current && ordered[0] && priority(current) >= priority(ordered[0]) ? current : ordered[0];
  if (!row) return { picked: undefined, confirmed: undefined, lagging };
  return { picked: row.application_name, confirmed: row.sync_state === 'sync' ? row.application_name : undefined, lagging };
}

/**
 * The members that may be synchronous standbys, best first (Patroni's `_ReplicaList`): streaming
 * from this primary (their `application_name` is their member name), not tagged `nosync`, within
 * `maximum_lag_on_syncnode`; by `sync_priority`, then the sync state PostgreSQL reports (so the
 * current ones stay), then name.
 */
export function rankSyncCandidates(
  input: { me: string; members: Array<{ name: string; nosync?: boolean; syncPriority?: number }>; replication: PgStatus['replication'] } & SyncnodeLag,
): { ordered: PgStatus['replication']; lagging: string[]; priority: (r: PgStatus['replication'][number]) => number } {
  const eligible = new Set(input.members.filter((m) => m.name !== input.me && !m.nosync).map((m) => m.name));
  const candidates = input.replication.filter((r) => r.state === 'streaming' && eligible.has(r.application_name));
  const streaming = withinSyncnodeLag(candidates, input);
  const lagging = candidates.filter((r) => !streaming.includes(r)).map((r) => r.application_name);
  const rank = (r: PgStatus['replication'][number]): number =>
    r.sync_state === 'sync' || r.sync_state === 'quorum' ? 0 : r.sync_state === 'potential' ? 1 : 2;
  // Patroni 4.1 sorts by sync_priority first (tags.sync_priority, default 1), then the sync state.
  const priorities = new Map(input.members.map((m) => [m.name, m.syncPriority ?? 1]));
  const priority = (r: PgStatus['replication'][number]): number => priorities.get(r.application_name) ?? 1;
  const ordered = [...streaming].sort((a, b) => priority(b) - priority(a) || rank(a) - rank(b) || a.application_name.localeCompare(b.application_name));
  return { ordered, lagging, priority };
}

/**
 * The `synchronous_standby_names` value naming one member (a quoted identifier, as PostgreSQL
 * parses the list), `*` in strict mode with no standby (every commit waits for any standby), else
 * empty (commits do not wait).
 *
 * @example
 * ```ts
 * import { synchronousStandbyNames } from '@pgtools/ha-agent/internals';
 * synchronousStandbyNames('node2', false); // '"node2"'
 * synchronousStandbyNames(undefined, true); // '*'
 * ```
 */
export function synchronousStandbyNames(member: string | undefined, strict: boolean): string {
  if (member !== undefined) return `"${member.replace(/"/g, '""')}"`;
  return strict ? '*' : '';
}

/** The `sync` key as the leader's plan needs it. */
export interface SyncKeyFacts {
  leader?: string | null | undefined;
  /** The standbys it names (`syncStandbysOf`). */
  standbys: string[];
  modRevision: number;
}

/**
 * What the leader does about synchronous replication this loop (see `planSyncReplication`):
 * `disable` = synchronous mode off; `keep` = the current standby stays; `assign` = name a new one
 * (or none), revoking the privilege in the key first when it names someone else.
 */
export type SyncPlan =
  | { kind: 'disable'; resetNames: boolean; deleteKeyAt: number | undefined }
  | { kind: 'keep'; names: string }
  | {
      kind: 'assign';
      /** The standby that loses its privilege (logged). */
      revokeFrom: string | undefined;
      /** Write `sync_standby: null` (at `keyRevision`) before PostgreSQL stops waiting for anyone named so far. */
      clearKeyFirst: boolean;
      keyRevision: number;
      /** The new `synchronous_standby_names`. */
      names: string;
      picked: string | undefined;
      /** PostgreSQL already reports `picked` as `sync`. */
      confirmed: boolean;
      /** Streaming members passed over for `maximum_lag_on_syncnode`. */
      lagging: string[];
    };

/**
 * Synchronous mode on the leader (Patroni's `process_sync_replication`) as a pure plan: the `sync`
 * key only names a standby PostgreSQL already waits for, and a standby loses the privilege in the
 * key before PostgreSQL stops waiting for it. Off: hand `synchronous_standby_names` back to the
 * configuration and remove the key if it is this leader's.
 *
 * @example
 * ```ts
 * import { planSyncReplication } from '@pgtools/ha-agent/internals';
 * planSyncReplication({ me: 'node1', synchronousMode: false, strict: false, namesSet: true, key: undefined, members: [], replication: [] });
 * // { kind: 'disable', resetNames: true, deleteKeyAt: undefined }
 * ```
 */
export function planSyncReplication(
  input: {
    me: string;
    synchronousMode: boolean;
    strict: boolean;
    /** The agent has set `synchronous_standby_names` (it is not the configuration's). */
    namesSet: boolean;
    key: SyncKeyFacts | undefined;
    members: Array<{ name: string; nosync?: boolean; syncPriority?: number }>;
    replication: PgStatus['replication'];
  } & SyncnodeLag,
): SyncPlan {
  const { me, key } = input;
  const mine = key?.leader === me;
  if (!input.synchronousMode) return { kind: 'disable', resetNames: input.namesSet, deleteKeyAt: mine ? key?.modRevision : undefined };
  const current = mine ? key?.standbys[0] : undefined;
  const choice = pickSyncStandby({
    me,
    current,
    members: input.members,
    replication: input.replication,
    maximumLagOnSyncnode: input.maximumLagOnSyncnode,
    primaryLsn: input.primaryLsn,
  });
  // A key naming several standbys (left by `synchronous_node_count` > 1) is narrowed first.
  if (mine && choice.picked === current && (key?.standbys.length ?? 0) <= 1) return { kind: 'keep', names: synchronousStandbyNames(current, input.strict) };
  return {
    kind: 'assign',
    revokeFrom: current,
    clearKeyFirst: !mine || current !== undefined,
    keyRevision: key?.modRevision ?? 0,
    names: synchronousStandbyNames(choice.picked, input.strict),
    picked: choice.picked,
    confirmed: choice.picked !== undefined && choice.confirmed === choice.picked,
    lagging: choice.lagging,
  };
}

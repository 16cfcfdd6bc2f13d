import type { PgStatus } from '../postgres/pg-status.js';

/** What the leader should do about its synchronous standby this loop. */
export interface SyncStandbyChoice {
  /** The member that should be the synchronous standby; undefined = none is eligible. */
  picked: string | undefined;
  /** `picked` when PostgreSQL already reports it as `sync` (commits wait for it): only then may the `sync` key name it. */
  confirmed: string | undefined;
}

/**
 * Picks the synchronous standby (Patroni's `current_state` for one sync standby): among the members
 * streaming from this primary (their `application_name` is their member name), not tagged `nosync`,
 * the current one stays while it streams; otherwise the first that PostgreSQL already reports as
 * `sync` or `potential`, then the first by name. `confirmed` tells whether commits already wait for it.
 *
 * @example
 * ```ts
 * import { pickSyncStandby } from '@pgtools/ha-agent';
 * pickSyncStandby({
 *   me: 'node1', current: undefined,
 *   members: [{ name: 'node2' }, { name: 'node3', nosync: true }],
 *   replication: [{ usename: 'replicator', application_name: 'node2', client_addr: null, state: 'streaming', sync_state: 'async', sync_priority: 0 }],
 * }); // { picked: 'node2', confirmed: undefined }
 * ```
 */
export function pickSyncStandby(input: {
  me: string;
  current: string | undefined;
  members: Array<{ name: string; nosync?: boolean }>;
  replication: PgStatus['replication'];
}): SyncStandbyChoice {
  const eligible = new Set(input.members.filter((m) => m.name !== input.me && !m.nosync).map((m) => m.name));
  const streaming = input.replication.filter((r) => r.state === 'streaming' && eligible.has(r.application_name));
  const rank = (r: PgStatus['replication'][number]): number => (r.sync_state === 'sync' ? 0 : r.sync_state === 'potential' ? 1 : 2);
  const ordered = [...streaming].sort((a, b) => rank(a) - rank(b) || a.application_name.localeCompare(b.application_name));
  const row = streaming.find((r) => r.application_name === input.current) ?? ordered[0];
  if (!row) return { picked: undefined, confirmed: undefined };
  return { picked: row.application_name, confirmed: row.sync_state === 'sync' ? row.application_name : undefined };
}

/**
 * The `synchronous_standby_names` value naming one member (a quoted identifier, as PostgreSQL
 * parses the list), `*` in strict mode with no standby (every commit waits for any standby), else
 * empty (commits do not wait).
 *
 * @example
 * ```ts
 * import { synchronousStandbyNames } from '@pgtools/ha-agent';
 * synchronousStandbyNames('node2', false); // '"node2"'
 * synchronousStandbyNames(undefined, true); // '*'
 * ```
 */
export function synchronousStandbyNames(member: string | undefined, strict: boolean): string {
  if (member !== undefined) return `"${member.replace(/"/g, '""')}"`;
  return strict ? '*' : '';
}

import type { ClientBase } from 'pg';
import { displayName } from '@pgtools/core';
import { conflictingLockModes, pgLocksModeName, type LockMode } from './lock-mode.js';
import type { RelationName } from './relation.js';

/**
 * Another session that delays a lock request: it holds, or waits for, a conflicting lock.
 *
 * @example
 * ```ts
 * import type { BlockerInfo } from '@pgtools/lock';
 * const show = (b: BlockerInfo) => `${b.pid} ${b.usename} ${b.applicationName} ${b.state} ${b.mode}`;
 * ```
 */
export interface BlockerInfo {
  /** Backend pid (for a parallel worker, its leader: that is the session to cancel). */
  pid: number;
  usename: string | null;
  applicationName: string | null;
  /** `pg_stat_activity.state`: 'active', 'idle in transaction', ... */
  state: string | null;
  /** The current or last query, truncated. */
  query: string | null;
  backendType: string | null;
  /** The conflicting lock as `pg_locks.mode` names it, e.g. 'AccessShareLock'. */
  mode: string;
  /** False when the session is itself waiting for that lock. */
  granted: boolean;
  /** The relation the conflicting lock is on. */
  relation: string;
  /** When its transaction started (ISO text), null outside a transaction. */
  xactStart: string | null;
}

/**
 * Queries longer than this many characters are cut in events and messages.
 *
 * @example
 * ```ts
 * import { BLOCKER_QUERY_MAX_CHARS } from '@pgtools/lock';
 * console.log(`queries are shown up to ${BLOCKER_QUERY_MAX_CHARS} characters`);
 * ```
 */
export const BLOCKER_QUERY_MAX_CHARS = 200;

/**
 * Sessions holding or waiting for a lock on any of `relations` that conflicts with `mode`,
 * one entry per session, excluding this session and `excludePids`.
 *
 * @example
 * ```ts
 * import { findBlockers } from '@pgtools/lock';
 * const blockers = await findBlockers(client, [{ schema: 'public', name: 'orders' }], 'ACCESS EXCLUSIVE');
 * for (const b of blockers) console.log(b.pid, b.usename, b.state, b.mode, b.query);
 * ```
 */
export async function findBlockers(
  client: Pick<ClientBase, 'query'>,
  relations: readonly RelationName[],
  mode: LockMode,
  excludePids: readonly number[] = [],
): Promise<BlockerInfo[]> {
  const modes = conflictingLockModes(mode).map(pgLocksModeName);
  const res = await client.query<{
    pid: number;
    usename: string | null;
    application_name: string | null;
    state: string | null;
    query: string | null;
    backend_type: string | null;
    mode: string;
    granted: boolean;
    nspname: string;
    relname: string;
    xact_start: string | null;
  }>(
    `SELECT DISTINCT ON (b.pid) b.*
       FROM (SELECT coalesce(a.leader_pid, l.pid) AS pid,
                    a.usename::text AS usename, a.application_name, a.state,
                    pg_catalog.left(a.query, $5) AS query, a.backend_type,
                    l.mode, l.granted, n.nspname::text AS nspname, c.relname::text AS relname,
                    pg_catalog.to_char(a.xact_start, 'YYYY-MM-DD"T"HH24:MI:SS.MSOF') AS xact_start
               FROM pg_catalog.pg_locks l
               JOIN pg_catalog.pg_class c ON c.oid = l.relation
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'relation'
                AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
                AND (n.nspname::text, c.relname::text) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                AND l.mode = ANY ($3::text[])
                AND l.pid IS NOT NULL
                AND l.pid <> pg_catalog.pg_backend_pid()) b
      WHERE b.pid <> pg_catalog.pg_backend_pid()
        AND NOT (b.pid = ANY ($4::int[]))
      ORDER BY b.pid, b.granted DESC, b.nspname, b.relname`,
    [relations.map((r) => r.schema), relations.map((r) => r.name), modes, [...excludePids], BLOCKER_QUERY_MAX_CHARS],
  );
  return res.rows.map((r) => ({
    pid: r.pid,
    usename: r.usename,
    applicationName: r.application_name,
    state: r.state,
    query: r.query,
    backendType: r.backend_type,
    mode: r.mode,
    granted: r.granted,
    relation: displayName(r.nspname, r.relname),
    xactStart: r.xact_start,
  }));
}

/**
 * One line per blocker for messages: pid, user, application, state, lock and query.
 *
 * @example
 * ```ts
 * import { describeBlocker } from '@pgtools/lock';
 * console.error(blockers.map(describeBlocker).join('\n'));
 * ```
 */
export function describeBlocker(b: BlockerInfo): string {
  const lock = `${b.granted ? 'holding' : 'waiting for'} ${b.mode} on ${b.relation}`;
  const who = `user ${b.usename ?? '?'}, application ${JSON.stringify(b.applicationName ?? '')}, state ${b.state ?? '?'}`;
  const query = b.query ? `: ${JSON.stringify(b.query.replace(/\s+/g, ' ').trim())}` : '';
  return `pid ${b.pid} (${who}) ${lock}${query}`;
}

import type { ClientBase } from 'pg';
import { PgToolsError, wrapPgError } from '@pgtools/core';

/**
 * The first key of pg_repack's advisory lock (`REPACK_LOCK_PREFIX_STR` in pg_repack's
 * `bin/pg_repack.c`). Using the same key pair keeps pgtools and pg_repack off one table at once.
 *
 * @example
 * ```ts
 * import { REPACK_ADVISORY_CLASS } from '@pgtools/lock';
 * await client.query("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1", [REPACK_ADVISORY_CLASS]);
 * ```
 */
export const REPACK_ADVISORY_CLASS = 16185446;

// pg_repack's exact expression: an oid is unsigned, the two-key form takes signed int4s,
// so the oid is shifted into int4 range. Keep it byte for byte.
const KEY2_SQL = 'CAST(-2147483648 + $2::bigint AS integer)';

/**
 * The outcome of {@link tryAdvisoryTableLock}.
 *
 * @example
 * ```ts
 * import type { AdvisoryLockResult } from '@pgtools/lock';
 * const why = (r: AdvisoryLockResult) => (r.acquired ? 'ours' : `held by pid ${r.holderPid ?? 'unknown'}`);
 * ```
 */
export type AdvisoryLockResult =
  | { acquired: true }
  | {
      acquired: false;
      /** The session holding the lock; null when it was released between the try and the lookup. */
      holderPid: number | null;
      holderApplication: string | null;
    };

function checkOid(tableOid: number): void {
  if (!Number.isInteger(tableOid) || tableOid < 0 || tableOid > 0xffffffff) {
    throw new PgToolsError('invalid_argument', `a table oid must be an integer in 0..4294967295, got ${String(tableOid)}`);
  }
}

/**
 * Tries to take the session-level advisory lock pg_repack takes on a table
 * (`pg_try_advisory_lock(16185446, CAST(-2147483648 + oid::bigint AS integer))`); never waits.
 * When another session holds it, reports that session from `pg_locks`.
 * Session-level advisory locks stack: a session that takes it twice must release it twice.
 *
 * @example
 * ```ts
 * import { tryAdvisoryTableLock, releaseAdvisoryTableLock } from '@pgtools/lock';
 * const r = await tryAdvisoryTableLock(client, tableOid);
 * if (!r.acquired) throw new Error(`table busy (pid ${r.holderPid}, ${r.holderApplication})`);
 * try { ... } finally { await releaseAdvisoryTableLock(client, tableOid); }
 * ```
 */
export async function tryAdvisoryTableLock(client: ClientBase, tableOid: number): Promise<AdvisoryLockResult> {
  checkOid(tableOid);
  try {
    const res = await client.query<{ acquired: boolean }>(`SELECT pg_catalog.pg_try_advisory_lock($1, ${KEY2_SQL}) AS acquired`, [
      REPACK_ADVISORY_CLASS,
      tableOid,
    ]);
    if (res.rows[0]?.acquired === true) return { acquired: true };
    // pg_locks shows the two int4 keys as classid/objid reinterpreted as unsigned, objsubid = 2.
    const holder = await client.query<{ pid: number; application_name: string | null }>(
      `SELECT l.pid, a.application_name
         FROM pg_catalog.pg_locks l
         LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory'
          AND l.granted
          AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
          AND l.classid = $1::bigint::oid
          AND l.objid::bigint = (${KEY2_SQL}::bigint & 4294967295)
          AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
        ORDER BY l.pid
        LIMIT 1`,
      [REPACK_ADVISORY_CLASS, tableOid],
    );
    const row = holder.rows[0];
    return { acquired: false, holderPid: row?.pid ?? null, holderApplication: row?.application_name ?? null };
  } catch (err) {
    throw wrapPgError(err, 'advisory_lock_failed', `advisory lock on table oid ${tableOid} failed`);
  }
}

/**
 * Releases the advisory lock taken by {@link tryAdvisoryTableLock} on the same session.
 * Resolves to false when this session did not hold it (PostgreSQL also sends a WARNING then).
 *
 * @example
 * ```ts
 * import { releaseAdvisoryTableLock } from '@pgtools/lock';
 * await releaseAdvisoryTableLock(client, tableOid);
 * ```
 */
export async function releaseAdvisoryTableLock(client: ClientBase, tableOid: number): Promise<boolean> {
  checkOid(tableOid);
  try {
    const res = await client.query<{ released: boolean }>(`SELECT pg_catalog.pg_advisory_unlock($1, ${KEY2_SQL}) AS released`, [
      REPACK_ADVISORY_CLASS,
      tableOid,
    ]);
    return res.rows[0]?.released === true;
  } catch (err) {
    throw wrapPgError(err, 'advisory_lock_failed', `advisory unlock of table oid ${tableOid} failed`);
  }
}

import type { ClientBase, Pool, PoolClient, PoolConfig } from 'pg';

/** Anything that can run a query: a `pg.Client`, a `pg.PoolClient` or a `pg.Pool`. */
export type Queryable = Pick<ClientBase, 'query'>;

/**
 * Session settings pgtools needs on a connection it works with, set with `SET` so they
 * override role and database defaults (`ALTER ROLE ... SET statement_timeout` would otherwise
 * cancel a long copy, and `idle_in_transaction_session_timeout` would kill a lock-holding session).
 */
export interface SessionSettings {
  applicationName?: string;
  /** Milliseconds; 0 disables. Default 0. */
  statementTimeoutMs?: number;
  /** Milliseconds; 0 disables. Default 0. */
  lockTimeoutMs?: number;
  /** Milliseconds; 0 disables. Default 0. */
  idleInTransactionTimeoutMs?: number;
  /** Pin `search_path` so unqualified names in our SQL never resolve to user objects. Default true. */
  safeSearchPath?: boolean;
}

/**
 * Applies {@link SessionSettings} to a connection, all values passed as parameters.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { prepareSession } from '@pgtools/core';
 * const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
 * await client.connect();
 * await prepareSession(client, { applicationName: 'pgtools-repack' });
 * ```
 */
export async function prepareSession(client: Queryable, settings: SessionSettings = {}): Promise<void> {
  const pairs: Array<[string, string]> = [
    ['statement_timeout', String(settings.statementTimeoutMs ?? 0)],
    ['lock_timeout', String(settings.lockTimeoutMs ?? 0)],
    ['idle_in_transaction_session_timeout', String(settings.idleInTransactionTimeoutMs ?? 0)],
  ];
  if (settings.applicationName !== undefined) pairs.push(['application_name', settings.applicationName]);
  if (settings.safeSearchPath ?? true) pairs.push(['search_path', 'pg_catalog, pg_temp']);
  const sql = `SELECT ${pairs.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(', ')}`;
  await client.query(sql, pairs.flat());
}

/**
 * Runs `fn` in a transaction on one client: COMMIT when it resolves, ROLLBACK when it throws.
 *
 * @example
 * ```ts
 * import { withTransaction } from '@pgtools/core';
 * await withTransaction(client, async () => {
 *   await client.query('LOCK TABLE public.orders IN SHARE MODE');
 * }, 'ISOLATION LEVEL REPEATABLE READ');
 * ```
 */
export async function withTransaction<T>(client: Queryable, fn: () => Promise<T>, mode = ''): Promise<T> {
  await client.query(mode ? `BEGIN ${mode}` : 'BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // The connection may be gone; the server rolls back on its own then.
    }
    throw err;
  }
}

/** A pool, or the configuration to make one; libraries accept either. */
export type PoolOrConfig = Pool | PoolConfig;

/**
 * True when the value is a `pg.Pool` (duck-typed so two copies of `pg` still work).
 *
 * @example
 * ```ts
 * import { isPool } from '@pgtools/core';
 * const pool = isPool(input) ? input : new pg.Pool(input);
 * ```
 */
export function isPool(value: unknown): value is Pool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Pool).connect === 'function' &&
    typeof (value as Pool).end === 'function' &&
    'totalCount' in value
  );
}

/** A client checked out of a pool. */
export type { PoolClient };

import pg from 'pg';
import type { ClientConfig, Pool, PoolClient } from 'pg';
import { debugFailure, PgToolsError, displayName, isPool, prepareSession, silentLogger, wrapPgError, type Logger } from '@pgtools/core';
import { BLOCKER_QUERY_MAX_CHARS } from './blockers.js';
import type { RelationName } from './relation.js';

/** A session found waiting behind the guarded lock. */
export interface QueuedSession {
  pid: number;
  usename: string | null;
  applicationName: string | null;
  /** Truncated. */
  query: string | null;
  /** The lock it waits for, as `pg_locks.mode` names it (e.g. 'AccessExclusiveLock'). */
  mode: string;
  relation: string;
  /** When its current query started (ISO text). */
  queryStart: string | null;
}

/**
 * What the DDL guard reports (the `type` field tells them apart).
 *
 * @example
 * ```ts
 * import type { DdlGuardEvent } from '@pgtools/lock';
 * const onEvent = (e: DdlGuardEvent) => {
 *   if (e.type === 'ddl-cancelled') console.error(`cancelled ${e.session.pid}: ${e.session.query}`);
 * };
 * ```
 */
export type DdlGuardEvent =
  | { type: 'ddl-queued'; action: 'report'; session: QueuedSession }
  | { type: 'ddl-cancelled'; action: 'cancel'; session: QueuedSession }
  | { type: 'ddl-cancel-failed'; action: 'cancel'; session: QueuedSession; error: string }
  | { type: 'ddl-guard-error'; error: string };

/** Hands out a connection for the guard's lifetime and takes it back (`broken`: it failed, do not reuse it). */
export interface ConnectionLender {
  connect(): Promise<pg.ClientBase>;
  release(client: pg.ClientBase, broken: boolean): Promise<void>;
}

/** Options of {@link startDdlGuard}. */
export interface DdlGuardOptions {
  /**
   * Where to connect: the guard uses a connection of its own (checked out of a pool or a lender for
   * its lifetime, or a new `pg.Client`).
   */
  connection: Pool | ConnectionLender | ClientConfig | string;
  /** The session holding the long-lived lock (e.g. the repack's SHARE UPDATE EXCLUSIVE holder). */
  guardPid: number;
  /** Tables to watch, by name or oid. */
  relations: Array<RelationName | number>;
  /** 'cancel': `pg_cancel_backend` each queued session; 'report': only report it. */
  action: 'cancel' | 'report';
  /** Poll interval, default 250 ms. */
  intervalMs?: number;
  onEvent?: (event: DdlGuardEvent) => void;
  logger?: Logger;
  /** application_name of the guard's connection; default 'pgtools-ddl-guard'. */
  applicationName?: string;
}

/** A running DDL guard. */
export interface DdlGuard {
  /** Stops polling, waits for a poll in flight, closes the connection. Safe to call twice. */
  stop(): Promise<void>;
  /** Every queued-session event seen so far (one per waiting query, not one per poll). */
  queuedSeen(): DdlGuardEvent[];
  /** Runs one poll now (also what the timer runs); never throws. */
  pollNow(): Promise<void>;
}

const DEFAULT_INTERVAL_MS = 250;

/**
 * Watches for sessions that queue behind a long-held lock. While a repack holds SHARE UPDATE EXCLUSIVE,
 * an `ALTER TABLE` that waits for it would make every later reader and writer wait behind the ALTER.
 * Every `intervalMs` the guard lists sessions waiting (`granted = false`) for a lock on the watched tables
 * whose wait is caused by `guardPid` (`pg_blocking_pids`), and cancels or reports them.
 * Polling errors are reported as events and logged, never thrown.
 *
 * @example
 * ```ts
 * import { startDdlGuard } from '@pgtools/lock';
 * const guard = await startDdlGuard({
 *   connection: pool,
 *   guardPid: holderPid,
 *   relations: [{ schema: 'public', name: 'orders' }],
 *   action: 'cancel',
 *   onEvent: (e) => console.error(e),
 * });
 * try { await longCopy(); } finally { await guard.stop(); }
 * ```
 */
export async function startDdlGuard(options: DdlGuardOptions): Promise<DdlGuard> {
  const logger = options.logger ?? silentLogger;
  const intervalMs = Math.max(10, Math.round(options.intervalMs ?? DEFAULT_INTERVAL_MS));
  if (!Number.isInteger(options.guardPid) || options.guardPid <= 0) {
    throw new PgToolsError('invalid_argument', `guardPid must be a positive integer, got ${String(options.guardPid)}`);
  }
  if (options.action !== 'cancel' && options.action !== 'report') {
    throw new PgToolsError('invalid_argument', `action must be 'cancel' or 'report', got ${JSON.stringify(options.action)}`);
  }
  const oids: number[] = [];
  const schemas: string[] = [];
  const names: string[] = [];
  if (!Array.isArray(options.relations) || options.relations.length === 0) {
    throw new PgToolsError('invalid_argument', 'at least one relation is required');
  }
  for (const r of options.relations) {
    if (typeof r === 'number' && Number.isInteger(r) && r > 0) oids.push(r);
    else if (typeof r === 'object' && r !== null && typeof r.schema === 'string' && typeof r.name === 'string') {
      schemas.push(r.schema);
      names.push(r.name);
    } else throw new PgToolsError('invalid_argument', `a relation must be an oid or {schema, name}, got ${JSON.stringify(r)}`);
  }
  const applicationName = options.applicationName ?? 'pgtools-ddl-guard';

  type Conn = { client: pg.ClientBase; close(broken: boolean): Promise<void> };
  const connect = async (): Promise<Conn> => {
    const source = options.connection;
    let conn: Conn;
    if (isPool(source)) {
      const client: PoolClient = await source.connect();
      conn = {
        client,
        close: async (broken) => {
          client.release(broken ? true : undefined);
        },
      };
    } else if (typeof source === 'object' && 'release' in source && typeof source.release === 'function') {
      const lender = source;
      const client = await lender.connect();
      conn = { client, close: (broken) => lender.release(client, broken) };
    } else {
      const client = new pg.Client(typeof source === 'string' ? { connectionString: source } : (source as ClientConfig));
      // An 'error' event without a listener would crash the process (e.g. the server restarts).
      client.on('error', (err) => logger.warn('DDL guard connection error', { error: err.message }));
      await client.connect();
      conn = { client, close: async () => void (await client.end().catch(debugFailure(logger, 'closing the DDL guard connection'))) };
    }
    try {
      await prepareSession(conn.client, { applicationName, statementTimeoutMs: 10_000 });
    } catch (err) {
      await conn.close(true);
      throw err;
    }
    return conn;
  };

  let conn: Conn | undefined;
  try {
    conn = await connect();
  } catch (err) {
    throw wrapPgError(err, 'connection_failed', 'the DDL guard could not connect');
  }

  const seen: DdlGuardEvent[] = [];
  const seenKeys = new Set<string>();
  const emit = (event: DdlGuardEvent): void => {
    if (!options.onEvent) return;
    try {
      options.onEvent(event);
    } catch (err) {
      logger.warn('DDL guard event listener threw', { error: err instanceof Error ? err.message : String(err) });
    }
  };

  const pollOnce = async (client: pg.ClientBase): Promise<void> => {
    // Waiters are filtered before pg_blocking_pids runs: it takes the lock manager's partition locks.
    const res = await client.query<{
      pid: number;
      usename: string | null;
      application_name: string | null;
      query: string | null;
      mode: string;
      nspname: string;
      relname: string;
      query_start: string | null;
    }>(
      `WITH waiting AS MATERIALIZED (
         SELECT l.pid, l.mode, l.relation
           FROM pg_catalog.pg_locks l
           JOIN pg_catalog.pg_class c ON c.oid = l.relation
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE l.locktype = 'relation'
            AND NOT l.granted
            AND l.pid IS NOT NULL
            AND l.pid <> $1
            AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
            AND (l.relation = ANY ($2::oid[])
                 OR (n.nspname::text, c.relname::text) IN (SELECT * FROM unnest($3::text[], $4::text[])))
       )
       SELECT DISTINCT ON (w.pid) w.pid, a.usename::text AS usename, a.application_name,
              pg_catalog.left(a.query, $5) AS query, w.mode, n.nspname::text AS nspname, c.relname::text AS relname,
              pg_catalog.to_char(a.query_start, 'YYYY-MM-DD"T"HH24:MI:SS.USOF') AS query_start
         FROM waiting w
         JOIN pg_catalog.pg_class c ON c.oid = w.relation
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = w.pid
        WHERE pg_catalog.pg_blocking_pids(w.pid) @> ARRAY[$1::int]
        ORDER BY w.pid`,
      [options.guardPid, oids, schemas, names, BLOCKER_QUERY_MAX_CHARS],
    );
    for (const r of res.rows) {
      const session: QueuedSession = {
        pid: r.pid,
        usename: r.usename,
        applicationName: r.application_name,
        query: r.query,
        mode: r.mode,
        relation: displayName(r.nspname, r.relname),
        queryStart: r.query_start,
      };
      // One report per waiting query: the same statement is seen again on every poll until it goes.
      const key = `${r.pid}@${r.query_start ?? ''}`;
      const first = !seenKeys.has(key);
      seenKeys.add(key);
      if (options.action === 'report') {
        if (!first) continue;
        logger.warn(`session ${r.pid} waits behind the lock of pid ${options.guardPid}`, { ...session });
        const event: DdlGuardEvent = { type: 'ddl-queued', action: 'report', session };
        seen.push(event);
        emit(event);
        continue;
      }
      // Cancel on every sighting (a cancel can arrive between two statements and miss), report once.
      let event: DdlGuardEvent | undefined;
      try {
        const c = await client.query<{ ok: boolean }>('SELECT pg_catalog.pg_cancel_backend($1) AS ok', [r.pid]);
        if (c.rows[0]?.ok === true) {
          if (first) {
            logger.warn(`canceled session ${r.pid} queued behind the lock of pid ${options.guardPid}`, { ...session });
            event = { type: 'ddl-cancelled', action: 'cancel', session };
          }
        }
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        if (first) {
          logger.warn(`could not cancel session ${r.pid}: ${error}`, { ...session });
          event = { type: 'ddl-cancel-failed', action: 'cancel', session, error };
        }
      }
      if (event) {
        seen.push(event);
        emit(event);
      }
    }
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  const poll = async (): Promise<void> => {
    if (stopped) return;
    try {
      conn ??= await connect();
      await pollOnce(conn.client);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      logger.warn('DDL guard poll failed', { error });
      emit({ type: 'ddl-guard-error', error });
      // Reconnect on the next poll: the connection may be what failed.
      const broken = conn;
      conn = undefined;
      await broken?.close(true).catch(debugFailure(logger, 'closing the broken DDL guard connection'));
    }
  };
  const runPoll = (): Promise<void> => {
    inFlight ??= poll().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runPoll().then(schedule);
    }, intervalMs);
    // Never keep a process alive just for the guard.
    timer.unref?.();
  };
  await runPoll();
  schedule();

  let stopping: Promise<void> | undefined;
  return {
    queuedSeen: () => [...seen],
    pollNow: runPoll,
    stop: () => {
      stopping ??= (async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        await inFlight;
        const last = conn;
        conn = undefined;
        await last?.close(false).catch(debugFailure(logger, 'closing the DDL guard connection'));
      })();
      return stopping;
    },
  };
}

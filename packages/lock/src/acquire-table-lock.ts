import type { ClientBase } from 'pg';
import { PgToolsError, SQLSTATE, silentLogger, sqlStateOf, wrapPgError, type Logger } from '@pgtools/core';
import { describeBlocker, findBlockers, type BlockerInfo } from './blockers.js';
import type { LockEvent, OnBlockers } from './lock-events.js';
import { assertLockMode, type LockMode } from './lock-mode.js';
import { assertRelations, displayRelations, relationListSql, type RelationName } from './relation.js';
import { sleep } from './sleep.js';

/**
 * Longest single try by default. While an ACCESS EXCLUSIVE request waits, every new reader of the
 * table queues behind it, so the try length is the worst extra latency a reader sees (pg_repack's
 * 1000 ms is what #49/#408 complain about). 200 ms stays under typical API timeouts and under
 * `deadlock_timeout` (1 s), yet outlasts the short transactions of a busy OLTP table.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_TRY_MS, acquireTableLock } from '@pgtools/lock';
 * await acquireTableLock({ client, relations, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 60_000, maxTryMs: 2 * DEFAULT_MAX_TRY_MS });
 * ```
 */
export const DEFAULT_MAX_TRY_MS = 200;
/**
 * First try in ms; tries double from here up to `maxTryMs` (25, 50, 100, 200, 200, ...).
 *
 * @example
 * ```ts
 * import { DEFAULT_FIRST_TRY_MS } from '@pgtools/lock';
 * console.log(`first lock try waits ${DEFAULT_FIRST_TRY_MS} ms`);
 * ```
 */
export const DEFAULT_FIRST_TRY_MS = 25;
const MIN_TRY_MS = 10;
const WAITING_REPORT_MS = 1000;
const TRY_SAVEPOINT = 'pgtools_lock_try';
const SIGNAL_SAVEPOINT = 'pgtools_lock_guard';

/** Options of {@link acquireTableLock}. */
export interface AcquireTableLockOptions {
  client: ClientBase;
  /** Locked together in one `LOCK TABLE` statement. */
  relations: RelationName[];
  mode: LockMode;
  /** How long to try before acting on blockers (pg_repack's `--wait-timeout`, in ms). */
  waitTimeoutMs: number;
  /** Default 'give-up': never harm another session. */
  onBlockers?: OnBlockers;
  /**
   * False (default): the function opens the transaction itself and returns with it open and the lock held.
   * True: the caller's transaction is open; each try runs inside a savepoint, so a failed try keeps the
   * locks the caller already holds.
   */
  inTransaction?: boolean;
  /** Isolation of the transaction the function opens (only without `inTransaction`). */
  isolationLevel?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
  /** Sessions never counted as blockers, never cancelled or terminated (e.g. our own other connections). */
  excludePids?: number[];
  signal?: AbortSignal | undefined;
  logger?: Logger;
  onEvent?: (event: LockEvent) => void;
  /** Longest single try in ms (default {@link DEFAULT_MAX_TRY_MS}). */
  maxTryMs?: number;
  /** First try in ms (default {@link DEFAULT_FIRST_TRY_MS}). */
  firstTryMs?: number;
  /**
   * The statement each try runs to take the lock, in place of `LOCK TABLE relations IN mode MODE`, for a
   * relation LOCK TABLE refuses (a materialized view: e.g. an `ALTER MATERIALIZED VIEW ... RENAME`, which
   * takes ACCESS EXCLUSIVE). It must take `mode` on `relations`, which the blockers are looked up by.
   */
  lockSql?: string;
}

/** What {@link acquireTableLock} resolves to; the lock is held in the open transaction. */
export interface LockAcquired {
  waitedMs: number;
  tries: number;
  /** Sessions whose query was cancelled (once per session). */
  cancelled: BlockerInfo[];
  /** Sessions that were terminated. */
  terminated: BlockerInfo[];
}

type Signal = 'cancel' | 'terminate';

/**
 * Takes a table lock without ever queueing long in front of other sessions: each try sets a short
 * `lock_timeout` (growing from `firstTryMs` to `maxTryMs`), and failed tries are separated by a jittered
 * pause so the readers that queued behind the request can run. After `waitTimeoutMs` it gives up
 * (`onBlockers: 'give-up'`, error code `lock_timeout`), or cancels the queries of the blocking sessions
 * before each further try for another `waitTimeoutMs` ('cancel', gives up after twice `waitTimeoutMs`),
 * then terminates them ('terminate', gives up after three times `waitTimeoutMs`), like pg_repack.
 *
 * On success the transaction stays open with the lock held and `lock_timeout` back to 0
 * (with `inTransaction`, back to its previous value). Errors: `lock_timeout`, `aborted`,
 * `invalid_transaction_state`, `invalid_argument`, `invalid_lock_mode`, `lock_failed` (any other server
 * error, SQLSTATE kept).
 *
 * @example
 * ```ts
 * import { acquireTableLock } from '@pgtools/lock';
 * const got = await acquireTableLock({
 *   client,
 *   relations: [{ schema: 'public', name: 'orders' }],
 *   mode: 'ACCESS EXCLUSIVE',
 *   waitTimeoutMs: 60_000,
 *   onBlockers: 'give-up',
 * });
 * // ... work under the lock ...
 * await client.query('COMMIT');
 * console.log(`locked after ${got.tries} tries, ${got.waitedMs} ms`);
 * ```
 */
export async function acquireTableLock(options: AcquireTableLockOptions): Promise<LockAcquired> {
  const { client, relations, mode } = options;
  const onBlockers: OnBlockers = options.onBlockers ?? 'give-up';
  const inTransaction = options.inTransaction ?? false;
  const excludePids = options.excludePids ?? [];
  const logger = options.logger ?? silentLogger;
  const signal = options.signal;
  validate(options, onBlockers);
  const T = options.waitTimeoutMs;
  const maxTryMs = Math.max(MIN_TRY_MS, Math.round(options.maxTryMs ?? DEFAULT_MAX_TRY_MS));
  const firstTryMs = Math.min(maxTryMs, Math.max(MIN_TRY_MS, Math.round(options.firstTryMs ?? DEFAULT_FIRST_TRY_MS)));
  const deadline = onBlockers === 'give-up' ? T : onBlockers === 'cancel' ? 2 * T : 3 * T;
  const what = `${displayRelations(relations)} in ${mode} mode`;
  const lockSql = options.lockSql ?? `LOCK TABLE ${relationListSql(relations)} IN ${mode} MODE`;

  const emit = (event: LockEvent): void => {
    if (!options.onEvent) return;
    try {
      options.onEvent(event);
    } catch (err) {
      // A faulty listener must not leave a transaction half-open.
      logger.warn('lock event listener threw', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  const abortError = (): PgToolsError =>
    new PgToolsError('aborted', `locking ${what} was aborted`, signal?.reason === undefined ? {} : { cause: signal.reason });
  if (signal?.aborted) throw abortError();

  const previousLockTimeout = await checkTransactionState(client, inTransaction);
  const start = performance.now();
  const elapsed = (): number => Math.round(performance.now() - start);

  // Runs a statement that may fail for reasons of its own (permissions) without aborting the caller's transaction.
  const guarded = async <R>(fn: () => Promise<R>): Promise<R> => {
    if (!inTransaction) return fn();
    await client.query(`SAVEPOINT ${SIGNAL_SAVEPOINT}`);
    try {
      const result = await fn();
      await client.query(`RELEASE SAVEPOINT ${SIGNAL_SAVEPOINT}`);
      return result;
    } catch (err) {
      await client.query(`ROLLBACK TO SAVEPOINT ${SIGNAL_SAVEPOINT}`);
      await client.query(`RELEASE SAVEPOINT ${SIGNAL_SAVEPOINT}`);
      throw err;
    }
  };
  const blockersNow = async (): Promise<BlockerInfo[] | undefined> => {
    try {
      return await guarded(() => findBlockers(client, relations, mode, excludePids));
    } catch (err) {
      logger.warn('could not list conflicting backends', { error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  };

  // Both undo paths leave the caller exactly where it was before the try.
  const openTrySql = inTransaction ? `SAVEPOINT ${TRY_SAVEPOINT}` : options.isolationLevel ? `BEGIN ISOLATION LEVEL ${options.isolationLevel}` : 'BEGIN';
  const undoTry = async (): Promise<void> => {
    if (inTransaction) {
      await client.query(`ROLLBACK TO SAVEPOINT ${TRY_SAVEPOINT}`);
      // Released right away: pg_repack re-created the savepoint without releasing it and nested
      // thousands of subtransactions on long waits (#457).
      await client.query(`RELEASE SAVEPOINT ${TRY_SAVEPOINT}`);
    } else {
      await client.query('ROLLBACK');
    }
  };

  const cancelled = new Map<number, BlockerInfo>();
  const terminated = new Map<number, BlockerInfo>();
  const actionLogged = new Set<Signal>();

  const signalBackend = async (b: BlockerInfo, action: Signal): Promise<void> => {
    const fn = action === 'cancel' ? 'pg_cancel_backend' : 'pg_terminate_backend';
    let sent: boolean;
    try {
      const res = await guarded(() => client.query<{ ok: boolean }>(`SELECT pg_catalog.${fn}($1) AS ok`, [b.pid]));
      sent = res.rows[0]?.ok === true;
    } catch (err) {
      if (sqlStateOf(err) !== SQLSTATE.insufficientPrivilege) throw wrapPgError(err, 'lock_failed', `could not ${action} backend ${b.pid}`);
      const error = err instanceof Error ? err.message : String(err);
      logger.warn(`could not ${action} backend ${b.pid}: ${error}`, { pid: b.pid });
      emit({ type: 'backend-signal-failed', action, blocker: b, error, elapsedMs: elapsed() });
      return;
    }
    // false: the session ended in the meantime, nothing was done to it.
    if (!sent) return;
    const seen = action === 'cancel' ? cancelled : terminated;
    if (seen.has(b.pid)) return;
    seen.set(b.pid, b);
    logger.info(`${action === 'cancel' ? 'canceled' : 'terminated'} backend ${describeBlocker(b)}`, { pid: b.pid });
    emit({ type: action === 'cancel' ? 'backend-cancelled' : 'backend-terminated', blocker: b, elapsedMs: elapsed() });
  };

  let tries = 0;
  let lastReport = Number.NEGATIVE_INFINITY;
  for (;;) {
    if (signal?.aborted) throw abortError();
    const now = elapsed();
    if (tries > 0 && now >= deadline) {
      const blockers = (await blockersNow()) ?? [];
      if (onBlockers === 'give-up') logger.warn('timed out, do not cancel conflicting backends', { relations: what, blockers: blockers.length });
      else logger.warn(`could not lock ${what} even after ${onBlockers === 'cancel' ? 'canceling' : 'terminating'} conflicted backends`, { tries });
      emit({ type: 'lock-timeout', tries, waitedMs: now, blockers });
      const list = blockers.length > 0 ? `; blocked by ${blockers.map(describeBlocker).join('; ')}` : '; no conflicting session is left';
      throw new PgToolsError('lock_timeout', `could not lock ${what} within ${now} ms after ${tries} tries${list}`);
    }
    const phase = now < T ? 0 : now < 2 * T ? 1 : 2;
    if (phase > 0 && onBlockers !== 'give-up') {
      const action: Signal = phase === 2 && onBlockers === 'terminate' ? 'terminate' : 'cancel';
      if (!actionLogged.has(action)) {
        actionLogged.add(action);
        logger.warn(action === 'cancel' ? 'canceling conflicted backends' : 'terminating conflicted backends', { relations: what });
      }
      for (const b of (await blockersNow()) ?? []) await signalBackend(b, action);
      if (signal?.aborted) throw abortError();
    }

    tries++;
    const phaseEnd = Math.min(deadline, (phase + 1) * T);
    const tryMs = Math.max(MIN_TRY_MS, Math.min(firstTryMs * 2 ** Math.min(tries - 1, 30), maxTryMs, phaseEnd - now));
    try {
      // One round trip per try: while the request waits, every reader queues behind it.
      await client.query(`${openTrySql}; SET LOCAL lock_timeout = ${tryMs}; ${lockSql}`);
    } catch (err) {
      try {
        await undoTry();
      } catch {
        // The connection is broken; the original error says why.
        throw wrapPgError(err, 'lock_failed', `locking ${what} failed`);
      }
      if (sqlStateOf(err) !== SQLSTATE.lockNotAvailable) throw wrapPgError(err, 'lock_failed', `locking ${what} failed`);
      const failedAt = elapsed();
      logger.debug(`lock try ${tries} (${tryMs} ms) on ${what} timed out`, { elapsedMs: failedAt });
      emit({ type: 'lock-attempt-failed', try: tries, tryTimeoutMs: tryMs, elapsedMs: failedAt });
      if (failedAt - lastReport >= WAITING_REPORT_MS) {
        lastReport = failedAt;
        const blockers = await blockersNow();
        if (blockers) {
          logger.info(`waiting for a lock on ${what}`, { elapsedMs: failedAt, tries, blockers: blockers.map(describeBlocker) });
          emit({ type: 'lock-waiting', tries, elapsedMs: elapsed(), blockers });
        }
      }
      // Jitter so two waiters never fall into lockstep; the pause lets queued readers finish.
      const pause = Math.round(tryMs * (0.5 + Math.random()));
      const untilBoundary = Math.min(deadline, (phase + 1) * T) - elapsed();
      await sleep(Math.max(0, Math.min(pause, untilBoundary)), signal);
      continue;
    }

    try {
      if (signal?.aborted) {
        await undoTry();
        throw abortError();
      }
      if (inTransaction) {
        // One round trip: the caller's lock is held from here on. The previous value is a whole number
        // of milliseconds read from pg_settings, so it can stand in the statement like tryMs.
        await client.query(`RELEASE SAVEPOINT ${TRY_SAVEPOINT}; SET LOCAL lock_timeout = ${previousLockTimeout}`);
      } else {
        // SET LOCAL, not RESET: RESET would bring back a role default (pg_repack #160).
        await client.query('SET LOCAL lock_timeout = 0');
      }
    } catch (err) {
      throw wrapPgError(err, 'lock_failed', `finishing the lock of ${what} failed`);
    }
    const waitedMs = elapsed();
    logger.debug(`locked ${what}`, { tries, waitedMs });
    emit({ type: 'lock-acquired', tries, waitedMs });
    return { waitedMs, tries, cancelled: [...cancelled.values()], terminated: [...terminated.values()] };
  }
}

function validate(options: AcquireTableLockOptions, onBlockers: OnBlockers): void {
  assertLockMode(options.mode);
  assertRelations(options.relations);
  if (!['give-up', 'cancel', 'terminate'].includes(onBlockers)) {
    throw new PgToolsError('invalid_argument', `onBlockers must be 'give-up', 'cancel' or 'terminate', got ${JSON.stringify(onBlockers)}`);
  }
  if (!Number.isFinite(options.waitTimeoutMs) || options.waitTimeoutMs < 0) {
    throw new PgToolsError('invalid_argument', `waitTimeoutMs must be a non-negative number, got ${String(options.waitTimeoutMs)}`);
  }
  for (const key of ['maxTryMs', 'firstTryMs'] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) {
      throw new PgToolsError('invalid_argument', `${key} must be a positive number, got ${String(v)}`);
    }
  }
  if (options.inTransaction && options.isolationLevel) {
    throw new PgToolsError('invalid_argument', 'isolationLevel applies only to the transaction acquireTableLock opens (inTransaction: false)');
  }
  if (options.isolationLevel && !['READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE'].includes(options.isolationLevel)) {
    throw new PgToolsError('invalid_argument', `unknown isolation level ${JSON.stringify(options.isolationLevel)}`);
  }
  for (const pid of options.excludePids ?? []) {
    if (!Number.isInteger(pid)) throw new PgToolsError('invalid_argument', `excludePids must be integers, got ${String(pid)}`);
  }
}

/**
 * Refuses to run against the wrong transaction state: without `inTransaction` a failed try ends with
 * ROLLBACK, which would silently roll back a transaction the caller had open. Returns the current
 * `lock_timeout` so it can be restored.
 */
async function checkTransactionState(client: ClientBase, inTransaction: boolean): Promise<string> {
  let row: { in_block: boolean; lock_timeout: string } | undefined;
  try {
    // Simple protocol (no parameters): outside a transaction block the statement is its own
    // transaction and both timestamps are the same instant; inside one, the block started earlier.
    const res = await client.query<{ in_block: boolean; lock_timeout: string }>(
      `SELECT pg_catalog.statement_timestamp() <> pg_catalog.transaction_timestamp() AS in_block,
              (SELECT s.setting FROM pg_catalog.pg_settings s WHERE s.name = 'lock_timeout') AS lock_timeout`,
    );
    row = res.rows[0];
  } catch (err) {
    throw wrapPgError(err, 'lock_failed', 'could not read the session state before locking');
  }
  if (!row) throw new PgToolsError('lock_failed', 'could not read the session state before locking');
  // pg_settings reports lock_timeout in milliseconds, a whole number.
  if (!/^\d+$/.test(row.lock_timeout)) throw new PgToolsError('lock_failed', `unexpected lock_timeout setting ${JSON.stringify(row.lock_timeout)}`);
  if (row.in_block && !inTransaction) {
    throw new PgToolsError('invalid_transaction_state', 'a transaction is already open on this client; pass inTransaction: true to lock inside it');
  }
  if (!row.in_block && inTransaction) {
    throw new PgToolsError('invalid_transaction_state', 'inTransaction: true but no transaction is open on this client');
  }
  return row.lock_timeout;
}

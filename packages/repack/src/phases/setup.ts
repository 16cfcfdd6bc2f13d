import type pg from 'pg';
import { debugFailure, PgToolsError, quoteQualified } from '@pgtools/core';
import { acquireTableLock, tryAdvisoryTableLock } from '@pgtools/lock';
import { buildCreateTriggerSql, prepareCapture, type CdcObjects } from '@pgtools/cdc';
import type { SessionInfo } from '../events.js';
import { precheck } from '../precheck.js';
import { inspectTable, type TableInfo } from '../table-info.js';
import { hasLeftovers, removeLeftovers } from '../leftovers.js';
import { finishMatviewLeftovers } from '../matview-leftovers.js';
import { toSession } from '../session-info.js';
import type { Guard, TableRun } from '../table-run.js';
import { raiseProblems, requireKey, type Prechecked } from './precheck.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the setup made: the capture (its trigger on the table) and the table as it is from now on. */
export interface Captured {
  /** Inspected again before the lock: the log table keeps its columns from changing from here on. */
  info: TableInfo;
  capture: CdcObjects;
  keyColumns: string[];
}

/** Takes the per-table advisory lock on the guard connection, or throws `repack_running`. */
export async function takeAdvisoryLock(run: TableRun, guard: Guard): Promise<void> {
  // Same key as pg_repack, so the two tools never work on one table at once.
  const advisory = await tryAdvisoryTableLock(guard.client, run.tableOid);
  if (!advisory.acquired) {
    throw new PgToolsError(
      'repack_running',
      `another repack is running on ${run.display}${advisory.holderPid ? ` (PID ${advisory.holderPid}${advisory.holderApplication ? `, ${advisory.holderApplication}` : ''})` : ''}; try again later`,
    );
  }
  run.advisoryHeld = true;
}

/**
 * The setup phase: removes a dead run's leftovers, makes the log, then attaches the capture
 * trigger under a brief ACCESS EXCLUSIVE, leaving the guard queued for SHARE UPDATE EXCLUSIVE
 * (granted as we commit) so no DDL reaches the table until the swap.
 */
export async function runSetup(run: TableRun, pre: Prechecked, guard: Guard): Promise<Captured> {
  const { work, opts, display, result, logger, tableOid } = run;
  const { table, swapMode } = pre;
  return run.phase('setup', async () => {
    // Leftovers of a dead run (we hold the advisory lock, so no live run owns them) go first; dropping
    // their trigger needs its own short ACCESS EXCLUSIVE, only on this rare path.
    const lockTable = () =>
      acquireTableLock({
        client: work,
        relations: [table],
        mode: 'ACCESS EXCLUSIVE',
        waitTimeoutMs: opts.waitTimeoutMs,
        onBlockers: opts.onBlockers,
        excludePids: [guard.pid],
        signal: opts.signal,
        logger,
        onEvent: run.lockEvents('setup'),
      });
    // A run killed after its rename swap's commit left materialized views on the old table (the table has a new OID since).
    const matviews = await finishMatviewLeftovers(work, {
      toolSchema: opts.toolSchema,
      tableOid,
      waitTimeoutMs: opts.waitTimeoutMs,
      onBlockers: opts.onBlockers,
      excludePids: [guard.pid],
      signal: opts.signal,
      logger,
      onLockEvent: run.lockEvents('matview'),
    });
    if (matviews.removed.length > 0) {
      result.leftoversRemoved.push(...matviews.removed);
      run.emit({ type: 'leftovers-removed', table: display, objects: matviews.removed });
      logger.info(`finished what an interrupted run left on ${display}`, { objects: matviews.removed });
    }
    if (matviews.kept.length > 0) {
      // The replacements read this table: its rename swap would take them for its own materialized views.
      throw new PgToolsError(
        matviews.busy ? 'repack_running' : 'matview_rebuild_failed',
        `materialized views over ${display} left half-way by an earlier run could not be finished: ${matviews.kept.map((k) => `${k.object}: ${k.reason}`).join('; ')}; try again later`,
      );
    }
    if (await hasLeftovers(work, tableOid, opts.toolSchema)) {
      await lockTable();
      const since = Date.now();
      try {
        const removed = await removeLeftovers(work, tableOid, opts.toolSchema);
        await work.query('COMMIT');
        result.leftoversRemoved.push(...removed);
        run.emit({ type: 'leftovers-removed', table: display, objects: removed });
        logger.info(`removed leftovers of an interrupted run on ${display}`, { objects: removed });
      } catch (err) {
        await work.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK after failing to remove leftovers'));
        throw err;
      } finally {
        result.accessExclusive.push({ purpose: 'cleanup', heldMs: Date.now() - since });
      }
    }
    // Everything but the trigger is made before the lock; from here on the log table (it keeps rows of
    // the table's type) refuses column DDL, so the columns inspected now stay valid.
    const info = await inspectTable(work, table);
    const recheck = precheck(info, { swap: swapMode });
    raiseProblems(
      recheck.problems.filter((p) => p.code !== 'publication_all_tables'),
      logger,
      () => {},
    );
    const key = requireKey(recheck);
    const keyColumns = key.keyColumns as string[];
    result.key = { index: key.name, columns: keyColumns };
    const capture = await prepareCapture(work, { table: { ...table, oid: tableOid }, keyColumns, toolSchema: opts.toolSchema });
    run.capture = capture;
    // READ COMMITTED whatever the server's default: the drain and the rename swap's change check
    // under the swap lock must see what committed up to then, not a snapshot from here.
    await guard.client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    run.guardInTransaction = true;

    const acquired = await lockTable();
    const lockedAt = Date.now();
    result.lockWaitMs += acquired.waitedMs;
    run.emit({ type: 'lock-acquired', table: display, purpose: 'setup', waitedMs: acquired.waitedMs, tries: acquired.tries });
    try {
      // The guard queues for SHARE UPDATE EXCLUSIVE behind our ACCESS EXCLUSIVE, so no DDL can
      // slip in between our commit and its grant; sent first, it queues while we work, and it is
      // checked to be really queued before we commit.
      const guardLock = guard.client.query(`LOCK TABLE ${quoteQualified(table.schema, table.name)} IN SHARE UPDATE EXCLUSIVE MODE`);
      guardLock.catch(debugFailure(logger, "the guard's SHARE UPDATE EXCLUSIVE request"));
      // One round trip (each one under the lock adds to every blocked writer's wait): the key check
      // (indexes are not protected by the log table: the key must still be the one we chose) and the trigger.
      run.triggerMayExist = true;
      const checked = await work.query([requireKeyIndexSql(key.oid), ...buildCreateTriggerSql(capture, capture.table)].join(';\n'));
      if ((Array.isArray(checked) ? checked[0] : checked)?.rowCount !== 1) {
        throw new PgToolsError('no_usable_key', `the key index of ${display} changed while the repack was starting; run it again`);
      }
      await guardQueuedAndConflicts(work, tableOid, guard.pid, opts.onDdl, (s) => run.emit({ type: 'ddl-cancelled', table: display, session: s }));
      await work.query('COMMIT');
      await guardLock;
    } catch (err) {
      // Rolled back for sure: the trigger was never there (nor is it after a failed COMMIT).
      if (
        await work.query('ROLLBACK').then(
          () => true,
          () => false,
        )
      )
        run.triggerMayExist = false;
      throw err;
    } finally {
      const heldMs = Date.now() - lockedAt;
      result.accessExclusive.push({ purpose: 'setup', heldMs });
      run.emit({ type: 'access-exclusive', table: display, purpose: 'setup', heldMs });
    }
    return { info, capture, keyColumns };
  });
}

/**
 * One row when the key index chosen before the setup lock is still there and valid. The OID is a
 * number we checked, so it stands in the text and the check can share a round trip with the trigger.
 */
function requireKeyIndexSql(indexOid: number): string {
  if (!Number.isSafeInteger(indexOid) || indexOid <= 0) throw new PgToolsError('invalid_argument', `not an OID: ${indexOid}`);
  return `SELECT 1 FROM pg_index WHERE indexrelid = ${indexOid}::oid AND indisvalid AND indisready AND indislive AND indisunique AND indimmediate`;
}

/**
 * Waits (polling every 2 ms, at most 5 s) until the guard's lock request is queued, and in the same
 * query lists the waiters queued for a lock that conflicts with the guard's: they would get the table
 * before it. Those are cancelled, or the run gives up.
 */
async function guardQueuedAndConflicts(
  client: pg.ClientBase,
  tableOid: number,
  guardPid: number,
  onDdl: 'cancel' | 'give-up',
  onCancelled: (s: SessionInfo) => void,
): Promise<void> {
  let rows: Array<{ pid: number | null; user: string | null; application: string | null; query: string | null; queued: boolean }> = [];
  for (let i = 0; ; i++) {
    ({ rows } = await client.query(
      `SELECT q.queued, w.pid, w.user, w.application, w.query
         FROM (SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $2 AND locktype = 'relation' AND relation = $1 AND NOT granted) AS queued) AS q
         LEFT JOIN (SELECT l.pid, a.usename AS user, a.application_name AS application, left(a.query, 200) AS query
                      FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE l.locktype = 'relation' AND l.relation = $1 AND NOT l.granted AND l.pid NOT IN ($2, pg_backend_pid())
                       AND l.mode IN ('ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')) AS w
           ON q.queued`,
      [tableOid, guardPid],
    ));
    if (rows[0]?.queued) break;
    if (i >= 2500) throw new PgToolsError('guard_not_queued', 'the guard connection did not queue its lock request within 5 s');
    await sleep(2);
  }
  rows = rows.filter((r) => r.pid !== null);
  if (rows.length === 0) return;
  const sessions = rows.map(toSession);
  if (onDdl === 'give-up') {
    throw new PgToolsError(
      'ddl_waiting',
      `DDL is waiting for the table (${sessions.map((s) => `PID ${s.pid}: ${s.query ?? ''}`).join('; ')}); giving up so it can proceed`,
    );
  }
  for (const s of sessions) {
    await client.query('SELECT pg_cancel_backend($1)', [s.pid]);
    onCancelled(s);
  }
}

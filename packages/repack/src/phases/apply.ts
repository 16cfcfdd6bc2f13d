import type pg from 'pg';
import { PgToolsError, sqlStateOf } from '@pgtools/core';
import { applyLog, countLog, type ApplyStats, type CdcObjects, type ColumnSource } from '@pgtools/cdc';
import type { AlterPlan } from '../alter-plan.js';
import { findBadLogRow } from '../alter-probe.js';
import { isConstraintViolation } from '../alter-constraint-rows.js';
import { caughtUp } from '../catch-up.js';
import { waitForOldSnapshots } from '../snapshots.js';
import type { Throttle } from '../throttle.js';
import type { QualifiedName, TableRun } from '../table-run.js';

/** Applies one batch of the log to the shadow; returns the entries applied. */
export type ApplyBatch = (client: pg.ClientBase, inTransaction: boolean) => Promise<number>;

export interface ApplyTarget {
  capture: CdcObjects;
  shadow: QualifiedName;
  keyColumns: string[];
  /** The columns the copy wrote. */
  columns: string[];
  /** The shadow has identity columns GENERATED ALWAYS. */
  overridingSystemValue: boolean;
  /** With `alter`: how each of `columns` is computed from a logged (old-format) row, and the new types of retyped key columns. */
  mapping: { sources: ColumnSource[]; keyCasts: Array<string | null>; plan: AlterPlan } | undefined;
  throttle: Throttle;
}

/** One batch at a time (sized by the throttle), counted into the result. */
export function logApplier(run: TableRun, target: ApplyTarget): ApplyBatch {
  const { opts, result } = run;
  return async (client, inTransaction) => {
    const { mapping } = target;
    let stats: ApplyStats;
    try {
      stats = await applyLog(client, {
        objects: target.capture,
        target: target.shadow,
        keyColumns: target.keyColumns,
        columns: target.columns,
        overridingSystemValue: target.overridingSystemValue,
        ...(mapping ? { columnSources: mapping.sources, keyCasts: mapping.keyCasts } : {}),
        batchSize: target.throttle.stepRows(opts.applyBatchSize),
        transaction: inTransaction ? 'caller' : 'own',
      });
    } catch (err) {
      // Its own transaction was rolled back: the client is free for a look at the log.
      if (mapping && !inTransaction) throw await applyConversionError(run, client, target, mapping.plan, err);
      throw err;
    }
    result.log.entries += stats.entries;
    result.log.inserts += stats.inserts;
    result.log.updates += stats.updates;
    result.log.deletes += stats.deletes;
    return stats.entries;
  };
}

/** The apply phase: replays the log until it is small. Pauses at `during-apply` after the first round. */
export async function runApply(run: TableRun, applyOnce: ApplyBatch, capture: CdcObjects, throttle: Throttle): Promise<void> {
  const { work, opts, display, result } = run;
  await run.phase('apply', async () => {
    let previous: number | undefined;
    for (let round = 0; ; round++) {
      run.checkAbort();
      const applied = await applyOnce(work, false);
      await throttle.after(work, applied, 'apply');
      const remaining = await countLog(work, capture);
      run.emit({ type: 'apply-progress', table: display, applied: result.log.entries, remaining });
      if (round === 0) await run.pause('during-apply');
      if (caughtUp({ applied, remaining, previous, round, switchThreshold: opts.switchThreshold })) break;
      previous = remaining;
    }
  });
}

/**
 * The snapshot-wait phase: waits (applying meanwhile) until no session holds a snapshot older than
 * the copy; swapping before would show them an empty table.
 */
export async function runSnapshotWait(
  run: TableRun,
  copy: { xid: string; committedAt: string },
  ourPids: number[],
  applyOnce: ApplyBatch,
  throttle: Throttle,
): Promise<void> {
  const { work, opts, display } = run;
  await run.phase('snapshot-wait', () =>
    waitForOldSnapshots(work, {
      copyXid: copy.xid,
      copyCommittedAt: copy.committedAt,
      ourPids,
      timeoutMs: opts.snapshotWaitMs,
      onWaiting: (sessions, waitedMs) => run.emit({ type: 'snapshot-waiting', table: display, sessions, waitedMs }),
      between: async () => {
        run.checkAbort();
        await throttle.after(work, await applyOnce(work, false), 'apply');
      },
      signal: opts.signal,
    }).then((outcome) => {
      if (!outcome.ok) {
        throw new PgToolsError(
          'old_snapshots',
          `${outcome.sessions.length} session(s) still hold a snapshot older than the copy after ${Math.round(opts.snapshotWaitMs / 1000)} s ` +
            `(${outcome.sessions.map((s) => `PID ${s.pid}${s.user ? ` ${s.user}` : ''}`).join(', ')}); swapping now would make them see an empty table. Try again later or raise --snapshot-wait`,
        );
      }
    }),
  );
}

/**
 * A log apply with `alter` that failed on a value (SQLSTATE class 22 or 23): a row written during the
 * run does not convert. The first such row image in the log, named by its key.
 */
async function applyConversionError(run: TableRun, client: pg.ClientBase, target: ApplyTarget, plan: AlterPlan, err: unknown): Promise<unknown> {
  const state = sqlStateOf(err);
  if (state === undefined || !(state.startsWith('22') || state.startsWith('23'))) return err;
  const log = { schema: target.capture.toolSchema, name: target.capture.logTable };
  const bad = await findBadLogRow(client, log, target.keyColumns, plan).catch(() => undefined);
  // A duplicate of a new UNIQUE constraint: the server's detail names the duplicated values.
  const detail = (err as { detail?: string }).detail;
  const what = bad
    ? `at the row with key ${bad.key}, written during the run: ${bad.message}`
    : `${(err as Error).message}${state === '23505' && detail ? ` (${detail})` : ' (the row could not be identified)'}`;
  return new PgToolsError(
    isConstraintViolation(state) ? 'alter_constraint_violated' : 'alter_conversion_failed',
    `--alter on ${run.display}: the log apply failed ${what}; the table is unchanged`,
    { cause: err },
  );
}

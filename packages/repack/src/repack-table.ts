import type { ConnectionSource } from './connection-source.js';
import type { ResolvedOptions } from './options.js';
import type { TableResult } from './result.js';
import type { RepackTarget } from './targets.js';
import { Throttle } from './throttle.js';
import { TableRun } from './table-run.js';
import type { RunShared } from './run-shared.js';
import { runPrecheck } from './phases/precheck.js';
import { runSetup, takeAdvisoryLock } from './phases/setup.js';
import { runCopy } from './phases/copy.js';
import { runIndexes } from './phases/indexes.js';
import { logApplier, runApply, runSnapshotWait } from './phases/apply.js';
import { runSwap, type SwapInput } from './phases/swap.js';
import { runCleanup } from './phases/cleanup.js';
import { runMatviews } from './phases/matviews.js';
import { addedConstraints } from './alter-constraint-plan.js';
import { checkForeignKeys } from './alter-constraint-rows.js';
import { statisticsCarryOver } from './statistics-carry-over.js';
import type { LeafHold } from './leaf-hold.js';

/**
 * Repacks one ordinary table online. Never throws for a table-level problem: the result says
 * repacked, skipped (with a code) or failed (table intact, with what is left and how to clean it).
 * The phases run in order; the pause points between them are where the fault tests stop a run.
 */
export async function repackOneTable(
  source: ConnectionSource,
  target: RepackTarget,
  opts: ResolvedOptions,
  shared?: RunShared,
  /** A leaf of a partitioned table altered whole: swapped with the tree (alter-tree.ts) instead of alone. */
  hold?: LeafHold,
): Promise<TableResult> {
  const run = await TableRun.open(source, target, opts, shared);
  try {
    const workPid = await run.prepareWork();
    const pre = await runPrecheck(run);
    const { table, swapMode, order, alter } = pre;
    run.table = table;

    const guard = await run.openGuard();
    await takeAdvisoryLock(run, guard);
    await run.pause('after-advisory-lock');

    const { info, capture, keyColumns } = await runSetup(run, pre, guard);
    await run.pause('after-capture');
    await run.watchDdl(table, guard.pid);
    const throttle = new Throttle({
      maxRate: opts.maxRate,
      maxReplicaLag: opts.maxReplicaLag,
      table: run.display,
      emit: (e) => run.emit(e),
      signal: opts.signal,
      ...(shared ? { pace: shared.pace } : {}),
    });

    const copy = await runCopy(run, { info, capture, swapMode, order, throttle, alter });
    const { shadow, columns, overridingSystemValue } = copy;
    const mapping = alter && copy.sources ? { sources: copy.sources, keyCasts: alter.keyCasts, plan: alter } : undefined;
    await run.pause('after-copy');

    const indexPairs = await runIndexes(run, table, shadow, alter);
    await run.pause('after-indexes');

    const applyOnce = logApplier(run, { capture, shadow, keyColumns, columns, overridingSystemValue, mapping, throttle });
    await runApply(run, applyOnce, capture, throttle);
    await runSnapshotWait(run, copy, [workPid, guard.pid, ...(shared?.pids ?? [])], applyOnce, throttle);
    // New foreign keys against every row copied and applied so far: a violation fails here, before the swap, with its key.
    if (alter) await checkForeignKeys(run.work, { display: run.display, shadow, keyColumns, plan: alter });
    await run.pause('before-swap');

    await run.stopDdlWatch();
    const swapInput: SwapInput = {
      table,
      shadow,
      capture,
      keyColumns,
      columns,
      overridingSystemValue,
      alter:
        alter && mapping
          ? {
              sources: mapping.sources,
              keyCasts: mapping.keyCasts,
              changes: { ...alter.changes, constraints: addedConstraints(alter.constraints, shadow.name) },
            }
          : undefined,
      swapMode,
      indexPairs,
      guard,
      workPid,
      applyOnce,
      throttle,
    };
    // A leaf of a partitioned table changed whole waits for the tree swap (alter-tree.ts), which rebuilds no materialized view.
    const { afterSwap, matviews } = hold ? { afterSwap: await run.phase('swap', () => hold(run, swapInput)), matviews: [] } : await runSwap(run, swapInput);
    // Before the old table goes: the materialized views still read it.
    await runMatviews(run, matviews, workPid);
    const statisticsKept = pre.statistics
      ? statisticsCarryOver({ ...pre.statistics, swapMode, ordered: order !== undefined, logEntries: run.result.log.entries })
      : undefined;
    await runCleanup(run, { guard, capture, shadow, table, afterSwap, statisticsKept });
    run.result.status = 'repacked';
  } catch (err) {
    run.fail(err);
  } finally {
    await run.close();
  }
  return run.result;
}

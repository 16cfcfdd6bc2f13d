import { displayName, PgToolsError } from '@pgtools/core';
import type { MatviewFacts } from '../matview-facts.js';
import { rebuildMatview } from '../matview-rebuild.js';
import { shadowTableName } from '../names.js';
import type { TableRun } from '../table-run.js';

/**
 * After a rename swap committed: each materialized view that read the table still reads the old
 * table (kept until now) and serves its old contents; its replacement, created WITH NO DATA in the
 * swap's transaction, is filled on the new table and switched in (matview-rebuild.ts). Its contents
 * are then as of this moment, as after REFRESH MATERIALIZED VIEW: said by a `matview-rebuilt` event
 * and a log line. Pauses at `matview-created` (before the first one) and `matview-built` (each,
 * before its switch). A failure leaves the table swapped and in place, the matview reading the old
 * table, and both for the next run or `--cleanup` (matview-leftovers.ts) to finish.
 */
export async function runMatviews(run: TableRun, matviews: readonly MatviewFacts[], workPid: number): Promise<void> {
  if (matviews.length === 0) return;
  const { work, opts, display, result, logger } = run;
  // The swap dropped the trigger; the old table and the log stay (for the cleanup, or for the next run on a failure).
  run.triggerMayExist = false;
  const { capture, shadow } = run;
  run.capture = undefined;
  run.shadow = undefined;
  let current = '';
  try {
    await run.phase('matviews', async () => {
      await run.pause('matview-created');
      for (const m of matviews) {
        current = displayName(m.schema, m.name);
        const rebuilt = await rebuildMatview({
          client: work,
          toolSchema: opts.toolSchema,
          oid: m.oid,
          waitTimeoutMs: opts.waitTimeoutMs,
          onBlockers: opts.onBlockers,
          excludePids: [workPid],
          signal: opts.signal,
          logger,
          onLockEvent: run.lockEvents('matview'),
          beforeSwitch: () => run.pause('matview-built'),
        });
        // Dropped since the swap: nothing to rebuild.
        if (rebuilt === undefined) continue;
        result.lockWaitMs += rebuilt.lockWaitedMs;
        result.accessExclusive.push({ purpose: 'matview', heldMs: rebuilt.heldMs });
        run.emit({ type: 'access-exclusive', table: display, purpose: 'matview', heldMs: rebuilt.heldMs });
        run.emit({
          type: 'matview-rebuilt',
          table: display,
          matview: rebuilt.matview,
          populated: rebuilt.populated,
          indexes: rebuilt.indexes,
          heldMs: rebuilt.heldMs,
        });
        logger.info(
          rebuilt.populated
            ? `${display}: materialized view ${rebuilt.matview} rebuilt on the new table; its contents are as of now, as after REFRESH MATERIALIZED VIEW`
            : `${display}: materialized view ${rebuilt.matview} rebuilt on the new table, unpopulated as it was`,
        );
      }
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    result.cleanupHint =
      `${display} is repacked and in place; materialized view ${current} still serves its contents from before the run and reads the old copy ` +
      `${opts.toolSchema}.${shadowTableName(run.tableOid)}, kept for it: run pgtools-repack --cleanup, or repack ${display} again, to finish`;
    throw new PgToolsError(
      err instanceof PgToolsError && err.code === 'lock_timeout' ? 'lock_timeout' : 'matview_rebuild_failed',
      `${display} was repacked, but materialized view ${current} could not be rebuilt on it: ${why}`,
      { cause: err },
    );
  }
  run.capture = capture;
  run.shadow = shadow;
}

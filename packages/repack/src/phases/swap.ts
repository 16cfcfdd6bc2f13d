import type pg from 'pg';
import { displayName, PgToolsError, quoteQualified, sqlStateOf, wrapPgError } from '@pgtools/core';
import { acquireTableLock, DEFAULT_MAX_TRY_MS } from '@pgtools/lock';
import { buildDrainLogSql, buildDropCaptureSql, countLog, type CdcObjects, type ColumnSource } from '@pgtools/cdc';
import {
  catalogSwapError,
  catalogSwapStatements,
  finishCatalogSwap,
  finishRenameSwap,
  prepareCatalogSwap,
  prepareRenameSwap,
  renameSwapError,
  renameSwapStatements,
  type CatalogSwapPlan,
  type ColumnChanges,
  type IndexPair,
  type RenameSwapPlan,
} from '@pgtools/swap';
import { CATCH_UP_ROUNDS, caughtUp, drainLimit } from '../catch-up.js';
import { tryLockPartitionedTable } from '../partition-lock.js';
import type { Throttle } from '../throttle.js';
import type { Guard, QualifiedName, TableRun } from '../table-run.js';
import type { ApplyBatch } from './apply.js';
import { isConstraintViolation } from '../alter-constraint-rows.js';
import { readMatviews, refuseMatviews, type MatviewFacts } from '../matview-facts.js';
import { createReplacementSql } from '../matview-sql.js';

export interface SwapInput {
  table: QualifiedName;
  shadow: QualifiedName;
  capture: CdcObjects;
  keyColumns: string[];
  /** The columns the copy wrote. */
  columns: string[];
  /** The shadow has identity columns GENERATED ALWAYS. */
  overridingSystemValue: boolean;
  /** With `alter`: the column mapping of the log apply, and the column differences the rename swap must accept. */
  alter: { sources: ColumnSource[]; keyCasts: Array<string | null>; changes: ColumnChanges } | undefined;
  swapMode: 'catalog' | 'rename';
  indexPairs: IndexPair[];
  guard: Guard;
  workPid: number;
  applyOnce: ApplyBatch;
  throttle: Throttle;
}

/** What the swap leaves for after its commit. */
export interface Swapped {
  /** Statements to run after the commit (the rename swap's foreign key validations). */
  afterSwap: string[];
  /** Materialized views over the table, still on the old one: their replacements were created WITH NO DATA in the swap (phases/matviews.ts). */
  matviews: MatviewFacts[];
}

/**
 * The swap phase: upgrades the guard's lock, drains the log, removes the trigger and swaps, in one
 * transaction. Pauses at `swap-planned` (each plan) and `after-swap` (before the commit). With the
 * rename swap, each materialized view reading the table gets its replacement, created WITH NO DATA
 * (no query runs) on the new table in the same transaction.
 */
export async function runSwap(run: TableRun, input: SwapInput): Promise<Swapped> {
  const { work, opts, display, result, logger } = run;
  const { table, shadow, capture, keyColumns, columns, overridingSystemValue, alter, swapMode, indexPairs, guard, workPid, applyOnce, throttle } = input;
  return run.phase('swap', async () => {
    const recordHold = (since: number): void => {
      const heldMs = Date.now() - since;
      result.accessExclusive.push({ purpose: 'swap', heldMs });
      run.emit({ type: 'access-exclusive', table: display, purpose: 'swap', heldMs });
    };
    const logOid = await relationOid(guard.client, capture.toolSchema, capture.logTable);
    // Validation and, in rename mode, every statement of the swap need no ACCESS EXCLUSIVE: the
    // guard's SHARE UPDATE EXCLUSIVE already keeps DDL out (the rename plan re-checks under the
    // lock what that lets through, such as a GRANT).
    const planSwap = async (): Promise<{ catalog?: CatalogSwapPlan; rename?: RenameSwapPlan; matviews?: MatviewFacts[] }> =>
      swapMode === 'catalog'
        ? { catalog: await prepareCatalogSwap(guard.client, { original: table, shadow, indexPairs }) }
        : {
            // Read again (the precheck refused what cannot be rebuilt): the swap's change check covers them from here on.
            matviews: refuseMatviews(display, await readMatviews(work, run.tableOid)),
            // On the work connection, in autocommit: reading view definitions locks the views, and
            // in the guard's transaction those locks would last until the swap commits.
            rename: await prepareRenameSwap(work, {
              original: table,
              shadow,
              indexPairs,
              // Re-validating foreign keys scans the referencing tables: do it after the lock is gone.
              foreignKeyValidation: 'after-commit',
              // The log keeps rows of the table's type until it is dropped right after the commit.
              ignoreRelations: [logOid],
              // Dropped in the same round trip, before the swap statements.
              excludeTriggers: [capture.triggerName],
              // Rebuilt on the new table after the commit (phases/matviews.ts).
              keepMaterializedViews: true,
              ...(alter ? { columnChanges: alter.changes } : {}),
            }),
          };
    for (let replans = 0; ; replans++) {
      const plan = await planSwap();
      await run.pause('swap-planned');
      let lockedAt = 0;
      let parentSince: number | undefined;
      for (let attempt = 1; ; attempt++) {
        // Catch up first, so the drain under ACCESS EXCLUSIVE stays short.
        let previous: number | undefined;
        for (let round = 0; ; round++) {
          const applied = await applyOnce(work, false);
          await throttle.after(work, applied, 'apply');
          run.checkAbort();
          // Counted only near and past CATCH_UP_ROUNDS, where whether the log still shrinks decides.
          const remaining = round + 2 >= CATCH_UP_ROUNDS ? await countLog(work, capture) : undefined;
          if (caughtUp({ applied, remaining, previous, round, switchThreshold: opts.switchThreshold })) break;
          previous = remaining;
        }
        // The drain under the lock scans the whole log, whose applied entries are dead rows (its
        // autovacuum is off): under a 2,000 tps load they made each scan ~6 ms and the drain ~30 ms.
        await work.query(`VACUUM ${quoteQualified(capture.toolSchema, capture.logTable)}`);
        await guard.client.query('SAVEPOINT pgtools_swap');
        const acquired = await acquireTableLock({
          client: guard.client,
          relations: [table, shadow],
          mode: 'ACCESS EXCLUSIVE',
          inTransaction: true,
          waitTimeoutMs: opts.waitTimeoutMs,
          onBlockers: opts.onBlockers,
          excludePids: [workPid],
          signal: opts.signal,
          logger,
          onEvent: run.lockEvents('swap'),
        });
        lockedAt = Date.now();
        result.lockWaitMs += acquired.waitedMs;
        run.emit({ type: 'lock-acquired', table: display, purpose: 'swap', waitedMs: acquired.waitedMs, tries: acquired.tries });
        // A partition (rename mode) is detached from its partitioned table, which needs ACCESS EXCLUSIVE on that too.
        const partition = plan.rename?.facts.attached.partition ?? null;
        if (partition !== null) {
          const parent = { schema: partition.parentSchema, name: partition.parentName };
          parentSince ??= Date.now();
          if (!(await tryLockPartitionedTable(guard.client, parent, DEFAULT_MAX_TRY_MS))) {
            await guard.client.query('ROLLBACK TO SAVEPOINT pgtools_swap');
            recordHold(lockedAt);
            if (Date.now() - parentSince > opts.waitTimeoutMs) {
              throw new PgToolsError(
                'lock_timeout',
                `could not lock the partitioned table ${displayName(parent.schema, parent.name)} within ${Math.round(opts.waitTimeoutMs / 1000)} s; ` +
                  `${display} skipped (intact). Try again when fewer queries use it, or raise --wait-timeout`,
              );
            }
            continue;
          }
        }
        // Writers kept writing while we waited for the lock: if they left more than a short drain,
        // let go (back to the savepoint: the guard keeps its SHARE UPDATE EXCLUSIVE) and catch up again.
        const pending = await countLog(guard.client, capture);
        if (pending <= drainLimit(opts.switchThreshold) || attempt >= 5) break;
        await guard.client.query('ROLLBACK TO SAVEPOINT pgtools_swap');
        recordHold(lockedAt);
        logger.info(`${pending} changes arrived while waiting for the swap lock on ${display}; catching up before trying again`);
      }
      let afterCommit: string[] = [];
      const replacements = (plan.matviews ?? []).map((m) => createReplacementSql(capture.toolSchema, m));
      try {
        // Every round trip here adds to the wait of each blocked writer, so the drain (bounded: at most
        // `drainLimit` entries unless five attempts found more, and no writer can add any), the trigger's removal and the
        // whole swap go to the server as one multi-statement query.
        const drain = buildDrainLogSql({
          names: capture,
          target: shadow,
          keyColumns,
          columns,
          keyOperators: capture.keyOperators,
          overridingSystemValue,
          ...(alter ? { columnSources: alter.sources, keyCasts: alter.keyCasts } : {}),
        });
        // Writers are blocked and the log is drained: the trigger has nothing left to capture.
        const dropTrigger = buildDropCaptureSql(capture, table)[0]!;
        const catalogStatements = plan.catalog ? catalogSwapStatements(plan.catalog) : [];
        const rename = plan.rename ? renameSwapStatements(plan.rename) : undefined;
        // The rename plan's check goes first: it must see the table as planned, trigger included.
        const head = rename ? [rename.check] : [];
        let results: pg.QueryResult[];
        try {
          const out = await guard.client.query(
            [...head, ...drain, dropTrigger, ...catalogStatements.map((st) => st.sql), ...(rename?.steps ?? []), ...replacements].join(';\n'),
          );
          results = (Array.isArray(out) ? out : [out]).slice(head.length);
        } catch (err) {
          if (plan.catalog && sqlStateOf(err) === '55000') throw catalogSwapError(plan.catalog, err);
          // The drain applied a row written in the last moments that a constraint of `--alter` refuses: nothing was swapped.
          if (alter && isConstraintViolation(sqlStateOf(err))) {
            const detail = (err as { detail?: string }).detail;
            throw new PgToolsError(
              'alter_constraint_violated',
              `--alter on ${display}: a change written just before the swap violates a new constraint: ${(err as Error).message}${detail ? ` (${detail})` : ''}; the table is unchanged`,
              { cause: err },
            );
          }
          if (plan.rename) {
            // Only the plan's own check (lock not held, table changed) is the rename swap's to report.
            const mapped = renameSwapError(plan.rename, err);
            if (mapped.code !== 'rename_swap_failed') throw mapped;
          }
          throw wrapPgError(err, 'swap_failed', `the swap of ${display} failed; the table is intact`);
        }
        const drained = results[drain.length - 1]?.rows[0] as { entries: number; inserts: number; updates: number; deletes: number } | undefined;
        result.log.entries += drained?.entries ?? 0;
        result.log.inserts += drained?.inserts ?? 0;
        result.log.updates += drained?.updates ?? 0;
        result.log.deletes += drained?.deletes ?? 0;
        if (plan.catalog)
          finishCatalogSwap(
            plan.catalog,
            catalogStatements,
            results.slice(drain.length + 1).map((r) => r.rowCount),
          );
        else if (plan.rename) afterCommit = finishRenameSwap(plan.rename).afterCommit;
        await run.pause('after-swap');
        await guard.client.query('COMMIT');
        run.guardInTransaction = false;
      } catch (err) {
        // A GRANT or a new view slipped in between the plan and the lock: nothing ran. Back to the
        // savepoint (the guard keeps SHARE UPDATE EXCLUSIVE), plan again and take the lock again.
        if (!(err instanceof PgToolsError && err.code === 'rename_swap_stale') || replans >= 3) throw err;
        await guard.client.query('ROLLBACK TO SAVEPOINT pgtools_swap');
        logger.info(`${display} changed while the rename swap waited for its lock (${err.message}); planning it again`);
        continue;
      } finally {
        recordHold(lockedAt);
      }
      return { afterSwap: afterCommit, matviews: plan.matviews ?? [] };
    }
  });
}

async function relationOid(client: pg.ClientBase, schema: string, name: string): Promise<number> {
  const { rows } = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [quoteQualified(schema, name)]);
  if (!rows[0]?.oid) throw new PgToolsError('relation_missing', `${schema}.${name} does not exist`);
  return Number(rows[0].oid);
}

import { debugFailure, PgToolsError, prepareSession, quoteIdent, quoteLiteral, quoteQualified, silentLogger, sqlStateOf, wrapPgError } from '@pgtools/core';
import { acquireTableLock } from '@pgtools/lock';
import { buildDrainLogSql, buildDropCaptureSql, countLog } from '@pgtools/cdc';
import { finishRenameSwap, prepareRenameSwap, readDependentViews, renameSwapError, viewTreeBlockers, viewTreeSteps, type RenameSwapPlan } from '@pgtools/swap';
import type { ConnectionSource } from './connection-source.js';
import type { ResolvedOptions } from './options.js';
import type { TableRun } from './table-run.js';
import type { SwapInput } from './phases/swap.js';
import { shadowAlterSql, type AlterPlan } from './alter-plan.js';
import { readTree, treeRefusal, type TreeFacts } from './alter-tree-refusal.js';
import { catchUpLeaf, leafSteps, treeCheckSql, TREE_CHANGED } from './alter-tree-steps.js';
import { drainLimit } from './catch-up.js';
import { progressApplicationName } from './progress-table.js';
import { isConstraintViolation } from './alter-constraint-rows.js';

/** A leaf ready to be swapped: its run and what its own swap would have used. */
export interface HeldLeaf {
  run: TableRun;
  input: SwapInput;
}

export interface TreeSwapInput {
  tree: TreeFacts;
  /** The plan tried on the partitioned table (its ALTER is what the partitioned table gets). */
  plan: AlterPlan;
  leaves: HeldLeaf[];
  opts: ResolvedOptions;
}

/**
 * The swap of a partitioned table altered whole, on a connection of its own, in one transaction
 * holding ACCESS EXCLUSIVE on the partitioned table, every leaf and every shadow, taken like the
 * table swap's (after a catch-up of every log, given up and retried when writers left too much):
 * each leaf's rename check and the drain of its log, then the foreign keys referencing the
 * partitioned table and the views over it go, every old leaf is detached and traded for its shadow
 * (rename-swap plans of @pgtools/swap), the partitioned table, now without partitions, gets the
 * new definition (catalog only), the shadows are attached with the old bounds (each carries a
 * validated CHECK of its bound and the indexes of the partitioned indexes: nothing is scanned or
 * built), and the views and foreign keys come back (these NOT VALID, validated after the commit
 * by the first leaf's cleanup). The leaves' guards let go of their locks just before: the checks
 * under the lock see whatever changed since the plans. Pauses at `tree-swap-planned` and
 * `tree-after-swap` (before the commit). Returns each leaf's after-commit statements.
 */
export async function runTreeSwap(source: ConnectionSource, input: TreeSwapInput): Promise<string[][]> {
  const { tree, plan, leaves, opts } = input;
  const logger = opts.logger ?? silentLogger;
  const client = await source.connect();
  let broken = false;
  client.on('error', () => {
    broken = true;
  });
  let inTransaction = false;
  try {
    await prepareSession(client, { applicationName: progressApplicationName(opts.applicationName, tree.schema, tree.name, 'swap') });
    // A grant or a view that came in between the plans and the lock (no lock keeps them out): plan again, as the table swap does.
    for (let replans = 0; ; replans++) {
      try {
        // Read again now: a partition attached or detached, or a foreign key added, since the start changes the swap.
        const now = await readTree(client, tree);
        const held = leaves.map((l) => l.run.tableOid);
        if (now.leaves.length !== held.length || now.leaves.some((l) => !held.includes(l.oid))) {
          throw new PgToolsError(
            'partition_tree_changed',
            `the partitions of ${tree.display} changed during the run; every partition is unchanged: run it again`,
          );
        }
        const refusal = treeRefusal(now, opts.alter?.actions ?? [], opts.alter?.columnOrder);
        if (refusal) throw refusal;
        const plans: RenameSwapPlan[] = [];
        for (const { run, input: leaf } of leaves) {
          const { rows } = await run.work.query<{ oid: string }>('SELECT to_regclass($1)::oid::int8 AS oid', [
            quoteQualified(leaf.capture.toolSchema, leaf.capture.logTable),
          ]);
          plans.push(
            await prepareRenameSwap(run.work, {
              original: leaf.table,
              shadow: leaf.shadow,
              indexPairs: leaf.indexPairs,
              foreignKeyValidation: 'after-commit',
              ignoreRelations: [Number(rows[0]?.oid ?? 0)],
              excludeTriggers: [leaf.capture.triggerName],
              partitionTree: true,
              ...(leaf.alter ? { columnChanges: leaf.alter.changes } : {}),
            }),
          );
        }
        const views = plan.changes.retyped.length > 0 ? await readDependentViews(client, tree.oid) : [];
        const blocked = viewTreeBlockers(views);
        if (blocked.length > 0) throw new PgToolsError('alter_refused', `--alter on ${tree.display}: ${blocked[0]}; every partition is unchanged`);
        const { rows: me } = await client.query<{ role: string }>('SELECT current_user::text AS role');
        // viewTreeSteps drops every view first (one DROP each), then creates them: the drops go before the partitioned table's ALTER.
        const viewSql: string[] = [];
        viewTreeSteps(views, me[0]?.role ?? '', (_, sql) => viewSql.push(sql));
        const parent = quoteQualified(tree.schema, tree.name);
        const alterSql = shadowAlterSql(plan);
        if (alterSql === undefined) throw new PgToolsError('alter_refused', `--alter on ${tree.display}: nothing to change on the partitioned table`);
        const split = plans.map(leafSteps);
        // The default partition is attached last: attaching another partition next to it would scan it.
        const attachOrder = plans.map((p, k) => ({ k, last: p.facts.attached.partition?.bound === 'DEFAULT' })).sort((a, b) => Number(a.last) - Number(b.last));
        const drains = leaves.map(({ input: l }) => [
          ...buildDrainLogSql({
            names: l.capture,
            target: l.shadow,
            keyColumns: l.keyColumns,
            columns: l.columns,
            keyOperators: l.capture.keyOperators,
            overridingSystemValue: l.overridingSystemValue,
            ...(l.alter ? { columnSources: l.alter.sources, keyCasts: l.alter.keyCasts } : {}),
          }),
          buildDropCaptureSql(l.capture, l.table)[0]!,
        ]);
        const statements = [
          ...split.map((s) => s.check),
          treeCheckSql(now, held),
          ...drains.flat(),
          ...now.foreignKeysIn.map((f) => `ALTER TABLE ${f.table} DROP CONSTRAINT ${quoteIdent(f.name)}`),
          ...viewSql.slice(0, views.length),
          ...split.flatMap((s) => s.detach),
          `ALTER TABLE ${parent} ${alterSql}`,
          ...attachOrder.flatMap(({ k }) => split[k]!.attach),
          ...viewSql.slice(views.length),
          ...now.foreignKeysIn.flatMap((f) => [
            `ALTER TABLE ${f.table} ADD CONSTRAINT ${quoteIdent(f.name)} ${f.def}${f.validated ? ' NOT VALID' : ''}`,
            ...(f.comment !== null ? [`COMMENT ON CONSTRAINT ${quoteIdent(f.name)} ON ${f.table} IS ${quoteLiteral(f.comment)}`] : []),
          ]),
        ];
        const pids = leaves.flatMap((l) => [l.input.workPid, l.input.guard.pid]);
        await opts.pausePoint?.('tree-swap-planned', { table: tree.display, pids });
        let lockedAt = 0;
        const recordHold = (): void => {
          const heldMs = Date.now() - lockedAt;
          for (const { run } of leaves) {
            run.result.accessExclusive.push({ purpose: 'swap', heldMs });
            run.emit({ type: 'access-exclusive', table: run.display, purpose: 'swap', heldMs });
          }
        };
        for (let attempt = 1; ; attempt++) {
          for (const leaf of leaves) await catchUpLeaf(leaf.run, leaf.input);
          for (const { run, input: l } of leaves) await run.work.query(`VACUUM ${quoteQualified(l.capture.toolSchema, l.capture.logTable)}`);
          // The guards' SHARE UPDATE EXCLUSIVE would block this connection's lock: let go (the checks under the lock see what changed since).
          for (const { run, input: l } of leaves) {
            if (!run.guardInTransaction) continue;
            await l.guard.client.query('ROLLBACK');
            run.guardInTransaction = false;
          }
          await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
          inTransaction = true;
          const first = leaves[0]!.run;
          const acquired = await acquireTableLock({
            client,
            relations: [tree, ...leaves.map((l) => l.input.table), ...leaves.map((l) => l.input.shadow)],
            mode: 'ACCESS EXCLUSIVE',
            inTransaction: true,
            waitTimeoutMs: opts.waitTimeoutMs,
            onBlockers: opts.onBlockers,
            excludePids: pids,
            signal: opts.signal,
            logger,
            onEvent: first.lockEvents('swap'),
          });
          lockedAt = Date.now();
          for (const { run } of leaves) {
            run.result.lockWaitMs += acquired.waitedMs;
            run.emit({ type: 'lock-acquired', table: run.display, purpose: 'swap', waitedMs: acquired.waitedMs, tries: acquired.tries });
          }
          let pending = 0;
          for (const { input: l } of leaves) pending += await countLog(client, l.capture);
          if (pending <= drainLimit(opts.switchThreshold) || attempt >= 5) break;
          await client.query('ROLLBACK');
          inTransaction = false;
          recordHold();
          logger.info(`${pending} changes arrived while waiting for the swap lock on ${tree.display}; catching up before trying again`);
        }
        let afterCommit: string[][];
        try {
          let results: Array<{ rows: unknown[] }>;
          try {
            const out = await client.query(statements.join(';\n'));
            results = (Array.isArray(out) ? out : [out]) as Array<{ rows: unknown[] }>;
          } catch (err) {
            throw swapError(tree, plans, err);
          }
          // Each leaf's drain reports its counts in its last statement but one (the trigger's removal is the last).
          let at = split.length + 1;
          leaves.forEach(({ run }, k) => {
            at += drains[k]!.length;
            const drained = results[at - 2]?.rows[0] as { entries: number; inserts: number; updates: number; deletes: number } | undefined;
            run.result.log.entries += drained?.entries ?? 0;
            run.result.log.inserts += drained?.inserts ?? 0;
            run.result.log.updates += drained?.updates ?? 0;
            run.result.log.deletes += drained?.deletes ?? 0;
          });
          afterCommit = plans.map((p) => finishRenameSwap(p).afterCommit);
          // The foreign keys referencing the partitioned table are validated by the first leaf's cleanup, as its own are.
          afterCommit[0]!.push(...now.foreignKeysIn.filter((f) => f.validated).map((f) => `ALTER TABLE ${f.table} VALIDATE CONSTRAINT ${quoteIdent(f.name)}`));
          await opts.pausePoint?.('tree-after-swap', { table: tree.display, pids });
          await client.query('COMMIT');
          inTransaction = false;
        } finally {
          // Rolled back before the hold is counted: the locks last until then.
          if (inTransaction && !broken) await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK of the partitioned table swap'));
          inTransaction = false;
          recordHold();
        }
        return afterCommit;
      } catch (err) {
        if (!(err instanceof PgToolsError && err.code === 'rename_swap_stale') || replans >= 3) throw err;
        logger.info(`a partition of ${tree.display} changed while the swap waited for its lock (${err.message}); planning it again`);
      }
    }
  } finally {
    if (inTransaction && !broken) await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK of the partitioned table swap'));
    await source.release(client, broken);
  }
}

/** A failure of the swap's statements, nothing of which stays (the transaction is rolled back). */
function swapError(tree: TreeFacts, plans: readonly RenameSwapPlan[], err: unknown): PgToolsError {
  const state = sqlStateOf(err);
  if ((err as Error | undefined)?.message === TREE_CHANGED) {
    return new PgToolsError(
      'partition_tree_changed',
      `the partitions of ${tree.display} or the foreign keys referencing it changed during the run; every partition is unchanged: run it again`,
      { cause: err },
    );
  }
  if (isConstraintViolation(state) || state?.startsWith('22')) {
    const detail = (err as { detail?: string }).detail;
    return new PgToolsError(
      isConstraintViolation(state) ? 'alter_constraint_violated' : 'alter_conversion_failed',
      `--alter on ${tree.display}: a change written just before the swap does not fit the new definition: ${(err as Error).message}${detail ? ` (${detail})` : ''}; every partition is unchanged`,
      { cause: err },
    );
  }
  for (const p of plans) {
    const mapped = renameSwapError(p, err);
    if (mapped.code !== 'rename_swap_failed') return mapped;
  }
  return wrapPgError(err, 'swap_failed', `the swap of the partitioned table ${tree.display} failed; every partition is unchanged`);
}

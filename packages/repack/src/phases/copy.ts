import { debugFailure, PgToolsError, quoteQualified, sqlStateOf } from '@pgtools/core';
import type { ColumnSource } from '@pgtools/cdc';
import { createRenameShadow, renameCopyColumns } from '@pgtools/swap';
import type { CdcObjects } from '@pgtools/cdc';
import { shadowTableName } from '../names.js';
import type { CopyOrder } from '../order-by.js';
import type { TableInfo } from '../table-info.js';
import type { Throttle } from '../throttle.js';
import { expectedCopyWal, sampleWalProgress, type WalProgressSampler } from '../copy-progress.js';
import { planCopy, type CopyPlan } from '../copy-plan.js';
import type { QualifiedName, TableRun } from '../table-run.js';
import { alterSources, shadowAlterSql, sourceSql, type AlterPlan } from '../alter-plan.js';
import { isConstraintViolation } from '../alter-constraint-rows.js';
import { reorderShadow } from '../alter-reorder.js';
import { findBadRow } from '../alter-probe.js';

const COPY_PROGRESS_INTERVAL_MS = 1000;

export interface Copied {
  rows: number;
  xid: string;
  /** Server timestamp text, microsecond precision. */
  committedAt: string;
  /** Columns written to the shadow table, in attnum order (rename mode leaves out generated ones). */
  columns: string[];
  /** The shadow has identity columns GENERATED ALWAYS: the log apply must say OVERRIDING SYSTEM VALUE too. */
  overridingSystemValue: boolean;
  /** With `alter`: parallel to `columns`, what each is computed from on an old row (the log apply does the same). */
  sources: ColumnSource[] | undefined;
  shadow: QualifiedName;
}

export interface CopyInput {
  info: TableInfo;
  capture: CdcObjects;
  swapMode: 'catalog' | 'rename';
  order: CopyOrder | undefined;
  throttle: Throttle;
  /** With `alter`: the shadow gets the new definition and the copy maps the columns. */
  alter: AlterPlan | undefined;
}

/**
 * The copy phase: the rows into the shadow table in one snapshot, which also empties the log, so
 * every change is either in the copy or left in the log, never both. Pauses at `during-copy`.
 */
export async function runCopy(run: TableRun, input: CopyInput): Promise<Copied> {
  const shadow = { schema: run.opts.toolSchema, name: shadowTableName(run.tableOid) };
  const copied = await run.phase('copy', () => copyTable(run, input, shadow));
  run.shadow = shadow;
  run.result.rowsCopied = copied.rows;
  return { ...copied, shadow };
}

async function copyTable(run: TableRun, input: CopyInput, shadow: QualifiedName): Promise<Omit<Copied, 'shadow'>> {
  const { work: client, opts, logger } = run;
  const { info, capture, swapMode, order, alter } = input;
  let sources: ColumnSource[] | undefined;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    // The first statement fixes the snapshot; the xid lets us find older snapshots before the swap.
    const { rows: xidRows } = await client.query<{ xid: string; pages: string }>(
      `SELECT pg_current_xact_id()::text AS xid, (pg_relation_size($1::oid) / current_setting('block_size')::int)::text AS pages`,
      [info.oid],
    );
    const xid = xidRows[0]!.xid;
    const totalPages = Number(xidRows[0]!.pages);
    // In the copy's snapshot: every change is either in the copy or left in the log, never both.
    await client.query(`DELETE FROM ${quoteQualified(capture.toolSchema, capture.logTable)}`);
    let plan: CopyPlan;
    if (swapMode === 'catalog') {
      plan = planCopy({ table: info, shadow, swap: { mode: 'catalog' }, order, totalPages, options: opts });
    } else {
      const original = { schema: info.schema, name: info.name };
      const { rows: log } = await client.query<{ oid: string }>('SELECT to_regclass($1)::oid::text AS oid', [
        quoteQualified(capture.toolSchema, capture.logTable),
      ]);
      await createRenameShadow(client, {
        original,
        shadow,
        excludeTriggers: [capture.triggerName],
        ignoreRelations: [Number(log[0]!.oid)],
        // A partition swapped with its whole tree refuses materialized views over it (the tree swap
        // rebuilds none); otherwise they are rebuilt on the new table after the swap (phases/matviews.ts).
        ...(run.target.treeLeaf ? { partitionTree: true } : { keepMaterializedViews: true }),
        ...(opts.tablespace !== undefined ? { tablespace: opts.tablespace } : {}),
      });
      let columns = await renameCopyColumns(client, original);
      if (alter) {
        // The shadow is empty: the new definition (and its new CHECKs) costs no rewrite or scan here.
        const alterSql = shadowAlterSql(alter);
        if (alterSql !== undefined) await client.query(`ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} ${alterSql}`);
        if (alter.columnOrder) await reorderShadow(client, shadow, alter.columnOrder, run.display);
        const onShadow = await renameCopyColumns(client, shadow);
        const mapped = alterSources(alter, onShadow.columns);
        sources = mapped.sources;
        columns = { ...onShadow, columns: mapped.columns, selectList: mapped.sources.map(sourceSql).join(', ') };
      }
      plan = planCopy({ table: info, shadow, swap: { mode: 'rename', columns }, order, totalPages, options: opts });
    }
    // With `alter`, a row the new definition refuses is looked for in the copy's own snapshot (the
    // writers may have changed it since): back to this savepoint, the snapshot stays.
    if (alter) await client.query('SAVEPOINT pgtools_copy');
    let rows: number;
    try {
      rows = await runCopyPlan(run, plan, input);
    } catch (err) {
      if (!alter) throw err;
      const inSnapshot = await client.query('ROLLBACK TO SAVEPOINT pgtools_copy').then(
        () => true,
        () => false,
      );
      throw inSnapshot ? await conversionError(run, input, alter, err) : err;
    }
    await client.query('COMMIT');
    // The server's clock, read after the commit (never the client's: a millisecond Date would
    // truncate and miss a transaction that started in the same millisecond).
    const { rows: at } = await client.query<{ at: string }>('SELECT clock_timestamp()::text AS at');
    return { rows, xid, committedAt: at[0]!.at, columns: plan.columns, overridingSystemValue: plan.overridingSystemValue, sources };
  } catch (err) {
    await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK after the failed copy'));
    throw err;
  }
}

/** Runs the plan's statements inside the copy's transaction; returns the rows copied. */
async function runCopyPlan(run: TableRun, plan: CopyPlan, { info, throttle }: CopyInput): Promise<number> {
  const { work: client } = run;
  const { totalPages } = plan;
  const midway = (): Promise<void> => run.pause('during-copy');
  let rows = 0;
  if (plan.copy.kind === 'create-as') rows = await copyInOneStatement(run, info, throttle, plan.copy.sql, totalPages);
  else if (plan.createSql !== undefined) await client.query(plan.createSql);
  await client.query(plan.ownerSql);
  if (plan.copy.kind !== 'chunks') {
    if (plan.copy.kind === 'insert') rows = await copyInOneStatement(run, info, throttle, plan.copy.sql, totalPages);
    run.emit({ type: 'copy-progress', table: info.display, rowsDone: rows, rowsTotal: rows, bytesDone: totalPages * 8192, bytesTotal: totalPages * 8192 });
    await midway();
    await throttle.after(client, rows, 'copy');
  } else {
    for (const chunk of plan.copy.chunks) {
      const res = await client.query(chunk.sql);
      rows += res.rowCount ?? 0;
      run.emit({
        type: 'copy-progress',
        table: info.display,
        rowsDone: rows,
        rowsTotal: Math.max(rows, info.estimatedRows),
        bytesDone: chunk.endPage * 8192,
        bytesTotal: totalPages * 8192,
      });
      if (chunk.first) await midway();
      if (chunk.last) break;
      await throttle.after(client, res.rowCount ?? 0, 'copy');
    }
  }
  for (const sql of plan.finishSql) await client.query(sql);
  return rows;
}

/** One statement copies everything; a long one reports progress estimated from the WAL it writes. */
async function copyInOneStatement(run: TableRun, info: TableInfo, throttle: Throttle, sql: string, totalPages: number): Promise<number> {
  const { work: client, source: connections } = run;
  await throttle.waitForReplicas(client, 'copy');
  const expected = connections.spare?.() === false ? undefined : await expectedCopyWal(client, info.oid, info.estimatedRows);
  let sampler: WalProgressSampler | undefined;
  if (expected !== undefined) {
    const { rows: at } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    sampler = sampleWalProgress({
      connect: async () => {
        const c = await connections.connect();
        try {
          await c.query("SELECT pg_catalog.set_config('application_name', $1, false)", [run.appName('copy')]);
        } catch (err) {
          await connections.release(c, true);
          throw err;
        }
        return c;
      },
      release: (c, broken) => connections.release(c, broken),
      startLsn: at[0]!.lsn,
      expectedBytes: expected,
      intervalMs: COPY_PROGRESS_INTERVAL_MS,
      onSample: (fraction) =>
        run.emit({
          type: 'copy-progress',
          table: info.display,
          rowsDone: Math.round(fraction * info.estimatedRows),
          rowsTotal: info.estimatedRows,
          bytesDone: Math.round(fraction * totalPages) * 8192,
          bytesTotal: totalPages * 8192,
        }),
    });
  }
  try {
    return (await client.query(sql)).rowCount ?? 0;
  } finally {
    await sampler?.stop();
  }
}

/**
 * A copy with `alter` that failed on a value (SQLSTATE class 22, data exception, or 23, a constraint
 * of the new definition): the row that fails, found by a second look, named by its key. A new
 * CHECK's refusal is `alter_constraint_violated`, the rest `alter_conversion_failed`.
 */
async function conversionError(run: TableRun, input: CopyInput, alter: AlterPlan, err: unknown): Promise<unknown> {
  const state = sqlStateOf(err);
  if (state === undefined || !(state.startsWith('22') || state.startsWith('23'))) return err;
  const keyColumns = run.result.key?.columns ?? [];
  const bad = keyColumns.length > 0 ? await findBadRow(run.work, input.info, keyColumns, alter).catch(() => undefined) : undefined;
  const what = bad ? `at the row with key ${bad.key}: ${bad.message}` : `${(err as Error).message} (the row could not be identified)`;
  const code = isConstraintViolation(state) ? 'alter_constraint_violated' : 'alter_conversion_failed';
  return new PgToolsError(code, `--alter on ${run.display}: the copy failed ${what}; the table is unchanged`, { cause: err });
}

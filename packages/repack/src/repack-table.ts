import type pg from 'pg';
import {
  PgToolsError,
  prepareSession,
  quoteIdent,
  quoteLiteral,
  quoteQualified,
  silentLogger,
  sqlStateOf,
  wrapPgError,
  type Logger,
} from '@pgtools/core';
import { acquireTableLock, releaseAdvisoryTableLock, startDdlGuard, tryAdvisoryTableLock, type DdlGuard, type LockEvent } from '@pgtools/lock';
import { applyLog, buildCreateTriggerSql, buildDrainLogSql, buildDropCaptureSql, cdcObjectNames, countLog, dropCapture, prepareCapture, type CdcObjects } from '@pgtools/cdc';
import {
  catalogSwapError,
  catalogSwapStatements,
  createRenameShadow,
  dropShadow,
  finishCatalogSwap,
  prepareCatalogSwap,
  finishRenameSwap,
  prepareRenameSwap,
  renameCopyColumns,
  renameSwapError,
  renameSwapStatements,
  shadowIndexDefinitions,
  type CatalogSwapPlan,
  type RenameSwapPlan,
} from '@pgtools/swap';
import type { PhaseName, RepackEvent, SessionInfo } from './events.js';
import type { PausePoint, ResolvedOptions } from './options.js';
import { precheck, type Problem } from './precheck.js';
import { emptyTableResult, type TableResult } from './result.js';
import { inspectTable, type TableInfo } from './table-info.js';
import { waitForOldSnapshots } from './snapshots.js';
import { shadowTableName } from './names.js';
import { copyOrder, type CopyOrder } from './order-by.js';
import { estimateBloat } from './bloat.js';
import { checkDisk } from './disk.js';
import { Throttle } from './throttle.js';
import { expectedCopyWal, sampleWalProgress, type WalProgressSampler } from './copy-progress.js';
import type { RepackTarget } from './targets.js';
import type { ConnectionSource } from './connection-source.js';
import { ELIGIBILITY_CODES, outcomeOf } from './outcomes.js';


/**
 * Index-build connections when `jobs` is not given. Two builds side by side roughly halve the index
 * phase on a two-core server (parallel maintenance workers alone gained little there), at the cost
 * of one more connection for the length of that phase.
 */
const DEFAULT_JOBS = 2;
/** A chunked copy (rename swap, paced copies) copies this many pages per statement: 64 MB. */
const DEFAULT_COPY_CHUNK_PAGES = 8192;
const COPY_PROGRESS_INTERVAL_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Repacks one ordinary table online. Never throws for a table-level problem: the result says
 * repacked, skipped (with a code) or failed (table intact, with what is left and how to clean it).
 */
export async function repackOneTable(source: ConnectionSource, target: RepackTarget, opts: ResolvedOptions): Promise<TableResult> {
  const { oid: tableOid, display } = target;
  const result = emptyTableResult(display);
  result.mode = 'table';
  const logger: Logger = opts.logger ?? silentLogger;
  const started = Date.now();
  const emit = (event: RepackEvent): void => {
    try {
      opts.onEvent?.(event);
    } catch (err) {
      logger.warn('event listener threw', { error: String(err) });
    }
  };
  const work = await source.connect();
  let guard: pg.PoolClient | pg.Client | undefined;
  let guardInTransaction = false;
  let capture: CdcObjects | undefined;
  /** The capture trigger may be on the user's table (sent, and not known to be rolled back). */
  let triggerMayExist = false;
  let shadow: { schema: string; name: string } | undefined;
  let advisoryHeld = false;
  let info: TableInfo | undefined;
  let workBroken = false;
  let guardBroken = false;
  const ddlController = new AbortController();
  let ddlGuard: DdlGuard | undefined;
  const markBroken = (which: 'work' | 'guard') => () => {
    if (which === 'work') workBroken = true;
    else guardBroken = true;
  };
  work.on('error', markBroken('work'));

  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new PgToolsError('aborted', `repack of ${display} aborted`, { cause: opts.signal.reason });
    if (ddlController.signal.aborted) throw ddlController.signal.reason as Error;
  };
  const pause = async (point: PausePoint): Promise<void> => {
    checkAbort();
    if (opts.pausePoint) {
      const pids = [(work as pg.Client & { processID?: number }).processID, (guard as (pg.Client & { processID?: number }) | undefined)?.processID].filter(
        (p): p is number => typeof p === 'number',
      );
      await opts.pausePoint(point, { table: display, pids });
      checkAbort();
    }
  };
  const phase = async <T>(name: PhaseName, fn: () => Promise<T>): Promise<T> => {
    checkAbort();
    emit({ type: 'phase-start', table: display, phase: name });
    const t0 = Date.now();
    // Recorded in start order: cleanup and analyze run side by side and may end either way round.
    const timing = { phase: name, ms: 0 };
    result.phases.push(timing);
    try {
      return await fn();
    } finally {
      timing.ms = Date.now() - t0;
      emit({ type: 'phase-end', table: display, phase: name, ms: timing.ms });
    }
  };
  const lockEvents = (purpose: string) => (e: LockEvent): void => {
    if (e.type === 'lock-waiting') {
      emit({ type: 'lock-waiting', table: display, purpose, waitedMs: e.elapsedMs, blockers: e.blockers.map(toSession) });
    } else if (e.type === 'backend-cancelled') {
      const s = toSession(e.blocker);
      result.cancelled.push(s);
      emit({ type: 'backend-cancelled', table: display, session: s });
    } else if (e.type === 'backend-terminated') {
      const s = toSession(e.blocker);
      result.terminated.push(s);
      emit({ type: 'backend-terminated', table: display, session: s });
    }
  };

  try {
    const workPid = await backendPid(work);
    await prepareSession(work, { applicationName: opts.applicationName });
    // Copy every row whatever the policies say: with row_security off PostgreSQL raises an error
    // instead of silently filtering rows for a non-superuser owner. Asynchronous commit for this
    // connection's bulk transactions (copy, apply batches): nothing it commits is worth anything
    // without the swap, and the swap's own synchronous commit (on the guard) flushes all WAL before it.
    await work.query('SET row_security = off; SET synchronous_commit = off');

    // ---- precheck -------------------------------------------------------------------------
    const { mode: swapMode, order } = await phase('precheck', async () => {
      info = await inspectTable(work, await oidToRef(work, tableOid));
      result.sizeBefore = { heapBytes: info.heapBytes, totalBytes: info.totalBytes };
      const superuser = await isSuperuser(work);
      const mode = opts.swap === 'auto' ? (superuser ? 'catalog' : 'rename') : opts.swap;
      if (mode === 'catalog' && !superuser) {
        throw new PgToolsError('catalog_swap_requires_superuser', `--swap=catalog needs a superuser; ${display} can be repacked by its owner with --swap=rename`);
      }
      const { rows: pubs } = await work.query<{ pubname: string }>('SELECT pubname FROM pg_publication WHERE puballtables ORDER BY pubname');
      const checked = precheck(info, { swap: mode, publicationsForAllTables: pubs.map((p) => p.pubname) });
      if (target.discovered) for (const p of checked.problems) if (ELIGIBILITY_CODES.has(p.code)) p.severity = 'skip';
      raiseProblems(checked.problems, logger, (m) => emit({ type: 'warning', table: display, message: m }));
      const key = checked.key!;
      result.key = { index: key.name, columns: key.keyColumns as string[] };
      result.swap = mode;
      if (opts.tablespace !== undefined) {
        const { rows: ts } = await work.query('SELECT 1 FROM pg_tablespace WHERE spcname = $1', [opts.tablespace]);
        if (ts.length === 0) throw new PgToolsError('tablespace_not_found', `tablespace ${quoteIdent(opts.tablespace)} does not exist`);
      }
      const order = await copyOrder(work, info, opts.orderBy);
      if (order) {
        result.orderBy = order.sql;
        emit({ type: 'order', table: display, orderBy: order.sql, source: order.source });
      }
      if (opts.ifBloatedPct !== undefined) {
        const estimate = await estimateBloat(work, tableOid);
        result.bloat = estimate;
        emit({ type: 'bloat-estimate', table: display, estimate });
        if (estimate.reclaimablePct === null) {
          throw new PgToolsError('bloat_unknown', `${display}: no bloat estimate (${estimate.note ?? 'unknown'}); not repacked by --if-bloated`);
        }
        if (estimate.reclaimablePct < opts.ifBloatedPct) {
          throw new PgToolsError(
            'below_bloat_threshold',
            `${display}: about ${estimate.reclaimablePct}% reclaimable (${estimate.method}), below --if-bloated ${opts.ifBloatedPct}%`,
          );
        }
      }
      if (opts.checkDisk) {
        const disk = await checkDisk(work, info, opts.tablespace);
        result.diskCheck = disk;
        emit({ type: 'disk-check', table: display, check: disk });
        if (!disk.ok) throw new PgToolsError('insufficient_disk', `${display}: ${disk.note}; nothing was changed`);
      }
      return { mode, order };
    });
    const table = { schema: info!.schema, name: info!.name };

    guard = await source.connect();
    guard.on('error', markBroken('guard'));
    await prepareSession(guard, { applicationName: opts.applicationName });
    const guardPid = await backendPid(guard);

    // Same key as pg_repack, so the two tools never work on one table at once.
    const advisory = await tryAdvisoryTableLock(guard, tableOid);
    if (!advisory.acquired) {
      throw new PgToolsError(
        'repack_running',
        `another repack is running on ${display}${advisory.holderPid ? ` (PID ${advisory.holderPid}${advisory.holderApplication ? `, ${advisory.holderApplication}` : ''})` : ''}; try again later`,
      );
    }
    advisoryHeld = true;
    await pause('after-advisory-lock');

    // ---- setup: capture trigger under a brief ACCESS EXCLUSIVE -----------------------------
    await phase('setup', async () => {
      // Leftovers of a dead run (we hold the advisory lock, so no live run owns them) go first; dropping
      // their trigger needs its own short ACCESS EXCLUSIVE, only on this rare path.
      const lockTable = () =>
        acquireTableLock({
          client: work,
          relations: [table],
          mode: 'ACCESS EXCLUSIVE',
          waitTimeoutMs: opts.waitTimeoutMs,
          onBlockers: opts.onBlockers,
          excludePids: [guardPid],
          signal: opts.signal,
          logger,
          onEvent: lockEvents('setup'),
        });
      if (await hasLeftovers(work, tableOid, opts.toolSchema)) {
        await lockTable();
        const since = Date.now();
        try {
          const removed = await removeLeftovers(work, tableOid, opts.toolSchema);
          await work.query('COMMIT');
          result.leftoversRemoved.push(...removed);
          emit({ type: 'leftovers-removed', table: display, objects: removed });
          logger.info(`removed leftovers of an interrupted run on ${display}`, { objects: removed });
        } catch (err) {
          await work.query('ROLLBACK').catch(() => {});
          throw err;
        } finally {
          result.accessExclusive.push({ purpose: 'cleanup', heldMs: Date.now() - since });
        }
      }
      // Everything but the trigger is made before the lock; from here on the log table (it keeps rows of
      // the table's type) refuses column DDL, so the columns inspected now stay valid.
      info = await inspectTable(work, table);
      const recheck = precheck(info, { swap: swapMode });
      raiseProblems(recheck.problems.filter((p) => p.code !== 'publication_all_tables'), logger, () => {});
      const key = recheck.key!;
      result.key = { index: key.name, columns: key.keyColumns as string[] };
      capture = await prepareCapture(work, { table: { ...table, oid: tableOid }, keyColumns: key.keyColumns as string[], toolSchema: opts.toolSchema });
      // READ COMMITTED whatever the server's default: the drain and the rename swap's change check
      // under the swap lock must see what committed up to then, not a snapshot from here.
      await guard!.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      guardInTransaction = true;

      const acquired = await lockTable();
      const lockedAt = Date.now();
      result.lockWaitMs += acquired.waitedMs;
      emit({ type: 'lock-acquired', table: display, purpose: 'setup', waitedMs: acquired.waitedMs, tries: acquired.tries });
      try {
        // The guard queues for SHARE UPDATE EXCLUSIVE behind our ACCESS EXCLUSIVE, so no DDL can
        // slip in between our commit and its grant; sent first, it queues while we work, and it is
        // checked to be really queued before we commit.
        const guardLock = guard!.query(`LOCK TABLE ${quoteQualified(table.schema, table.name)} IN SHARE UPDATE EXCLUSIVE MODE`);
        guardLock.catch(() => {});
        // One round trip (each one under the lock adds to every blocked writer's wait): the key check
        // (indexes are not protected by the log table: the key must still be the one we chose) and the trigger.
        triggerMayExist = true;
        const checked = await work.query([requireKeyIndexSql(key.oid), ...buildCreateTriggerSql(capture, capture.table)].join(';\n'));
        if ((Array.isArray(checked) ? checked[0] : checked)?.rowCount !== 1) {
          throw new PgToolsError('no_usable_key', `the key index of ${display} changed while the repack was starting; run it again`);
        }
        await guardQueuedAndConflicts(work, tableOid, guardPid, opts.onDdl, (s) => emit({ type: 'ddl-cancelled', table: display, session: s }));
        await work.query('COMMIT');
        await guardLock;
      } catch (err) {
        // Rolled back for sure: the trigger was never there (nor is it after a failed COMMIT).
        if (await work.query('ROLLBACK').then(() => true, () => false)) triggerMayExist = false;
        throw err;
      } finally {
        const heldMs = Date.now() - lockedAt;
        result.accessExclusive.push({ purpose: 'setup', heldMs });
        emit({ type: 'access-exclusive', table: display, purpose: 'setup', heldMs });
      }
    });
    await pause('after-capture');

    ddlGuard = await startDdlGuard({
      connection: clientConfigOf(work),
      guardPid,
      relations: [table],
      action: opts.onDdl === 'cancel' ? 'cancel' : 'report',
      applicationName: `${opts.applicationName} ddl-guard`,
      logger,
      onEvent: (e) => {
        if (e.type === 'ddl-cancelled') {
          emit({ type: 'ddl-cancelled', table: display, session: toSession(e.session) });
        } else if (e.type === 'ddl-queued' && !ddlController.signal.aborted) {
          const s = toSession(e.session);
          ddlController.abort(
            new PgToolsError('ddl_waiting', `a DDL statement (PID ${s.pid}, user ${s.user ?? '?'}: ${s.query ?? ''}) is waiting for ${display}; giving up so it can proceed`),
          );
        }
      },
    });

    const throttle = new Throttle({ maxRate: opts.maxRate, maxReplicaLag: opts.maxReplicaLag, table: display, emit, signal: opts.signal });

    // ---- copy: one snapshot for the copy and the log truncation -----------------------------
    const shadowName = shadowTableName(tableOid);
    const copy = await phase('copy', () =>
      copyTable(work, info!, { schema: opts.toolSchema, name: shadowName }, capture!, swapMode, opts, emit, () => pause('during-copy'), order, throttle, source),
    );
    shadow = { schema: opts.toolSchema, name: shadowName };
    result.rowsCopied = copy.rows;
    await pause('after-copy');

    // ---- indexes ------------------------------------------------------------------------------
    const indexPairs = await phase('indexes', async () => {
      const definitions = await shadowIndexDefinitions(work, {
        original: table,
        shadow: shadow!,
        ...(opts.moveIndexes && opts.tablespace !== undefined ? { tablespace: opts.tablespace } : {}),
      });
      const pairs = definitions.map((def) => ({
        original: { schema: def.originalIndex.schema, name: def.originalIndex.name },
        shadow: { schema: shadow!.schema, name: def.shadowIndexName },
      }));
      const build = async (client: pg.ClientBase, def: (typeof definitions)[number]): Promise<void> => {
        checkAbort();
        const t0 = Date.now();
        await client.query(def.sql);
        result.indexesBuilt.push(def.originalIndex.name);
        emit({ type: 'index-built', table: display, index: def.originalIndex.name, ms: Date.now() - t0 });
      };
      // Longest first (the original's size stands in for the build cost), so a big index never starts
      // last on one connection while the others sit idle.
      const sizes = await indexSizes(work, definitions.map((d) => d.originalIndex.oid));
      const ordered = [...definitions].sort((a, b) => (sizes.get(b.originalIndex.oid) ?? 0) - (sizes.get(a.originalIndex.oid) ?? 0));
      const jobs = Math.min(opts.jobs ?? (source.spare?.() === false ? 1 : DEFAULT_JOBS), ordered.length);
      await buildInParallel(source, work, ordered, jobs, opts.applicationName, build, await workerBudget(work, jobs));
      return pairs;
    });
    await pause('after-indexes');

    // ---- apply until the log is small, then wait for old snapshots --------------------------
    const applyOnce = async (client: pg.ClientBase, inTransaction: boolean): Promise<number> => {
      const stats = await applyLog(client, {
        objects: capture!,
        target: shadow!,
        keyColumns: result.key!.columns,
        columns: copy.columns,
        batchSize: throttle.stepRows(opts.applyBatchSize),
        transaction: inTransaction ? 'caller' : 'own',
      });
      result.log.entries += stats.entries;
      result.log.inserts += stats.inserts;
      result.log.updates += stats.updates;
      result.log.deletes += stats.deletes;
      return stats.entries;
    };
    await phase('apply', async () => {
      for (let round = 0; ; round++) {
        checkAbort();
        const applied = await applyOnce(work, false);
        await throttle.after(work, applied, 'apply');
        const remaining = await countLog(work, capture!);
        emit({ type: 'apply-progress', table: display, applied: result.log.entries, remaining });
        if (round === 0) await pause('during-apply');
        if (applied < opts.switchThreshold && remaining < opts.switchThreshold) break;
      }
    });

    await phase('snapshot-wait', () =>
      waitForOldSnapshots(work, {
        copyXid: copy.xid,
        copyCommittedAt: copy.committedAt,
        ourPids: [workPid, guardPid],
        timeoutMs: opts.snapshotWaitMs,
        onWaiting: (sessions, waitedMs) => emit({ type: 'snapshot-waiting', table: display, sessions, waitedMs }),
        between: async () => {
          checkAbort();
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
    await pause('before-swap');

    // ---- swap: upgrade the guard's lock, drain the log, swap, drop, one transaction ------------
    await ddlGuard.stop();
    ddlGuard = undefined;
    const afterSwap = await phase('swap', async () => {
      const recordHold = (since: number): void => {
        const heldMs = Date.now() - since;
        result.accessExclusive.push({ purpose: 'swap', heldMs });
        emit({ type: 'access-exclusive', table: display, purpose: 'swap', heldMs });
      };
      const logOid = await relationOid(guard!, capture!.toolSchema, capture!.logTable);
      // Validation and, in rename mode, every statement of the swap need no ACCESS EXCLUSIVE: the
      // guard's SHARE UPDATE EXCLUSIVE already keeps DDL out (the rename plan re-checks under the
      // lock what that lets through, such as a GRANT).
      const planSwap = async (): Promise<{ catalog?: CatalogSwapPlan; rename?: RenameSwapPlan }> =>
        swapMode === 'catalog'
          ? { catalog: await prepareCatalogSwap(guard!, { original: table, shadow: shadow!, indexPairs }) }
          : {
              // On the work connection, in autocommit: reading view definitions locks the views, and
              // in the guard's transaction those locks would last until the swap commits.
              rename: await prepareRenameSwap(work, {
                original: table,
                shadow: shadow!,
                indexPairs,
                // Re-validating foreign keys scans the referencing tables: do it after the lock is gone.
                foreignKeyValidation: 'after-commit',
                // The log keeps rows of the table's type until it is dropped right after the commit.
                ignoreRelations: [logOid],
                // Dropped in the same round trip, before the swap statements.
                excludeTriggers: [capture!.triggerName],
              }),
            };
      for (let replans = 0; ; replans++) {
        const plan = await planSwap();
        await pause('swap-planned');
        let lockedAt = 0;
        for (let attempt = 1; ; attempt++) {
          // Catch up first, so the drain under ACCESS EXCLUSIVE stays short.
          for (;;) {
            const applied = await applyOnce(work, false);
            await throttle.after(work, applied, 'apply');
            checkAbort();
            if (applied < opts.switchThreshold) break;
          }
          // The drain under the lock scans the whole log, whose applied entries are dead rows (its
          // autovacuum is off): under a 2,000 tps load they made each scan ~6 ms and the drain ~30 ms.
          await work.query(`VACUUM ${quoteQualified(capture!.toolSchema, capture!.logTable)}`);
          await guard!.query('SAVEPOINT pgtools_swap');
          const acquired = await acquireTableLock({
            client: guard!,
            relations: [table, shadow!],
            mode: 'ACCESS EXCLUSIVE',
            inTransaction: true,
            waitTimeoutMs: opts.waitTimeoutMs,
            onBlockers: opts.onBlockers,
            excludePids: [workPid],
            signal: opts.signal,
            logger,
            onEvent: lockEvents('swap'),
          });
          lockedAt = Date.now();
          result.lockWaitMs += acquired.waitedMs;
          emit({ type: 'lock-acquired', table: display, purpose: 'swap', waitedMs: acquired.waitedMs, tries: acquired.tries });
          // Writers kept writing while we waited for the lock: if they left more than a short drain,
          // let go (back to the savepoint: the guard keeps its SHARE UPDATE EXCLUSIVE) and catch up again.
          const pending = await countLog(guard!, capture!);
          // About 1,000 entries replay in well under 50 ms.
          if (pending <= Math.max(2 * opts.switchThreshold, 1_000) || attempt >= 5) break;
          await guard!.query('ROLLBACK TO SAVEPOINT pgtools_swap');
          recordHold(lockedAt);
          logger.info(`${pending} changes arrived while waiting for the swap lock on ${display}; catching up before trying again`);
        }
        let afterCommit: string[] = [];
        try {
          // Every round trip here adds to the wait of each blocked writer, so the drain (bounded: at most
          // about 2 x switchThreshold entries, and no writer can add any), the trigger's removal and the
          // whole swap go to the server as one multi-statement query.
          const drain = buildDrainLogSql({
            names: capture!,
            target: shadow!,
            keyColumns: result.key!.columns,
            columns: copy.columns,
            keyOperators: capture!.keyOperators,
          });
          // Writers are blocked and the log is drained: the trigger has nothing left to capture.
          const dropTrigger = buildDropCaptureSql(capture!, table)[0]!;
          const catalogStatements = plan.catalog ? catalogSwapStatements(plan.catalog) : [];
          const rename = plan.rename ? renameSwapStatements(plan.rename) : undefined;
          // The rename plan's check goes first: it must see the table as planned, trigger included.
          const head = rename ? [rename.check] : [];
          let results: pg.QueryResult[];
          try {
            const out = await guard!.query([...head, ...drain, dropTrigger, ...catalogStatements.map((st) => st.sql), ...(rename?.steps ?? [])].join(';\n'));
            results = (Array.isArray(out) ? out : [out]).slice(head.length);
          } catch (err) {
            if (plan.catalog && sqlStateOf(err) === '55000') throw catalogSwapError(plan.catalog, err);
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
          if (plan.catalog) finishCatalogSwap(plan.catalog, catalogStatements, results.slice(drain.length + 1).map((r) => r.rowCount));
          else afterCommit = finishRenameSwap(plan.rename!).afterCommit;
          await pause('after-swap');
          await guard!.query('COMMIT');
          guardInTransaction = false;
        } catch (err) {
          // A GRANT or a new view slipped in between the plan and the lock: nothing ran. Back to the
          // savepoint (the guard keeps SHARE UPDATE EXCLUSIVE), plan again and take the lock again.
          if (!(err instanceof PgToolsError && err.code === 'rename_swap_stale') || replans >= 3) throw err;
          await guard!.query('ROLLBACK TO SAVEPOINT pgtools_swap');
          logger.info(`${display} changed while the rename swap waited for its lock (${err.message}); planning it again`);
          continue;
        } finally {
          recordHold(lockedAt);
        }
        return afterCommit;
      }
    });

    // Outside the lock, side by side: the guard drops the log (it keeps rows of the old table's type,
    // so it goes first) and the old storage, validates foreign keys and lets go of the advisory lock,
    // while the work connection analyzes the new table. Neither needs a lock the other holds (ANALYZE
    // only conflicts with a validation of the same table, which then simply waits). A crash here
    // leaves only tool objects for the next run.
    const cleanup = phase('cleanup', async () => {
      await dropCapture(guard!, capture!, { triggerDropped: true });
      capture = undefined;
      await dropShadow(guard!, shadow!);
      shadow = undefined;
      for (const sql of afterSwap) await guard!.query(sql);
      await releaseAdvisoryTableLock(guard!, tableOid);
      advisoryHeld = false;
    });
    const analyze = opts.analyze
      ? phase('analyze', async () => {
          await work.query(`ANALYZE ${quoteQualified(table.schema, table.name)}`);
        })
      : Promise.resolve();
    const [cleaned, analyzed] = await Promise.allSettled([cleanup, analyze]);
    if (cleaned.status === 'rejected') throw cleaned.reason;
    if (analyzed.status === 'rejected') throw analyzed.reason;
    const { rows: after } = await work.query<{ heap: string; total: string }>(
      // By name: the rename swap gives the table a new OID.
      'SELECT pg_relation_size(c.oid)::text AS heap, pg_total_relation_size(c.oid)::text AS total FROM pg_class c WHERE c.oid = to_regclass($1)',
      [quoteQualified(table.schema, table.name)],
    );
    if (after[0]) result.sizeAfter = { heapBytes: Number(after[0].heap), totalBytes: Number(after[0].total) };
    result.status = 'repacked';
  } catch (err) {
    const e = err instanceof PgToolsError ? err : wrapPgError(err, 'repack_failed', `repack of ${display} failed`);
    result.status = outcomeOf(e.code, { discovered: target.discovered === true });
    result.code = e.code;
    if (e.sqlState) result.sqlState = e.sqlState;
    result.message = e.message;
    if (result.status === 'filtered') logger.info(e.message);
    else logger.error(e.message, e.toJSON());
  } finally {
    await ddlGuard?.stop().catch(() => {});
    // Roll back whatever is open; the original table is untouched by anything not committed.
    if (guard && guardInTransaction && !guardBroken) await guard.query('ROLLBACK').catch(() => {});
    if (capture || shadow) {
      const leftover = await cleanupAfterFailure(work, workBroken, source, { schema: info?.schema ?? '', name: info?.name ?? '' }, tableOid, triggerMayExist, opts, logger);
      if (leftover) result.cleanupHint = leftover;
    }
    if (advisoryHeld && guard && !guardBroken) await releaseAdvisoryTableLock(guard, tableOid).catch(() => {});
    if (guard) await source.release(guard, guardBroken);
    await source.release(work, workBroken);
    result.totalMs = Date.now() - started;
  }
  return result;
}

function raiseProblems(problems: Problem[], logger: Logger, warn: (m: string) => void): void {
  for (const p of problems.filter((x) => x.severity === 'warn')) {
    logger.warn(p.message);
    warn(p.message);
  }
  const blocking = problems.find((p) => p.severity !== 'warn');
  if (!blocking) return;
  const message = blocking.fix ? `${blocking.message}; ${blocking.fix}` : blocking.message;
  // The status comes from the outcome table; a discovered table's eligibility problem skips it.
  throw new PgToolsError(blocking.code, message);
}

async function backendPid(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

async function isSuperuser(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ su: boolean }>('SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user');
  return rows[0]?.su ?? false;
}

async function oidToRef(client: pg.ClientBase, oid: number): Promise<{ schema: string; name: string }> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    'SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1',
    [oid],
  );
  if (!rows[0]) throw new PgToolsError('table_not_found', `table with OID ${oid} no longer exists`);
  return rows[0];
}

function toSession(value: unknown): SessionInfo {
  const v = (value ?? {}) as Record<string, unknown>;
  const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  return {
    pid: Number(v.pid),
    user: str(v.user ?? v.usename),
    application: str(v.application ?? v.applicationName ?? v.application_name),
    query: str(v.query),
  };
}

function clientConfigOf(client: pg.ClientBase): pg.ClientConfig {
  const c = client as unknown as { connectionParameters: pg.ClientConfig & { password?: unknown } };
  const p = c.connectionParameters;
  return { host: p.host, port: p.port, user: p.user, database: p.database, password: p.password as string | undefined, ssl: p.ssl };
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
    throw new PgToolsError('ddl_waiting', `DDL is waiting for the table (${sessions.map((s) => `PID ${s.pid}: ${s.query ?? ''}`).join('; ')}); giving up so it can proceed`);
  }
  for (const s of sessions) {
    await client.query('SELECT pg_cancel_backend($1)', [s.pid]);
    onCancelled(s);
  }
}

interface CopyOutcome {
  rows: number;
  xid: string;
  /** Server timestamp text, microsecond precision. */
  committedAt: string;
  /** Columns written to the shadow table, in attnum order (rename mode leaves out generated ones). */
  columns: string[];
}

async function copyTable(
  client: pg.ClientBase,
  info: TableInfo,
  shadow: { schema: string; name: string },
  capture: CdcObjects,
  swapMode: 'catalog' | 'rename',
  opts: ResolvedOptions,
  emit: (e: RepackEvent) => void,
  midway: () => Promise<void>,
  order: CopyOrder | undefined,
  throttle: Throttle,
  connections: ConnectionSource,
): Promise<CopyOutcome> {
  const tablespace = opts.tablespace ?? info.tablespace;
  const source = `ONLY ${quoteQualified(info.schema, info.name)}`;
  const target = quoteQualified(shadow.schema, shadow.name);
  const live = info.columns.filter((c) => !c.dropped);
  const liveNames = live.map((c) => c.name);
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
    const pacedCopy = opts.maxRate !== undefined || (opts.maxReplicaLag !== undefined && 'bytes' in opts.maxReplicaLag);
    let chunk = opts.copyChunkPages ?? (swapMode === 'catalog' && !pacedCopy ? Math.max(1, totalPages) : DEFAULT_COPY_CHUNK_PAGES);
    if (opts.maxRate !== undefined && totalPages > 0) {
      const rowsPerPage = Math.max(1, info.estimatedRows / totalPages);
      chunk = Math.max(1, Math.min(chunk, Math.floor(opts.maxRate / rowsPerPage)));
    }
    if (opts.maxReplicaLag && 'bytes' in opts.maxReplicaLag) {
      // Keep the WAL of one chunk well under the allowed lag, so the check between chunks can hold it.
      chunk = Math.max(1, Math.min(chunk, Math.floor(opts.maxReplicaLag.bytes / 2 / 8192)));
    }
    // TID ranges cannot produce one physical order: the ordered copy is a single statement.
    const singleStatement = order !== undefined || totalPages <= chunk;
    /** One statement copies everything; a long one reports progress estimated from the WAL it writes. */
    const copyInOneStatement = async (sql: string): Promise<number> => {
      await throttle.waitForReplicas(client, 'copy');
      const expected = connections.spare?.() === false ? undefined : await expectedCopyWal(client, info.oid, info.estimatedRows);
      let sampler: WalProgressSampler | undefined;
      if (expected !== undefined) {
        const { rows: at } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
        sampler = sampleWalProgress({
          connect: () => connections.connect(),
          release: (c, broken) => connections.release(c, broken),
          startLsn: at[0]!.lsn,
          expectedBytes: expected,
          intervalMs: COPY_PROGRESS_INTERVAL_MS,
          onSample: (fraction) =>
            emit({
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
    };
    const orderBy = order ? ` ORDER BY ${order.sql}` : '';
    let insertColumns: string[];
    let selectList: string;
    let overriding = '';
    let rows = 0;
    // CREATE TABLE AS fills the table through the server's bulk-insert path (one pinned target
    // page, no free-space-map lookups), measured ~15% faster than INSERT ... SELECT; a chunked
    // copy (progress, throttling) needs INSERT for every chunk after the first, so it creates the
    // table empty instead.
    let filledByCreate = false;
    if (swapMode === 'catalog') {
      // Same attribute numbers as the original, so its tuple descriptor reads our files:
      // placeholders stand in for dropped columns and are dropped again after the copy.
      const select = info.columns
        .map((c) => (c.dropped ? `NULL::int4 AS ${quoteIdent(placeholderName(c.attnum))}` : quoteIdent(c.name)))
        .join(', ');
      const withOptions = [...info.reloptions.filter((o) => !o.startsWith('autovacuum_')), 'autovacuum_enabled=false']
        .map((o) => o.replace(/^([a-z_.]+)=(.*)$/, (_m, k: string, v: string) => `${k}=${quoteLiteral(v)}`))
        .join(', ');
      const create = `CREATE TABLE ${target} WITH (${withOptions}, toast.autovacuum_enabled=false)${tablespace ? ` TABLESPACE ${quoteIdent(tablespace)}` : ''} AS SELECT ${select} FROM ${source}`;
      insertColumns = liveNames;
      selectList = liveNames.map(quoteIdent).join(', ');
      if (singleStatement) {
        rows = await copyInOneStatement(`${create}${orderBy}`);
        filledByCreate = true;
      } else {
        await client.query(`${create} WITH NO DATA`);
      }
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
        ...(opts.tablespace !== undefined ? { tablespace: opts.tablespace } : {}),
      });
      const copyColumns = await renameCopyColumns(client, original);
      insertColumns = copyColumns.columns;
      selectList = copyColumns.selectList;
      overriding = copyColumns.overriding;
    }
    // The shadow takes the table's owner now, while no other session knows it (a no-op when it has
    // it): at the swap an ALTER OWNER would take ACCESS EXCLUSIVE on it inside the guard's
    // transaction, and the log apply on the other connection would wait for it forever.
    await client.query(`ALTER TABLE ${target} OWNER TO ${quoteIdent(info.owner)}`);
    const insertPrefix = `INSERT INTO ${target} (${insertColumns.map(quoteIdent).join(', ')}) ${overriding} SELECT ${selectList} FROM ${source}`;
    if (singleStatement) {
      if (!filledByCreate) rows = await copyInOneStatement(`${insertPrefix}${orderBy}`);
      emit({ type: 'copy-progress', table: info.display, rowsDone: rows, rowsTotal: rows, bytesDone: totalPages * 8192, bytesTotal: totalPages * 8192 });
      await midway();
      await throttle.after(client, rows, 'copy');
    }
    for (let start = 0; !singleStatement; start += chunk) {
      const last = start + chunk >= totalPages;
      const where = last ? `WHERE ctid >= '(${start},0)'::tid` : `WHERE ctid >= '(${start},0)'::tid AND ctid < '(${start + chunk},0)'::tid`;
      const res = await client.query(`${insertPrefix} ${where}`);
      rows += res.rowCount ?? 0;
      emit({
        type: 'copy-progress',
        table: info.display,
        rowsDone: rows,
        rowsTotal: Math.max(rows, info.estimatedRows),
        bytesDone: Math.min(totalPages, start + chunk) * 8192,
        bytesTotal: totalPages * 8192,
      });
      if (start === 0) await midway();
      if (last) break;
      await throttle.after(client, res.rowCount ?? 0, 'copy');
    }
    if (swapMode === 'catalog') {
      for (const c of info.columns.filter((col) => col.dropped)) {
        await client.query(`ALTER TABLE ${target} DROP COLUMN ${quoteIdent(placeholderName(c.attnum))}`);
      }
    }
    await client.query('COMMIT');
    // The server's clock, read after the commit (never the client's: a millisecond Date would
    // truncate and miss a transaction that started in the same millisecond).
    const { rows: at } = await client.query<{ at: string }>('SELECT clock_timestamp()::text AS at');
    return { rows, xid, committedAt: at[0]!.at, columns: insertColumns };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

// Dots keep it clear of any real column name a user would pick.
function placeholderName(attnum: number): string {
  return `pgtools.dropped.${attnum}`;
}

/**
 * Parallel maintenance workers per build when several builds run side by side: together they stay
 * within the processes one CREATE INDEX may use by the server's own setting (1 + its
 * max_parallel_maintenance_workers). On two cores, two builds without workers beat two builds with
 * two workers each, which only fight for the CPU. Undefined: one build at a time, nothing to change.
 */
async function workerBudget(client: pg.ClientBase, jobs: number): Promise<{ perBuild: number; previous: string } | undefined> {
  if (jobs < 2) return undefined;
  const { rows } = await client.query<{ w: string }>("SELECT current_setting('max_parallel_maintenance_workers') AS w");
  const previous = rows[0]!.w;
  return { perBuild: Math.max(0, Math.floor((1 + Number(previous)) / jobs) - 1), previous };
}

async function indexSizes(client: pg.ClientBase, oids: number[]): Promise<Map<number, number>> {
  const { rows } = await client.query<{ oid: string; bytes: string }>(
    'SELECT o::text AS oid, pg_relation_size(o)::text AS bytes FROM unnest($1::oid[]) AS o',
    [oids],
  );
  return new Map(rows.map((r) => [Number(r.oid), Number(r.bytes)]));
}

async function relationOid(client: pg.ClientBase, schema: string, name: string): Promise<number> {
  const { rows } = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [quoteQualified(schema, name)]);
  if (!rows[0]?.oid) throw new PgToolsError('relation_missing', `${schema}.${name} does not exist`);
  return Number(rows[0].oid);
}

/**
 * One row when the key index chosen before the setup lock is still there and valid. The OID is a
 * number we checked, so it stands in the text and the check can share a round trip with the trigger.
 */
function requireKeyIndexSql(indexOid: number): string {
  if (!Number.isSafeInteger(indexOid) || indexOid <= 0) throw new PgToolsError('invalid_argument', `not an OID: ${indexOid}`);
  return `SELECT 1 FROM pg_index WHERE indexrelid = ${indexOid}::oid AND indisvalid AND indisready AND indislive AND indisunique AND indimmediate`;
}

/** Drops what an earlier, dead run left for this table (we hold the advisory lock, so it is dead). */
async function findLeftovers(client: pg.ClientBase, tableOid: number, toolSchema: string): Promise<string[]> {
  const names = cdcObjectNames(tableOid, toolSchema);
  const { rows } = await client.query<{ what: string }>(
    `SELECT 'trigger ' || t.tgname AS what FROM pg_trigger t WHERE t.tgrelid = $1 AND t.tgname = $2
     UNION ALL
     SELECT 'table ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $3 AND c.relname IN ($4, $5)
     UNION ALL
     SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $3 AND p.proname = $6`,
    [tableOid, names.triggerName, toolSchema, names.logTable, shadowTableName(tableOid), names.functionName],
  );
  return rows.map((r) => r.what);
}

async function hasLeftovers(client: pg.ClientBase, tableOid: number, toolSchema: string): Promise<boolean> {
  return (await findLeftovers(client, tableOid, toolSchema)).length > 0;
}

async function removeLeftovers(client: pg.ClientBase, tableOid: number, toolSchema: string): Promise<string[]> {
  const found = await findLeftovers(client, tableOid, toolSchema);
  if (found.length === 0) return [];
  // The log keeps rows of a table's type (after a rename swap, of the old table now in the shadow's place): it goes first.
  await dropCapture(client, cdcObjectNames(tableOid, toolSchema));
  await client.query(`DROP TABLE IF EXISTS ${quoteQualified(toolSchema, shadowTableName(tableOid))}`);
  return found;
}

/**
 * After a failure: drop the capture trigger, the log and the shadow table. Dropping the trigger
 * needs a short ACCESS EXCLUSIVE; if it cannot be had, the objects stay (the trigger keeps logging
 * into the unlogged log table, harmless but growing) and the caller tells the user how to clean.
 * When the trigger was never attached, only our own objects are dropped, with no lock on the table.
 */
async function cleanupAfterFailure(
  work: pg.ClientBase,
  workBroken: boolean,
  source: ConnectionSource,
  table: { schema: string; name: string },
  tableOid: number,
  triggerMayExist: boolean,
  opts: ResolvedOptions,
  logger: Logger,
): Promise<string | undefined> {
  let client: pg.ClientBase = work;
  let own: (pg.PoolClient | pg.Client) | undefined;
  const shadowSql = `DROP TABLE IF EXISTS ${quoteQualified(opts.toolSchema, shadowTableName(tableOid))}`;
  try {
    if (workBroken) {
      own = await source.connect();
      client = own;
    }
    await client.query('ROLLBACK').catch(() => {});
    if (!triggerMayExist) {
      // Bounded anyway: the drops lock only our objects, never wait long for anyone.
      await client.query('BEGIN');
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [String(Math.min(opts.waitTimeoutMs, 10_000))]);
      for (const sql of [...buildDropCaptureSql(cdcObjectNames(tableOid, opts.toolSchema)), shadowSql]) await client.query(sql);
      await client.query('COMMIT');
      return undefined;
    }
    await acquireTableLock({
      client,
      relations: [table],
      mode: 'ACCESS EXCLUSIVE',
      waitTimeoutMs: Math.min(opts.waitTimeoutMs, 10_000),
      onBlockers: 'give-up',
      logger,
    });
    await removeLeftovers(client, tableOid, opts.toolSchema);
    await client.query('COMMIT');
    return undefined;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    const trigger = triggerMayExist ? 'trigger on the table, ' : '';
    const hint = `the table is intact; leftovers of this run remain (${trigger}${opts.toolSchema}.log_${tableOid}, ${opts.toolSchema}.${shadowTableName(tableOid)}): run pgtools-repack --cleanup -t ${quoteQualified(table.schema, table.name)} or simply run the repack again`;
    logger.warn(`could not clean up after the failed repack: ${(err as Error).message}`);
    return hint;
  } finally {
    if (own) await source.release(own, false);
  }
}

/**
 * Builds the shadow's indexes over up to `jobs` connections, one index per connection at a time.
 * Extra connections are ours only for the build; `work` keeps building too.
 */
async function buildInParallel<T>(
  source: ConnectionSource,
  work: pg.ClientBase,
  items: readonly T[],
  jobs: number,
  applicationName: string,
  build: (client: pg.ClientBase, item: T) => Promise<void>,
  workers: { perBuild: number; previous: string } | undefined,
): Promise<void> {
  const queue = [...items];
  const extra: Array<pg.PoolClient | pg.Client> = [];
  let failed = false;
  const setWorkers = (c: pg.ClientBase, value: string) =>
    c.query("SELECT pg_catalog.set_config('max_parallel_maintenance_workers', $1, false)", [value]);
  try {
    for (let i = 1; i < jobs; i++) {
      const c = await source.connect();
      extra.push(c);
      await prepareSession(c, { applicationName: `${applicationName} index-build` });
      await c.query('SET synchronous_commit = off');
      if (workers) await setWorkers(c, String(workers.perBuild));
    }
    if (workers) await setWorkers(work, String(workers.perBuild));
    const worker = async (client: pg.ClientBase): Promise<void> => {
      for (let item = queue.shift(); item !== undefined && !failed; item = queue.shift()) {
        try {
          await build(client, item);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const outcomes = await Promise.allSettled([worker(work), ...extra.map((c) => worker(c))]);
    const error = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (error) throw error.reason;
    if (workers) await setWorkers(work, workers.previous);
  } finally {
    for (const c of extra) await source.release(c, failed);
  }
}

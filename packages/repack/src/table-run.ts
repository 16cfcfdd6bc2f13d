import type pg from 'pg';
import { debugFailure, PgToolsError, prepareSession, silentLogger, wrapPgError, type Logger } from '@pgtools/core';
import { releaseAdvisoryTableLock, startDdlGuard, type DdlGuard, type LockEvent } from '@pgtools/lock';
import type { CdcObjects } from '@pgtools/cdc';
import type { ConnectionSource } from './connection-source.js';
import type { PhaseName, RepackEvent } from './events.js';
import type { PausePoint, ResolvedOptions } from './options.js';
import { emptyTableResult, type TableResult } from './result.js';
import type { RepackTarget } from './targets.js';
import { outcomeOf } from './outcomes.js';
import { cleanupAfterFailure } from './leftovers.js';
import { toSession } from './session-info.js';
import { clientConfigOf } from './connections.js';
import type { TableProgress } from './progress-board.js';
import type { RunShared } from './run-shared.js';
import { progressApplicationName } from './progress-table.js';

export interface QualifiedName {
  schema: string;
  name: string;
}

type Connection = pg.PoolClient | pg.Client;

/** The second connection: it holds the advisory lock, then SHARE UPDATE EXCLUSIVE on the table from the setup to the swap. */
export interface Guard {
  client: Connection;
  pid: number;
}

/**
 * One table's repack while it runs: its connections, its result and events, the abort and pause
 * handling, and what it has made so far (so that a failure at any point cleans up exactly that).
 * The phases set the state fields as they make things; `close()` undoes what a failure left.
 */
export class TableRun {
  readonly result: TableResult;
  readonly logger: Logger;
  readonly display: string;
  readonly tableOid: number;
  /** Precheck's table, by name (the rename swap gives it a new OID). */
  table: QualifiedName | undefined;
  /** Open from the setup to the swap's commit. */
  guardInTransaction = false;
  /** Log table and function exist (the trigger too, maybe: see `triggerMayExist`). */
  capture: CdcObjects | undefined;
  /** The capture trigger may be on the user's table (sent, and not known to be rolled back). */
  triggerMayExist = false;
  /** The copy committed the shadow table. */
  shadow: QualifiedName | undefined;
  advisoryHeld = false;
  /** Disk this table reserved in the run's ledger (given back when it ends). */
  diskReserved = 0;
  private guard: Connection | undefined;
  /** This run's row in the progress table, when progress is recorded. */
  private progress: TableProgress | undefined;
  /** The `application_name` each connection of the run was last given. */
  private readonly labels = new Map<Connection, string>();
  private currentPhase: PhaseName = 'precheck';
  private workBroken = false;
  private guardBroken = false;
  private readonly ddlController = new AbortController();
  private ddlGuard: DdlGuard | undefined;

  private constructor(
    readonly source: ConnectionSource,
    readonly target: RepackTarget,
    readonly opts: ResolvedOptions,
    readonly work: Connection,
    private readonly started: number,
    result: TableResult,
    /** What the tables of the run share (progress rows, disk reservations, the rate); absent for a lone table. */
    readonly shared: RunShared | undefined,
  ) {
    this.result = result;
    this.logger = opts.logger ?? silentLogger;
    this.display = target.display;
    this.tableOid = target.oid;
    // The connection source takes this listener back with the connection.
    work.on('error', () => {
      this.workBroken = true;
    });
  }

  /** Opens the work connection; a failure to connect throws (it is not a table-level problem). */
  static async open(source: ConnectionSource, target: RepackTarget, opts: ResolvedOptions, shared?: RunShared): Promise<TableRun> {
    const result = emptyTableResult(target.display);
    result.mode = 'table';
    const started = Date.now();
    const work = await source.connect();
    return new TableRun(source, target, opts, work, started, result, shared);
  }

  emit(event: RepackEvent): void {
    this.progress?.onEvent(event);
    try {
      this.opts.onEvent?.(event);
    } catch (err) {
      this.logger.warn('event listener threw', { error: String(err) });
    }
  }

  /** Throws when the caller aborted or a DDL statement queued behind us. */
  checkAbort(): void {
    const { signal } = this.opts;
    if (signal?.aborted) throw new PgToolsError('aborted', `repack of ${this.display} aborted`, { cause: signal.reason });
    if (this.ddlController.signal.aborted) throw this.ddlController.signal.reason as Error;
  }

  async pause(point: PausePoint): Promise<void> {
    this.checkAbort();
    if (this.opts.pausePoint) {
      const pids = [
        (this.work as pg.Client & { processID?: number }).processID,
        (this.guard as (pg.Client & { processID?: number }) | undefined)?.processID,
      ].filter((p): p is number => typeof p === 'number');
      await this.opts.pausePoint(point, { table: this.display, pids });
      this.checkAbort();
    }
  }

  async phase<T>(name: PhaseName, fn: () => Promise<T>): Promise<T> {
    this.checkAbort();
    // Recorded and announced in start order, before anything is awaited: cleanup and analyze run
    // side by side and may end (or finish renaming their connections) either way round.
    const timing = { phase: name, ms: 0 };
    this.result.phases.push(timing);
    this.emit({ type: 'phase-start', table: this.display, phase: name });
    const t0 = Date.now();
    try {
      await this.label(name);
      return await fn();
    } finally {
      timing.ms = Date.now() - t0;
      this.emit({ type: 'phase-end', table: this.display, phase: name, ms: timing.ms });
    }
  }

  /** `application_name` of this run's connections in a phase: `pgtools-repack <schema.table> <phase>`. */
  appName(phase: string): string {
    return progressApplicationName(this.opts.applicationName, this.target.schema, this.target.name, phase);
  }

  /**
   * Renames the run's connections for a new phase, so pg_stat_activity shows what each is doing.
   * Both are idle when a phase starts, except the guard when the analyze starts: it is busy with
   * the cleanup, and keeps that name.
   */
  private async label(phase: PhaseName): Promise<void> {
    this.currentPhase = phase;
    const name = this.appName(phase);
    const rename = async (c: Connection): Promise<void> => {
      if (this.labels.get(c) === name) return;
      this.labels.set(c, name);
      await c.query("SELECT pg_catalog.set_config('application_name', $1, false)", [name]);
    };
    const { guard } = this;
    const guardToo = guard !== undefined && !this.guardBroken && phase !== 'analyze';
    await Promise.all([this.workBroken ? undefined : rename(this.work), guardToo ? rename(guard) : undefined]);
  }

  /** Lock library events of one purpose (setup, swap) as our events, recording who was cancelled or terminated. */
  lockEvents(purpose: string): (e: LockEvent) => void {
    return (e) => {
      if (e.type === 'lock-waiting') {
        this.emit({ type: 'lock-waiting', table: this.display, purpose, waitedMs: e.elapsedMs, blockers: e.blockers.map(toSession) });
      } else if (e.type === 'backend-cancelled') {
        const s = toSession(e.blocker);
        this.result.cancelled.push(s);
        this.emit({ type: 'backend-cancelled', table: this.display, session: s });
      } else if (e.type === 'backend-terminated') {
        const s = toSession(e.blocker);
        this.result.terminated.push(s);
        this.emit({ type: 'backend-terminated', table: this.display, session: s });
      }
    };
  }

  /** Sets up the work connection; returns its backend PID. */
  async prepareWork(): Promise<number> {
    const workPid = await backendPid(this.work);
    const name = this.appName(this.currentPhase);
    await prepareSession(this.work, { applicationName: name });
    this.labels.set(this.work, name);
    // Copy every row whatever the policies say: with row_security off PostgreSQL raises an error
    // instead of silently filtering rows for a non-superuser owner. Asynchronous commit for this
    // connection's bulk transactions (copy, apply batches): nothing it commits is worth anything
    // without the swap, and the swap's own synchronous commit (on the guard) flushes all WAL before it.
    await this.work.query('SET row_security = off; SET synchronous_commit = off');
    this.progress = await this.shared?.board?.begin(this.work, workPid, this.target);
    return workPid;
  }

  async openGuard(): Promise<Guard> {
    const client = await this.source.connect();
    this.guard = client;
    client.on('error', () => {
      this.guardBroken = true;
    });
    const name = this.appName(this.currentPhase);
    await prepareSession(client, { applicationName: name });
    this.labels.set(client, name);
    return { client, pid: await backendPid(client) };
  }

  /**
   * From the capture to the swap, a DDL statement queued behind the guard's lock would stall every
   * reader: a watcher cancels it (`onDdl: 'cancel'`) or makes the run give up at its next check.
   */
  async watchDdl(table: QualifiedName, guardPid: number): Promise<void> {
    const { opts, display } = this;
    this.ddlGuard = await startDdlGuard({
      // From the run's own connections when it has them (one kept from an earlier table saves a backend
      // start); never from the caller's pool, which a long-lived side session could starve.
      connection: this.source.ownConnections
        ? { connect: () => this.source.connect(), release: (c, broken) => this.source.release(c as Connection, broken) }
        : clientConfigOf(this.work),
      guardPid,
      relations: [table],
      action: opts.onDdl === 'cancel' ? 'cancel' : 'report',
      applicationName: this.appName('ddl-guard'),
      logger: this.logger,
      onEvent: (e) => {
        if (e.type === 'ddl-cancelled') {
          this.emit({ type: 'ddl-cancelled', table: display, session: toSession(e.session) });
        } else if (e.type === 'ddl-queued' && !this.ddlController.signal.aborted) {
          const s = toSession(e.session);
          this.ddlController.abort(
            new PgToolsError(
              'ddl_waiting',
              `a DDL statement (PID ${s.pid}, user ${s.user ?? '?'}: ${s.query ?? ''}) is waiting for ${display}; giving up so it can proceed`,
            ),
          );
        }
      },
    });
  }

  /** The swap takes ACCESS EXCLUSIVE itself: from here on, DDL waits for it like anyone. */
  async stopDdlWatch(): Promise<void> {
    await this.ddlGuard?.stop();
    this.ddlGuard = undefined;
  }

  /** Records a table-level failure in the result (the run never throws for one). */
  fail(err: unknown): void {
    const { result, display } = this;
    const e = err instanceof PgToolsError ? err : wrapPgError(err, 'repack_failed', `repack of ${display} failed`);
    result.status = outcomeOf(e.code, { discovered: this.target.discovered === true });
    result.code = e.code;
    if (e.sqlState) result.sqlState = e.sqlState;
    result.message = e.message;
    if (result.status === 'filtered') this.logger.info(e.message);
    else this.logger.error(e.message, e.toJSON());
  }

  /** Ends the run whatever happened: rolls back, removes this run's leftovers, lets go of locks and connections. */
  async close(): Promise<void> {
    const { result, logger, guard, opts } = this;
    await this.ddlGuard?.stop().catch(debugFailure(logger, 'stopping the DDL guard'));
    // Roll back whatever is open; the original table is untouched by anything not committed.
    if (guard && this.guardInTransaction && !this.guardBroken) await guard.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK on the guard connection'));
    if (this.capture || this.shadow) {
      const leftover = await cleanupAfterFailure({
        work: this.work,
        workBroken: this.workBroken,
        source: this.source,
        table: this.table ?? { schema: '', name: '' },
        tableOid: this.tableOid,
        triggerMayExist: this.triggerMayExist,
        toolSchema: opts.toolSchema,
        waitTimeoutMs: opts.waitTimeoutMs,
        logger,
      });
      if (leftover) result.cleanupHint = leftover;
    }
    if (this.advisoryHeld && guard && !this.guardBroken) {
      await releaseAdvisoryTableLock(guard, this.tableOid).catch(debugFailure(logger, 'releasing the advisory lock'));
    }
    if (guard) await this.source.release(guard, this.guardBroken);
    await this.source.release(this.work, this.workBroken);
    await this.progress?.end();
    this.shared?.disk.release(this.diskReserved);
    this.diskReserved = 0;
    result.totalMs = Date.now() - this.started;
  }
}

async function backendPid(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

import pg from 'pg';
import { debugFailure, prepareSession, sqlStateOf, type Logger } from '@pgtools/core';
import { clientConfigOf } from './connections.js';
import type { RepackEvent } from './events.js';
import { dropProgressIfEmpty } from './progress-status.js';
import {
  buildCreateProgressSql,
  buildDeleteProgressSql,
  buildStartProgressSql,
  buildUpdateProgressSql,
  estimateEta,
  progressApplicationName,
  progressRegclass,
  updateProgressParams,
  type ProgressValues,
} from './progress-table.js';

/** Issue 20: the progress row is "updated at most once a second". */
const WRITE_INTERVAL_MS = 1000;
/**
 * Progress is cosmetic: a write never waits long for a lock (someone's `LOCK TABLE`, another run
 * dropping the empty table) nor runs long; past these it fails, and progress stops for this run.
 */
const LOCK_TIMEOUT_MS = 1000;
const STATEMENT_TIMEOUT_MS = 5000;
const UNDEFINED_TABLE = '42P01';

export interface ProgressBoardOptions {
  toolSchema: string;
  /** Base `application_name` of the run. */
  applicationName: string;
  logger: Logger;
}

/** The table a row is about. */
export interface ProgressTarget {
  oid: number;
  schema: string;
  name: string;
}

/**
 * The progress rows of one `repack()` call, written from a connection of their own: never the work
 * connection (inside the copy's snapshot transaction, its writes would be invisible until the
 * commit) nor one of the caller's pool (a small pool would then starve the run). Best-effort: when
 * the table cannot be made or written (no CREATE privilege, a table owned by another role), the run
 * goes on, with one warning, and without progress rows.
 */
export class ProgressBoard {
  private opened: Promise<pg.Client | undefined> | undefined;
  private client: pg.Client | undefined;
  private off = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ProgressBoardOptions) {}

  get toolSchema(): string {
    return this.o.toolSchema;
  }

  /**
   * Starts the row of a table's run whose work connection is `work` (backend `pid`); undefined when
   * progress is off. The first call opens the board's connection, with `work`'s settings, and makes the table.
   */
  async begin(work: pg.ClientBase, pid: number, target: ProgressTarget): Promise<TableProgress | undefined> {
    if (this.off) return undefined;
    const client = await this.connection(clientConfigOf(work));
    if (!client) return undefined;
    const params = [pid, target.oid, target.schema, target.name, 'precheck'];
    // The board's connection is named after the table it writes for, like the run's own.
    const name = progressApplicationName(this.o.applicationName, target.schema, target.name, 'progress');
    if (!(await this.write(client, "SELECT pg_catalog.set_config('application_name', $1, false)", [name]))) return undefined;
    const started = await this.write(client, buildStartProgressSql(this.o.toolSchema), params, async () => {
      // Another run, finished meanwhile, dropped the empty table: make it again.
      await this.ensureTable(client);
      await client.query(buildStartProgressSql(this.o.toolSchema), params);
    });
    return started ? new TableProgress(this, pid) : undefined;
  }

  /** Runs one write after the previous ones; a failure turns progress off (the caller carries on). */
  write(client: pg.Client, sql: string, params: unknown[], onMissingTable?: () => Promise<void>): Promise<boolean> {
    const next = this.queue.then(async () => {
      if (this.off) return false;
      try {
        await client.query(sql, params);
      } catch (err) {
        if (sqlStateOf(err) !== UNDEFINED_TABLE || !onMissingTable) throw err;
        await onMissingTable();
      }
      return true;
    });
    this.queue = next.catch(() => undefined);
    return next.catch((err: unknown) => {
      this.disable(err);
      return false;
    });
  }

  /** The board's connection, once it is open and the table exists. */
  get connected(): pg.Client | undefined {
    return this.off ? undefined : this.client;
  }

  /** After the last table: drops the table when no run has a row left in it, and closes the connection. */
  async close(): Promise<void> {
    const client = this.client;
    if (!client) return;
    await this.queue;
    if (!this.off) await dropProgressIfEmpty(client, this.o.toolSchema, this.o.logger);
    this.client = undefined;
    await client.end().catch(debugFailure(this.o.logger, 'closing the progress connection'));
  }

  private connection(config: pg.ClientConfig): Promise<pg.Client | undefined> {
    this.opened ??= (async () => {
      const client = new pg.Client(config);
      // A terminated backend must not crash the process; the next write sees the error.
      client.on('error', () => {});
      try {
        await client.connect();
        await prepareSession(client, {
          lockTimeoutMs: LOCK_TIMEOUT_MS,
          statementTimeoutMs: STATEMENT_TIMEOUT_MS,
        });
        await this.ensureTable(client);
        this.client = client;
        return client;
      } catch (err) {
        await client.end().catch(() => undefined);
        this.disable(err);
        return undefined;
      }
    })();
    return this.opened;
  }

  /** Creates what is missing only: `CREATE ... IF NOT EXISTS` would still need the CREATE privilege. */
  private async ensureTable(client: pg.Client): Promise<void> {
    const present = async (): Promise<{ table: boolean; schema: boolean }> => {
      const { rows } = await client.query<{ table: boolean; schema: boolean }>(
        'SELECT pg_catalog.to_regclass($1) IS NOT NULL AS table, EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $2) AS schema',
        [progressRegclass(this.o.toolSchema), this.o.toolSchema],
      );
      return rows[0] ?? { table: false, schema: false };
    };
    const before = await present();
    if (before.table) return;
    const [schemaSql, ...tableSql] = buildCreateProgressSql(this.o.toolSchema);
    try {
      if (!before.schema && schemaSql !== undefined) await client.query(schemaSql);
      for (const sql of tableSql) await client.query(sql);
    } catch (err) {
      // Two runs starting together: the other one made it first.
      if (!(await present()).table) throw err;
    }
  }

  private disable(err: unknown): void {
    if (this.off) return;
    this.off = true;
    this.o.logger.warn(
      `progress is not recorded in ${this.o.toolSchema}.progress (pgtools-repack --status will not show this run): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * One table's row: follows the run's events and writes the row at most once a second, the latest
 * values winning; the last change is written at the end of its second, never lost.
 */
export class TableProgress {
  private readonly values: ProgressValues = { phase: 'precheck', rowsCopied: 0, rowsTotalEstimate: null, logBacklog: null, etaSeconds: null };
  private phaseStartedMs = Date.now();
  private applied = 0;
  private lastWriteMs = 0;
  private dirty = false;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> | undefined;

  constructor(
    private readonly board: ProgressBoard,
    readonly pid: number,
  ) {}

  /** Takes what a progress row shows from the run's own events (nothing is measured twice). */
  onEvent(e: RepackEvent, nowMs = Date.now()): void {
    if (this.ended) return;
    const v = this.values;
    if (e.type === 'phase-start') {
      v.phase = e.phase;
      this.phaseStartedMs = nowMs;
    } else if (e.type === 'copy-progress') {
      v.rowsCopied = e.rowsDone;
      v.rowsTotalEstimate = e.rowsTotal;
    } else if (e.type === 'apply-progress') {
      this.applied = e.applied;
      v.logBacklog = e.remaining;
    } else return;
    v.etaSeconds = estimateEta({ ...v, phaseStartedMs: this.phaseStartedMs, applied: this.applied }, nowMs);
    this.dirty = true;
    this.schedule(nowMs);
  }

  /** Stops writing and removes the row. */
  async end(): Promise<void> {
    this.ended = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    const client = this.board.connected;
    if (client) await this.board.write(client, buildDeleteProgressSql(this.board.toolSchema), [this.pid]);
  }

  private schedule(nowMs: number): void {
    if (this.timer || this.inFlight || this.ended) return;
    const delay = Math.max(0, this.lastWriteMs + WRITE_INTERVAL_MS - nowMs);
    this.timer = setTimeout(() => this.flush(), delay);
    // A pending progress write never keeps the process alive.
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    const client = this.board.connected;
    if (!this.dirty || this.ended || !client) return;
    this.dirty = false;
    this.lastWriteMs = Date.now();
    this.inFlight = this.board.write(client, buildUpdateProgressSql(this.board.toolSchema), updateProgressParams(this.pid, this.values)).finally(() => {
      this.inFlight = undefined;
      if (this.dirty) this.schedule(Date.now());
    });
  }
}

import type pg from 'pg';
import {
  debugFailure,
  displayName,
  parseQualifiedName,
  PgToolsError,
  prepareSession,
  quoteIdent,
  quoteQualified,
  silentLogger,
  SQLSTATE,
  sqlStateOf,
  wrapPgError,
  type Logger,
  type PoolOrConfig,
} from '@pgtools/core';
import { acquireTableLock, releaseAdvisoryTableLock, tryAdvisoryTableLock, type LockEvent } from '@pgtools/lock';
import { connectionSource } from './connections.js';
import type { RepackEvent } from './events.js';
import type { BlockerPolicy, TargetSelection } from './options.js';
import { outcomeOf } from './outcomes.js';
import { emptyTableResult, exitCodeOf, type RepackResult, type TableResult } from './result.js';
import { resolveTargets, type RepackTarget } from './targets.js';
import { checkSource } from './server-version.js';

export interface RepackIndexesOptions extends TargetSelection {
  /**
   * Only these indexes (`-i`, `'schema.name'` or a name on the search path). Without a table selection
   * they also choose the tables. Without `indexes`: every index of the selected tables (`-x`).
   */
  indexes?: string[];
  /**
   * Move the rebuilt indexes to this tablespace (the CLI's `-s` with `-x`/`-i`), with
   * `REINDEX (TABLESPACE ...) INDEX CONCURRENTLY` (PostgreSQL 14+). A missing tablespace is
   * refused (`tablespace_not_found`) before any index is touched.
   */
  tablespace?: string | undefined;
  /** How long each REINDEX may wait for a lock or for older transactions (lock_timeout). Default 60 s. */
  waitTimeoutMs?: number;
  /** What to do with sessions holding locks that conflict with SHARE UPDATE EXCLUSIVE. Default `'give-up'`. */
  onBlockers?: BlockerPolicy;
  toolSchema?: string;
  applicationName?: string;
  signal?: AbortSignal;
  logger?: Logger;
  onEvent?: (event: RepackEvent) => void;
  onQuery?: (sql: string) => void;
}

// REINDEX CONCURRENTLY names its new index <name>_ccnew[N] and, after the swap, the old one <name>_ccold[N];
// an interrupted run leaves them invalid.
const LEFTOVER_RE = '_cc(new|old)[0-9]*$';

/**
 * Rebuilds indexes online and leaves the heap alone (`-x` / `-i`): `REINDEX INDEX CONCURRENTLY` per
 * index, under the same advisory lock as a full repack, so the two never overlap on a table. Invalid
 * `_ccnew`/`_ccold` leftovers of an interrupted REINDEX CONCURRENTLY are dropped first
 * (`DROP INDEX CONCURRENTLY`) and reported. Before each REINDEX the table's SHARE UPDATE EXCLUSIVE
 * lock is taken and released with the usual escalation (blockers cancelled or terminated per
 * `onBlockers`); the REINDEX itself then runs with `lock_timeout = waitTimeoutMs`, which also bounds
 * its waits for older transactions. On timeout its own leftover is dropped and the table skipped.
 *
 * @example
 * ```ts
 * import { repackIndexes } from '@pgtools/repack';
 * const r = await repackIndexes({ connectionString: process.env.DATABASE_URL }, { table: 'public.orders' });
 * console.log(r.tables[0]?.indexesBuilt, r.exitCode);
 * ```
 */
export async function repackIndexes(db: PoolOrConfig, options: RepackIndexesOptions): Promise<RepackResult> {
  const source = connectionSource(db, options.onQuery);
  const logger = options.logger ?? silentLogger;
  try {
    await checkSource(source);
    const client = await source.connect();
    let targets: RepackTarget[];
    const wanted = new Map<number, number[]>();
    try {
      // The caller's search_path resolves unqualified names, as for tables.
      const hasSelection =
        options.table !== undefined || !!options.tables?.length || !!options.schemas?.length || !!options.parentTables?.length || !!options.allTables;
      const indexTables: RepackTarget[] = [];
      for (const ref of options.indexes ?? []) {
        const idx = await resolveIndex(client, ref);
        wanted.set(idx.tableOid, [...(wanted.get(idx.tableOid) ?? []), idx.oid]);
        if (!indexTables.some((t) => t.oid === idx.tableOid)) {
          indexTables.push({
            oid: idx.tableOid,
            schema: idx.tableSchema,
            name: idx.tableName,
            display: displayName(idx.tableSchema, idx.tableName),
            discovered: false,
          });
        }
      }
      targets = hasSelection ? await resolveTargets(source, options, options.toolSchema) : indexTables;
      if (options.indexes?.length && hasSelection) {
        const outside = indexTables.filter((t) => !targets.some((x) => x.oid === t.oid));
        if (outside.length > 0)
          throw new PgToolsError(
            'invalid_option',
            `index given with -i belongs to ${outside.map((t) => t.display).join(', ')}, which is not among the selected tables`,
          );
        targets = targets.filter((t) => wanted.has(t.oid));
      }
      if (targets.length === 0) throw new PgToolsError('no_target', 'no table or index selected');
      if (options.tablespace !== undefined) {
        const { rows: ts } = await client.query('SELECT 1 FROM pg_tablespace WHERE spcname = $1', [options.tablespace]);
        if (ts.length === 0)
          throw new PgToolsError('tablespace_not_found', `tablespace ${quoteIdent(options.tablespace)} does not exist; no index was rebuilt`);
      }
    } finally {
      await source.release(client);
    }
    const tables: TableResult[] = [];
    for (const target of targets) {
      if (options.signal?.aborted) {
        const r = emptyTableResult(target.display);
        Object.assign(r, { status: 'skipped', code: 'aborted', message: 'not started: the run was aborted', mode: 'indexes' });
        tables.push(r);
        continue;
      }
      tables.push(await reindexTable(source, target, wanted.get(target.oid), options, logger));
    }
    return { tables, exitCode: exitCodeOf(tables) };
  } finally {
    await source.end();
  }
}

async function resolveIndex(client: pg.ClientBase, ref: string): Promise<{ oid: number; tableOid: number; tableSchema: string; tableName: string }> {
  const parsed = parseQualifiedName(ref);
  const { rows } = await client.query<{ oid: string; table_oid: string; schema: string; name: string }>(
    `SELECT ic.oid::int8::text AS oid, t.oid::int8::text AS table_oid, tn.nspname AS schema, t.relname AS name
       FROM pg_class ic JOIN pg_namespace n ON n.oid = ic.relnamespace
       JOIN pg_index i ON i.indexrelid = ic.oid JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
      WHERE ic.relname = $2 AND ic.relkind = 'i' AND ($1::text IS NULL AND pg_table_is_visible(ic.oid) OR n.nspname = $1)
      LIMIT 1`,
    [parsed.schema ?? null, parsed.name],
  );
  const row = rows[0];
  if (!row) throw new PgToolsError('index_not_found', `index ${displayName(parsed.schema, parsed.name)} does not exist`);
  return { oid: Number(row.oid), tableOid: Number(row.table_oid), tableSchema: row.schema, tableName: row.name };
}

async function reindexTable(
  source: ReturnType<typeof connectionSource>,
  target: RepackTarget,
  only: number[] | undefined,
  options: RepackIndexesOptions,
  logger: Logger,
): Promise<TableResult> {
  const started = Date.now();
  const display = target.display;
  const result = emptyTableResult(display);
  result.mode = 'indexes';
  result.indexLeftoversDropped = [];
  const emit = (e: RepackEvent): void => {
    try {
      options.onEvent?.(e);
    } catch (err) {
      logger.warn('event listener threw', { error: String(err) });
    }
  };
  const waitTimeoutMs = options.waitTimeoutMs ?? 60_000;
  const table = { schema: target.schema, name: target.name };
  const work = await source.connect();
  let broken = false;
  work.on('error', () => (broken = true));
  let advisory = false;
  let cancelOnAbort: (() => void) | undefined;
  try {
    await prepareSession(work, { applicationName: options.applicationName ?? 'pgtools-repack' });
    const { rows: pidRows } = await work.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = pidRows[0]!.pid;
    // REINDEX CONCURRENTLY cannot be interrupted by us from the same connection: cancel it from another.
    cancelOnAbort = () => {
      void (async () => {
        const c = await source.connect();
        try {
          await c.query('SELECT pg_cancel_backend($1)', [pid]);
        } finally {
          await source.release(c);
        }
      })().catch(debugFailure(logger, 'cancelling REINDEX CONCURRENTLY on abort'));
    };
    options.signal?.addEventListener('abort', cancelOnAbort, { once: true });

    const lock = await tryAdvisoryTableLock(work, target.oid);
    if (!lock.acquired) {
      throw new PgToolsError('repack_running', `another repack is running on ${display}${lock.holderPid ? ` (PID ${lock.holderPid})` : ''}; try again later`);
    }
    advisory = true;

    const t0 = Date.now();
    result.indexLeftoversDropped = await dropLeftovers(work, target.oid);
    if (result.indexLeftoversDropped.length > 0) {
      emit({ type: 'index-leftovers-dropped', table: display, indexes: result.indexLeftoversDropped });
      logger.info(`dropped invalid leftovers of an interrupted REINDEX CONCURRENTLY on ${display}: ${result.indexLeftoversDropped.join(', ')}`);
    }
    result.phases.push({ phase: 'cleanup', ms: Date.now() - t0 });

    const { rows: indexes } = await work.query<{ oid: string; schema: string; name: string; exclusion: boolean }>(
      `SELECT ic.oid::int8::text AS oid, n.nspname AS schema, ic.relname AS name,
              EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ic.oid AND c.contype = 'x') AS exclusion
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
        WHERE i.indrelid = $1 AND NOT (NOT i.indisvalid AND ic.relname ~ $2)
        ORDER BY ic.relname`,
      [target.oid, LEFTOVER_RE],
    );
    const chosen = only ? indexes.filter((i) => only.includes(Number(i.oid))) : indexes;
    const t1 = Date.now();
    for (const index of chosen) {
      if (options.signal?.aborted) throw new PgToolsError('aborted', `index rebuild of ${display} aborted`);
      const name = quoteQualified(index.schema, index.name);
      if (index.exclusion) {
        const message = `index ${name} backs an exclusion constraint, which REINDEX CONCURRENTLY cannot rebuild; left as is`;
        logger.warn(message);
        emit({ type: 'warning', table: display, message });
        continue;
      }
      // Escalation first: clear (per onBlockers) whoever holds a lock conflicting with REINDEX's
      // SHARE UPDATE EXCLUSIVE, then release it and start the REINDEX right away.
      const acquired = await acquireTableLock({
        client: work,
        relations: [table],
        mode: 'SHARE UPDATE EXCLUSIVE',
        waitTimeoutMs,
        onBlockers: options.onBlockers ?? 'give-up',
        excludePids: [pid],
        ...(options.signal ? { signal: options.signal } : {}),
        logger,
        onEvent: (e: LockEvent) => {
          if (e.type === 'backend-cancelled') result.cancelled.push(toSession(e.blocker));
          if (e.type === 'backend-terminated') result.terminated.push(toSession(e.blocker));
        },
      });
      result.lockWaitMs += acquired.waitedMs;
      await work.query('COMMIT');
      const started1 = Date.now();
      await work.query(`SELECT set_config('lock_timeout', $1, false)`, [String(Math.max(1, waitTimeoutMs))]);
      try {
        // TABLESPACE moves the new index's file as it is built; the swap keeps the index's OID and name.
        const into = options.tablespace === undefined ? '' : `(TABLESPACE ${quoteIdent(options.tablespace)}) `;
        await work.query(`REINDEX ${into}INDEX CONCURRENTLY ${name}`);
      } catch (err) {
        const leftovers = await dropLeftovers(work, target.oid).catch(() => [] as string[]);
        result.indexLeftoversDropped.push(...leftovers);
        if (sqlStateOf(err) === SQLSTATE.lockNotAvailable) {
          throw new PgToolsError(
            'lock_timeout',
            `REINDEX CONCURRENTLY of ${name} waited more than ${Math.round(waitTimeoutMs / 1000)} s for a lock or for older transactions; ${display} skipped (its indexes are intact)`,
            { cause: err },
          );
        }
        throw err;
      } finally {
        await work.query(`SELECT set_config('lock_timeout', '0', false)`).catch(debugFailure(logger, 'resetting lock_timeout'));
      }
      result.indexesBuilt.push(index.name);
      emit({ type: 'index-built', table: display, index: index.name, ms: Date.now() - started1 });
    }
    result.phases.push({ phase: 'indexes', ms: Date.now() - t1 });
    result.status = 'repacked';
  } catch (err) {
    const e = err instanceof PgToolsError ? err : wrapPgError(err, 'repack_failed', `index rebuild of ${display} failed`);
    result.code = e.code === 'repack_failed' && options.signal?.aborted ? 'aborted' : e.code;
    result.status = outcomeOf(result.code);
    if (e.sqlState) result.sqlState = e.sqlState;
    result.message = e.message;
    logger.error(e.message, e.toJSON());
  } finally {
    if (cancelOnAbort) options.signal?.removeEventListener('abort', cancelOnAbort);
    if (!broken) await work.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK after the index rebuild'));
    if (advisory && !broken) await releaseAdvisoryTableLock(work, target.oid).catch(debugFailure(logger, 'releasing the advisory lock'));
    await source.release(work, broken);
    result.totalMs = Date.now() - started;
  }
  return result;
}

/** Drops invalid `_ccnew`/`_ccold` indexes of the table (we hold its advisory lock, so no run of ours owns them). */
async function dropLeftovers(client: pg.ClientBase, tableOid: number): Promise<string[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, ic.relname AS name
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE i.indrelid = $1 AND NOT i.indisvalid AND ic.relname ~ $2
      ORDER BY ic.relname`,
    [tableOid, LEFTOVER_RE],
  );
  const dropped: string[] = [];
  for (const r of rows) {
    await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteQualified(r.schema, r.name)}`);
    dropped.push(displayName(r.schema, r.name));
  }
  return dropped;
}

function toSession(value: unknown): { pid: number; user: string | null; application: string | null; query: string | null } {
  const v = (value ?? {}) as Record<string, unknown>;
  const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  return { pid: Number(v.pid), user: str(v.user ?? v.usename), application: str(v.application ?? v.applicationName), query: str(v.query) };
}

import { quoteQualified } from '@pgtools/core';
import { buildCreateSchemaSql } from '@pgtools/cdc';

/**
 * The progress table: one row per running table of a repack, in an UNLOGGED table of the tool
 * schema, so that any session (psql, a monitoring query, `pgtools-repack --status`) sees what runs.
 * UNLOGGED: the rows are worthless after a crash (the runs are gone too) and must not cost WAL or
 * reach the standbys. Pure builders here; the run writes through `progress-board.ts`.
 */

/** Name of the progress table in the tool schema. */
export const PROGRESS_TABLE = 'progress';

/** PostgreSQL keeps NAMEDATALEN - 1 bytes of `application_name` (and only printable ASCII). */
const APPLICATION_NAME_BYTES = 63;

/** What a status read shows of one row. */
export interface ProgressRow {
  schema: string;
  table: string;
  phase: string;
  rowsCopied: number;
  rowsTotalEstimate: number | null;
  /** Captured changes not yet applied to the copy. */
  logBacklog: number | null;
  /** Seconds left in the current phase, when it can be told. */
  etaSeconds: number | null;
  /** Backend PID of the run's work connection. */
  pid: number;
  startedAt: string;
  updatedAt: string;
  /** The run's backend is gone (the process was killed or lost its connection): the row is stale. */
  interrupted: boolean;
}

/** The values a run writes to its row. */
export interface ProgressValues {
  phase: string;
  rowsCopied: number;
  rowsTotalEstimate: number | null;
  logBacklog: number | null;
  etaSeconds: number | null;
}

/**
 * Statements that create the progress table (schema first), each idempotent. Readable by everyone:
 * progress is meant to be seen from any session, and holds nothing but names and counts.
 *
 * @example
 * ```ts
 * for (const sql of buildCreateProgressSql('pgtools')) await client.query(sql);
 * ```
 */
export function buildCreateProgressSql(toolSchema: string): string[] {
  const table = quoteQualified(toolSchema, PROGRESS_TABLE);
  return [
    buildCreateSchemaSql(toolSchema),
    [
      `CREATE UNLOGGED TABLE IF NOT EXISTS ${table} (`,
      '  pid integer PRIMARY KEY,',
      '  backend_start timestamptz,',
      '  relid oid NOT NULL,',
      '  schema_name text NOT NULL,',
      '  table_name text NOT NULL,',
      '  phase text NOT NULL,',
      '  rows_copied bigint NOT NULL DEFAULT 0,',
      '  rows_total_estimate bigint,',
      '  log_backlog bigint,',
      '  eta_seconds integer,',
      '  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),',
      '  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()',
      ')',
    ].join('\n'),
    `GRANT SELECT ON ${table} TO PUBLIC`,
  ];
}

/** A row whose backend is gone: no session with its PID, or one that started later (the PID was reused). */
function goneSql(alias: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = ${alias}.pid AND (a.backend_start IS NULL OR ${alias}.backend_start IS NULL OR a.backend_start = ${alias}.backend_start))`;
}

/**
 * Starts a run's row: removes rows of the same table whose run is gone (the new run supersedes them,
 * as it removes their other leftovers), then inserts the row, or takes over a stale row with the
 * same PID. Parameters: $1 pid, $2 relid, $3 schema, $4 table, $5 phase.
 *
 * @example
 * ```ts
 * await client.query(buildStartProgressSql('pgtools'), [workPid, oid, 'public', 'orders', 'precheck']);
 * ```
 */
export function buildStartProgressSql(toolSchema: string): string {
  const table = quoteQualified(toolSchema, PROGRESS_TABLE);
  return [
    `WITH stale AS (DELETE FROM ${table} p WHERE p.relid = $2 AND p.pid <> $1 AND ${goneSql('p')})`,
    `INSERT INTO ${table} AS p (pid, backend_start, relid, schema_name, table_name, phase)`,
    `SELECT $1, (SELECT a.backend_start FROM pg_catalog.pg_stat_activity a WHERE a.pid = $1), $2, $3, $4, $5`,
    `ON CONFLICT (pid) DO UPDATE SET backend_start = excluded.backend_start, relid = excluded.relid, schema_name = excluded.schema_name,`,
    `  table_name = excluded.table_name, phase = excluded.phase, rows_copied = 0, rows_total_estimate = NULL, log_backlog = NULL,`,
    `  eta_seconds = NULL, started_at = clock_timestamp(), updated_at = clock_timestamp()`,
  ].join('\n');
}

/**
 * Updates a run's row. Parameters: $1 pid, $2 phase, $3 rows copied, $4 rows total estimate,
 * $5 log backlog, $6 ETA in seconds.
 */
export function buildUpdateProgressSql(toolSchema: string): string {
  return (
    `UPDATE ${quoteQualified(toolSchema, PROGRESS_TABLE)} SET phase = $2, rows_copied = $3, rows_total_estimate = $4, ` +
    `log_backlog = $5, eta_seconds = $6, updated_at = clock_timestamp() WHERE pid = $1`
  );
}

/** The parameters of {@link buildUpdateProgressSql}. */
export function updateProgressParams(pid: number, v: ProgressValues): Array<string | number | null> {
  return [pid, v.phase, v.rowsCopied, v.rowsTotalEstimate, v.logBacklog, v.etaSeconds];
}

/** Removes a run's row at its end. Parameter: $1 pid. */
export function buildDeleteProgressSql(toolSchema: string): string {
  return `DELETE FROM ${quoteQualified(toolSchema, PROGRESS_TABLE)} WHERE pid = $1`;
}

/**
 * Removes rows whose run is gone (`--cleanup`); with `$1` not null, only those of that table OID.
 * Returns what was removed.
 */
export function buildDeleteInterruptedSql(toolSchema: string): string {
  return (
    `DELETE FROM ${quoteQualified(toolSchema, PROGRESS_TABLE)} p WHERE ($1::oid IS NULL OR p.relid = $1::oid) AND ${goneSql('p')} ` +
    'RETURNING p.schema_name, p.table_name, p.pid'
  );
}

/**
 * The rows for `--status`, oldest run first, each marked interrupted or not. The caller checks the
 * table exists first (`to_regclass`): without it nothing runs.
 */
export function buildProgressStatusSql(toolSchema: string): string {
  return [
    `SELECT p.schema_name, p.table_name, p.phase, p.rows_copied::float8 AS rows_copied, p.rows_total_estimate::float8 AS rows_total_estimate,`,
    `  p.log_backlog::float8 AS log_backlog, p.eta_seconds, p.pid, p.started_at::text AS started_at, p.updated_at::text AS updated_at,`,
    `  ${goneSql('p')} AS interrupted`,
    `FROM ${quoteQualified(toolSchema, PROGRESS_TABLE)} p ORDER BY p.started_at, p.pid`,
  ].join('\n');
}

/**
 * Statements that drop the progress table when no row is left, so that a finished run leaves
 * nothing behind. Run in one transaction: the lock waits at most 100 ms (`--status` and the other
 * runs' writes hold the table for well under a millisecond; a longer wait would hold up their writes
 * queued behind it), and a table still in use or not empty stays.
 */
export function buildDropProgressIfEmptySql(toolSchema: string): { timeout: string; lock: string; empty: string; drop: string } {
  const table = quoteQualified(toolSchema, PROGRESS_TABLE);
  return {
    timeout: `SELECT pg_catalog.set_config('lock_timeout', '100ms', true)`,
    lock: `LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`,
    empty: `SELECT NOT EXISTS (SELECT 1 FROM ${table}) AS empty`,
    drop: `DROP TABLE ${table}`,
  };
}

/** `to_regclass` text for the progress table (parameter of an existence check). */
export function progressRegclass(toolSchema: string): string {
  return quoteQualified(toolSchema, PROGRESS_TABLE);
}

/**
 * `application_name` of a run's connections: `pgtools-repack <schema.table> <phase>`. The names are
 * shown as they are (not SQL-quoted); characters PostgreSQL would not keep (outside printable ASCII)
 * become `?`, and the table part is cut so the whole fits in 63 bytes with the phase still shown.
 *
 * @example
 * ```ts
 * progressApplicationName('pgtools-repack', 'public', 'orders', 'copy'); // => 'pgtools-repack public.orders copy'
 * ```
 */
export function progressApplicationName(base: string, schema: string, table: string, phase: string): string {
  const ascii = (s: string): string => s.replace(/[^\x20-\x7e]/gu, '?');
  const head = ascii(base);
  const tail = ascii(phase);
  const room = APPLICATION_NAME_BYTES - head.length - tail.length - 2;
  if (room < 1) return `${head} ${tail}`.slice(0, APPLICATION_NAME_BYTES);
  let name = ascii(`${schema}.${table}`);
  if (name.length > room) name = `${name.slice(0, Math.max(0, room - 3))}...`.slice(0, room);
  return `${head} ${name} ${tail}`;
}

/** What the ETA is estimated from: the current phase, when it started, and the counts so far. */
export interface EtaInput {
  phase: string;
  phaseStartedMs: number;
  rowsCopied: number;
  rowsTotalEstimate: number | null;
  /** Log entries applied since the apply phase started. */
  applied: number;
  logBacklog: number | null;
}

/**
 * Seconds left in the copy (from the rows copied so far against the estimate) or in the apply
 * (the backlog at the rate applied so far); `null` in other phases or before there is a rate.
 *
 * @example
 * ```ts
 * estimateEta({ phase: 'copy', phaseStartedMs: 0, rowsCopied: 250, rowsTotalEstimate: 1000, applied: 0, logBacklog: null }, 10_000); // => 30
 * ```
 */
export function estimateEta(s: EtaInput, nowMs: number): number | null {
  const elapsed = nowMs - s.phaseStartedMs;
  if (elapsed <= 0) return null;
  if (s.phase === 'copy') {
    if (s.rowsTotalEstimate === null || s.rowsCopied <= 0) return null;
    const left = Math.max(0, s.rowsTotalEstimate - s.rowsCopied);
    return Math.round(((elapsed / s.rowsCopied) * left) / 1000);
  }
  if (s.phase === 'apply' || s.phase === 'snapshot-wait') {
    if (s.logBacklog === null || s.applied <= 0) return null;
    return Math.round(((elapsed / s.applied) * s.logBacklog) / 1000);
  }
  return null;
}

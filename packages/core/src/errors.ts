/**
 * Fields PostgreSQL sends with an error (node-postgres `DatabaseError`), kept verbatim
 * so that callers can branch on SQLSTATE and show the server's own detail and hint.
 */
export interface PgErrorFields {
  /** SQLSTATE, e.g. `55P03` (lock_not_available). */
  sqlState?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  where?: string;
}

export interface PgToolsErrorOptions extends PgErrorFields {
  cause?: unknown;
}

/**
 * The one error class every pgtools library throws. `code` is a stable string that
 * scripts may branch on; the message is for people and may change.
 *
 * @example
 * ```ts
 * import { PgToolsError } from '@pgtools/core';
 * try {
 *   await repack(pool, { table: 'public.orders' });
 * } catch (err) {
 *   if (err instanceof PgToolsError && err.code === 'table_not_found') process.exitCode = 2;
 *   else throw err;
 * }
 * ```
 */
export class PgToolsError extends Error {
  override readonly name = 'PgToolsError';
  readonly code: string;
  readonly sqlState: string | undefined;
  readonly severity: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly constraint: string | undefined;
  readonly where: string | undefined;

  constructor(code: string, message: string, options: PgToolsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    const fromCause = pgErrorFields(options.cause);
    this.sqlState = options.sqlState ?? fromCause.sqlState;
    this.severity = options.severity ?? fromCause.severity;
    this.detail = options.detail ?? fromCause.detail;
    this.hint = options.hint ?? fromCause.hint;
    this.schema = options.schema ?? fromCause.schema;
    this.table = options.table ?? fromCause.table;
    this.column = options.column ?? fromCause.column;
    this.constraint = options.constraint ?? fromCause.constraint;
    this.where = options.where ?? fromCause.where;
  }

  /** A plain object for JSON output and structured logs (message, code, SQLSTATE, detail...). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    for (const key of PG_FIELD_NAMES) {
      const value = this[key];
      if (value !== undefined) out[key] = value;
    }
    if (this.cause instanceof Error) out.cause = this.cause.message;
    return out;
  }
}

const PG_FIELD_NAMES = ['sqlState', 'severity', 'detail', 'hint', 'schema', 'table', 'column', 'constraint', 'where'] as const;

/**
 * Reads the PostgreSQL error fields from anything node-postgres may throw
 * (a `DatabaseError`, or a `PgToolsError` wrapping one). Unknown values give `{}`.
 *
 * @example
 * ```ts
 * import { pgErrorFields } from '@pgtools/core';
 * try { await client.query('LOCK TABLE t NOWAIT'); }
 * catch (err) { if (pgErrorFields(err).sqlState === '55P03') console.log('busy'); }
 * ```
 */
export function pgErrorFields(err: unknown): PgErrorFields {
  if (typeof err !== 'object' || err === null) return {};
  const e = err as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  if (err instanceof PgToolsError) {
    const fields: PgErrorFields = {};
    for (const key of PG_FIELD_NAMES) {
      const value = err[key];
      if (value !== undefined) fields[key] = value;
    }
    return fields;
  }
  const fields: PgErrorFields = {};
  const assign = (key: keyof PgErrorFields, value: unknown): void => {
    const s = str(value);
    if (s !== undefined) fields[key] = s;
  };
  // node-postgres puts SQLSTATE in `code`; only accept it when it looks like one.
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) fields.sqlState = e.code;
  assign('severity', e.severity);
  assign('detail', e.detail);
  assign('hint', e.hint);
  assign('schema', e.schema);
  assign('table', e.table);
  assign('column', e.column);
  assign('constraint', e.constraint);
  assign('where', e.where);
  return fields;
}

/**
 * The SQLSTATE of an error thrown by node-postgres, or undefined.
 *
 * @example
 * ```ts
 * import { sqlStateOf, SQLSTATE } from '@pgtools/core';
 * if (sqlStateOf(err) === SQLSTATE.lockNotAvailable) retryLater();
 * ```
 */
export function sqlStateOf(err: unknown): string | undefined {
  return pgErrorFields(err).sqlState;
}

/**
 * Wraps an error from the server in a `PgToolsError`, keeping every PostgreSQL field and the
 * original as `cause`. A `PgToolsError` passes through unchanged.
 *
 * @example
 * ```ts
 * import { wrapPgError } from '@pgtools/core';
 * try { await client.query(sql); }
 * catch (err) { throw wrapPgError(err, 'copy_failed', 'copying public.orders failed'); }
 * ```
 */
export function wrapPgError(err: unknown, code: string, message: string): PgToolsError {
  if (err instanceof PgToolsError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new PgToolsError(code, `${message}: ${reason}`, { cause: err });
}

/** SQLSTATE values pgtools branches on. */
export const SQLSTATE = {
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  insufficientPrivilege: '42501',
  undefinedTable: '42P01',
  undefinedObject: '42704',
  duplicateObject: '42710',
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  readOnlySqlTransaction: '25006',
} as const;

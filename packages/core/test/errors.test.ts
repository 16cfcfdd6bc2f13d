import { describe, expect, it } from 'vitest';
import { createStreamLogger, pgErrorFields, PgToolsError, silentLogger, sqlStateOf, wrapPgError } from '../src/index.js';

// Shaped like node-postgres' DatabaseError, which the integration test checks for real.
function databaseError(): Error {
  return Object.assign(new Error('could not obtain lock on relation "t"'), {
    code: '55P03',
    severity: 'ERROR',
    detail: 'some detail',
    hint: 'some hint',
    table: 't',
  });
}

describe('PgToolsError', () => {
  it('keeps code, cause and every PostgreSQL field of the cause', () => {
    const cause = databaseError();
    const err = new PgToolsError('lock_failed', 'could not lock', { cause });
    expect(err.code).toBe('lock_failed');
    expect(err.cause).toBe(cause);
    expect(err.sqlState).toBe('55P03');
    expect(err.detail).toBe('some detail');
    expect(err.hint).toBe('some hint');
    expect(err.table).toBe('t');
    expect(err).toBeInstanceOf(Error);
    expect(err.toJSON()).toMatchObject({ code: 'lock_failed', sqlState: '55P03', detail: 'some detail', cause: cause.message });
  });

  it('does not take a Node error code (ECONNREFUSED) for a SQLSTATE', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(sqlStateOf(cause)).toBeUndefined();
    expect(pgErrorFields(null)).toEqual({});
  });

  it('wrapPgError adds context and passes PgToolsError through', () => {
    const wrapped = wrapPgError(databaseError(), 'copy_failed', 'copying failed');
    expect(wrapped.message).toBe('copying failed: could not obtain lock on relation "t"');
    expect(wrapped.sqlState).toBe('55P03');
    expect(wrapPgError(wrapped, 'other', 'x')).toBe(wrapped);
    expect(sqlStateOf(wrapped)).toBe('55P03');
  });
});

describe('loggers', () => {
  it('silentLogger drops everything', () => {
    expect(() => silentLogger.error('x', { a: 1 })).not.toThrow();
  });

  it('stream logger filters by level and writes JSON lines', () => {
    const lines: string[] = [];
    const logger = createStreamLogger({ write: (s: string) => lines.push(s) }, { level: 'warn', json: true, now: () => new Date(0) });
    logger.info('hidden');
    logger.warn('shown', { table: 't' });
    expect(lines).toEqual([`${JSON.stringify({ time: '1970-01-01T00:00:00.000Z', level: 'warn', message: 'shown', table: 't' })}\n`]);
  });
});

import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import {
  buildCreateProgressSql,
  buildDeleteInterruptedSql,
  buildDeleteProgressSql,
  buildDropProgressIfEmptySql,
  buildProgressStatusSql,
  buildStartProgressSql,
  buildUpdateProgressSql,
  estimateEta,
  progressApplicationName,
  progressRegclass,
  updateProgressParams,
} from '../src/progress-table.js';

const hostile = `tool "S"; DROP TABLE x; --`;
const quoted = `"tool ""S""; DROP TABLE x; --"."progress"`;

describe('progress table SQL', () => {
  it('creates the schema, an UNLOGGED table readable by everyone, all through quoted identifiers', () => {
    const [schema, table, grant] = buildCreateProgressSql(hostile);
    expect(schema).toBe(`CREATE SCHEMA IF NOT EXISTS "tool ""S""; DROP TABLE x; --"`);
    expect(table).toContain(`CREATE UNLOGGED TABLE IF NOT EXISTS ${quoted} (`);
    for (const column of [
      'pid integer PRIMARY KEY',
      'backend_start',
      'schema_name',
      'table_name',
      'phase',
      'rows_copied',
      'rows_total_estimate',
      'log_backlog',
      'eta_seconds',
      'started_at',
      'updated_at',
    ])
      expect(table).toContain(column);
    expect(grant).toBe(`GRANT SELECT ON ${quoted} TO PUBLIC`);
  });

  it('names the table only through the quoting helpers in every statement', () => {
    const all = [
      buildStartProgressSql(hostile),
      buildUpdateProgressSql(hostile),
      buildDeleteProgressSql(hostile),
      buildDeleteInterruptedSql(hostile),
      buildProgressStatusSql(hostile),
      ...Object.values(buildDropProgressIfEmptySql(hostile)).filter((sql) => !sql.includes('lock_timeout')),
    ];
    for (const sql of all) {
      expect(sql).toContain(quoted);
      // The hostile text never appears unquoted.
      expect(sql.replaceAll(quoted, '')).not.toContain('DROP TABLE x');
    }
    expect(progressRegclass(hostile)).toBe(quoted);
  });

  it('passes every value as a parameter, table names included', () => {
    const start = buildStartProgressSql('pgtools');
    expect(start).toMatch(/VALUES|SELECT \$1, .*\$2, \$3, \$4, \$5/);
    expect(start).toContain('ON CONFLICT (pid) DO UPDATE');
    // Rows of the same table whose run is gone are superseded by the new run.
    expect(start).toMatch(/DELETE FROM "pgtools"."progress" p WHERE p.relid = \$2 AND p.pid <> \$1 AND NOT EXISTS/);
    expect(updateProgressParams(42, { phase: 'copy', rowsCopied: 10, rowsTotalEstimate: 100, logBacklog: null, etaSeconds: 3 })).toEqual([
      42,
      'copy',
      10,
      100,
      null,
      3,
    ]);
    expect(buildUpdateProgressSql('pgtools')).toMatch(
      /SET phase = \$2, rows_copied = \$3, rows_total_estimate = \$4, log_backlog = \$5, eta_seconds = \$6, .* WHERE pid = \$1$/,
    );
    expect(buildDeleteProgressSql('pgtools')).toBe('DELETE FROM "pgtools"."progress" WHERE pid = $1');
  });

  it('marks a row interrupted when its backend is gone or its PID now belongs to a later backend', () => {
    const status = buildProgressStatusSql('pgtools');
    expect(status).toContain('NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = p.pid AND');
    expect(status).toContain('a.backend_start = p.backend_start');
    expect(status).toContain('AS interrupted');
    expect(buildDeleteInterruptedSql('pgtools')).toMatch(
      /^DELETE FROM "pgtools"."progress" p WHERE \(\$1::oid IS NULL OR p.relid = \$1::oid\) AND NOT EXISTS .* RETURNING/,
    );
  });

  it('drops the table only when empty, waiting at most 100 ms for its lock', () => {
    expect(buildDropProgressIfEmptySql('pgtools')).toEqual({
      timeout: `SELECT pg_catalog.set_config('lock_timeout', '100ms', true)`,
      lock: 'LOCK TABLE "pgtools"."progress" IN ACCESS EXCLUSIVE MODE',
      empty: 'SELECT NOT EXISTS (SELECT 1 FROM "pgtools"."progress") AS empty',
      drop: 'DROP TABLE "pgtools"."progress"',
    });
  });

  it('refuses a tool schema PostgreSQL would truncate or cannot hold', () => {
    expect(() => buildCreateProgressSql('x'.repeat(64))).toThrow(PgToolsError);
    expect(() => buildStartProgressSql('a\0b')).toThrow(PgToolsError);
  });
});

describe('application_name', () => {
  it('is "<base> <schema.table> <phase>", names shown as they are', () => {
    expect(progressApplicationName('pgtools-repack', 'public', 'orders', 'copy')).toBe('pgtools-repack public.orders copy');
    expect(progressApplicationName('pgtools-repack', 'My "S"', `it's`, 'swap')).toBe(`pgtools-repack My "S".it's swap`);
  });

  it('fits in 63 bytes of printable ASCII, keeping the phase', () => {
    const long = progressApplicationName('pgtools-repack', 's'.repeat(63), 't'.repeat(63), 'snapshot-wait');
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long.startsWith('pgtools-repack sss')).toBe(true);
    expect(long.endsWith('... snapshot-wait')).toBe(true);
    const unicode = progressApplicationName('pgtools-repack', 'données', '日本🎉'.repeat(20), 'indexes');
    expect(Buffer.byteLength(unicode)).toBeLessThanOrEqual(63);
    expect(unicode).toMatch(/^[\x20-\x7e]+$/);
    expect(unicode).toMatch(/^pgtools-repack donn\?es\.\?\?\?.* indexes$/);
    // A base too long for anything else still gives a valid name.
    expect(Buffer.byteLength(progressApplicationName('b'.repeat(70), 's', 't', 'copy'))).toBeLessThanOrEqual(63);
  });
});

describe('ETA', () => {
  const base = { phaseStartedMs: 0, rowsCopied: 0, rowsTotalEstimate: null, applied: 0, logBacklog: null };
  it('copy: from the rows copied so far against the estimate', () => {
    expect(estimateEta({ ...base, phase: 'copy', rowsCopied: 250, rowsTotalEstimate: 1000 }, 10_000)).toBe(30);
    expect(estimateEta({ ...base, phase: 'copy', rowsCopied: 1200, rowsTotalEstimate: 1000 }, 10_000)).toBe(0);
    expect(estimateEta({ ...base, phase: 'copy', rowsCopied: 0, rowsTotalEstimate: 1000 }, 10_000)).toBeNull();
    expect(estimateEta({ ...base, phase: 'copy', rowsCopied: 10 }, 10_000)).toBeNull();
  });
  it('apply: the backlog at the rate applied so far; unknown elsewhere', () => {
    expect(estimateEta({ ...base, phase: 'apply', applied: 500, logBacklog: 1000 }, 5000)).toBe(10);
    expect(estimateEta({ ...base, phase: 'apply', applied: 0, logBacklog: 1000 }, 5000)).toBeNull();
    expect(estimateEta({ ...base, phase: 'indexes', rowsCopied: 5, rowsTotalEstimate: 10 }, 5000)).toBeNull();
    expect(estimateEta({ ...base, phase: 'copy', rowsCopied: 5, rowsTotalEstimate: 10 }, 0)).toBeNull();
  });
});

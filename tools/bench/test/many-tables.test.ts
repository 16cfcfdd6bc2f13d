import { describe, expect, it } from 'vitest';
import { manyTablesReport, manyTablesStatements } from '../src/many-tables.js';

describe('many-tables measurement', () => {
  it('builds the small tables, then the big ones, each bloated with a key and an index', () => {
    const sql = manyTablesStatements(2, 1000, 1, 5000);
    expect(sql).toHaveLength(3 * 4 + 1);
    expect(sql[0]).toBe('CREATE TABLE public."t001" (id bigint PRIMARY KEY, account int NOT NULL, payload text NOT NULL)');
    expect(sql[1]).toContain('generate_series(1, 1000)');
    expect(sql[8]).toContain('public."big1"');
    expect(sql[9]).toContain('generate_series(1, 5000)');
    expect(sql.at(-1)).toBe('VACUUM ANALYZE');
  });

  it('reports medians, each run, the longest lock and the phase cost per table', () => {
    const report = manyTablesReport(
      [
        { contender: 'pgtools', command: 'x', wallS: [3, 1, 2], phaseMs: [{ copy: 40 }, { copy: 20 }, { copy: 60 }], maxHoldMs: [7, 9, 8], load: [] },
        { contender: 'pg_repack -d', command: 'y', wallS: [1.5], phaseMs: [], maxHoldMs: [], load: [] },
      ],
      { tables: 2, rows: 10, runs: 3, tableJobs: [1], pgRepack: true },
    );
    expect(report.split('\n').slice(2)).toEqual(['| pgtools | 2.00 | 3.00, 1.00, 2.00 | 9 | copy 20 |', '| pg_repack -d | 1.50 | 1.50 |  |  |']);
  });
});

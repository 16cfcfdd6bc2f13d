import { describe, expect, it } from 'vitest';
import { databaseScaleScript, databaseScaleStatements } from '../src/database-scale.js';
import { manyTablesReport } from '../src/many-tables.js';

describe('the database-scale scenario', () => {
  const shape = { tables: 200, rows: 40000, bigTables: 2, bigRows: 1600000 };

  it('bakes the shape into the touch function: table names as many-tables makes them, only the odd (kept) ids', () => {
    const [, touch] = databaseScaleStatements(shape);
    expect(touch).toContain('IF pick <= 200');
    expect(touch).toContain("'t' || lpad(pick::text, greatest(3, length(pick::text)), '0'); n := 40000");
    expect(touch).toContain("'big' || (pick - 200); n := 1600000");
    expect(touch).toContain('k := 2 * (r % ((n + 1) / 2)) + 1');
  });

  it('refuses a shape that is not whole numbers (it becomes SQL text)', () => {
    expect(() => databaseScaleStatements({ ...shape, tables: 1.5 })).toThrow(/whole numbers/);
    expect(() => databaseScaleStatements({ ...shape, rows: Number.NaN })).toThrow(/whole numbers/);
  });

  it('draws a table from all of them, small and big', () => {
    const script = databaseScaleScript(shape);
    expect(script.defines).toEqual({ ntables: 202 });
    expect(script.text).toContain('\\set pick random(1, :ntables)');
    expect(script.text).toContain('SELECT public.bench_touch(:pick, :r);');
  });

  it('reports the sampled lock, the load and failed transactions when the runs were under load', () => {
    const load = (longestHoldMs: number, p99Ms: number, maxMs: number, failed: number) => ({
      longestHoldMs,
      p99Ms,
      maxMs,
      failed,
      transactions: 100,
      mismatches: [],
      ledgerUpdates: 100,
      loggedTransactions: 100,
    });
    const report = manyTablesReport(
      [{ contender: 'pgtools', command: 'x', wallS: [2, 4], phaseMs: [], maxHoldMs: [7, 9], load: [load(12, 3, 40, 0), load(20, 5, 90, 1)] }],
      { tables: 2, rows: 10, runs: 2, tableJobs: [1], pgRepack: false },
    );
    const [head, , row] = report.split('\n');
    expect(head).toContain('longest ACCESS EXCLUSIVE, sampled (ms) | load p99 (ms) | load max (ms) | failed tx');
    expect(row).toBe('| pgtools | 3.00 | 2.00, 4.00 | 9 | 20 | 4.0 | 90 | 1 |  |');
  });
});

import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import { CONTENDERS, parseBenchArgs } from '../src/options.js';

describe('parseBenchArgs', () => {
  it('has the issue defaults', () => {
    const o = parseBenchArgs([]);
    expect(o).toMatchObject({ rows: 2_000_000, tps: 400, runs: 3, clients: 8, out: 'docs/benchmarks.md', unthrottled: true, amcheck: true });
    expect(o.contenders).toEqual([...CONTENDERS]);
    // pgtools runs with its library default unless --pgtools-jobs is given.
    expect(o.pgtoolsJobs).toBeUndefined();
    expect(parseBenchArgs(['--pgtools-jobs', '1']).pgtoolsJobs).toBe(1);
  });

  it('runs on PostgreSQL 15 unless --pg names another major the testkit has', () => {
    expect(parseBenchArgs([]).pgVersion).toBe(15);
    expect(parseBenchArgs(['--pg', '18']).pgVersion).toBe(18);
    expect(() => parseBenchArgs(['--pg', '14'])).toThrow(/--pg must be one of 15, 16, 17, 18, got "14"/);
  });

  it('reads sizes, the heavy load and a contender list', () => {
    const o = parseBenchArgs(['--rows', '100_000', '--heavy', '--runs', '1', '--contenders', 'pg_repack, vacuum-full', '--no-out']);
    expect(o).toMatchObject({ rows: 100_000, tps: 2000, clients: 16, runs: 1, out: undefined });
    expect(o.contenders).toEqual(['pg_repack', 'vacuum-full']);
  });

  it('--floors prints only, unless --out names a file (it never overwrites the whole report by default)', () => {
    expect(parseBenchArgs(['--floors'])).toMatchObject({ floors: true, out: undefined });
    expect(parseBenchArgs(['--floors', '--out', '/tmp/floors.md'])).toMatchObject({ floors: true, out: '/tmp/floors.md' });
    expect(parseBenchArgs([]).floors).toBe(false);
  });

  it('rejects unknown contenders, bad numbers and unknown flags with invalid_option', () => {
    for (const argv of [['--contenders', 'cluster'], ['--rows', 'many'], ['--runs', '0'], ['--runs', '1.5'], ['--bogus']]) {
      let caught: unknown;
      try {
        parseBenchArgs(argv);
      } catch (err) {
        caught = err;
      }
      expect(caught, argv.join(' ')).toBeInstanceOf(PgToolsError);
      expect((caught as PgToolsError).code).toBe('invalid_option');
    }
  });
});

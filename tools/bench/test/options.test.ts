import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import { ALTER_CONTENDERS, CONTENDERS, parseBenchArgs } from '../src/options.js';

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

  it('--scenario alter: its own contenders, fixed rate only, prints only unless --out is given', () => {
    expect(parseBenchArgs([]).scenario).toBe('repack');
    const o = parseBenchArgs(['--scenario', 'alter']);
    expect(o).toMatchObject({ scenario: 'alter', out: undefined, unthrottled: false, rows: 2_000_000, tps: 400, runs: 3 });
    expect(o.contenders).toEqual([...ALTER_CONTENDERS]);
    expect(parseBenchArgs(['--scenario', 'alter', '--contenders', 'plain-alter,pgtools-alter', '--out', '/tmp/a.md'])).toMatchObject({
      contenders: ['plain-alter', 'pgtools-alter'],
      out: '/tmp/a.md',
    });
    // Each scenario knows only its own contenders.
    expect(() => parseBenchArgs(['--contenders', 'plain-alter'])).toThrow(/unknown contender "plain-alter" for --scenario repack/);
    expect(() => parseBenchArgs(['--scenario', 'alter', '--contenders', 'pg_repack'])).toThrow(/known: no-repack, pgtools-alter, plain-alter/);
    expect(() => parseBenchArgs(['--scenario', 'vacuum'])).toThrow(/--scenario must be one of repack, alter, got "vacuum"/);
    expect(() => parseBenchArgs(['--scenario', 'alter', '--floors'])).toThrow(/--floors/);
    expect(parseBenchArgs(['--scenario', 'alter']).partitions).toBe(0);
    expect(parseBenchArgs(['--scenario', 'alter', '--partitions', '8']).partitions).toBe(8);
    expect(() => parseBenchArgs(['--partitions', '8'])).toThrow(/--partitions applies to --scenario alter only/);
    expect(() => parseBenchArgs(['--scenario', 'alter', '--partitions', '1'])).toThrow(/partitions/);
  });

  it('--database-scale: pgtools at --table-jobs 1 and 3 by default, PostgreSQL 15 only, prints only unless --out is given', () => {
    expect(parseBenchArgs([])).toMatchObject({ databaseScale: false });
    expect(parseBenchArgs(['--database-scale'])).toMatchObject({ databaseScale: true, tableJobs: [1, 3], out: undefined, tps: 400, runs: 3 });
    expect(parseBenchArgs(['--database-scale', '--table-jobs', '1,2,4', '--runs', '1']).tableJobs).toEqual([1, 2, 4]);
    expect(() => parseBenchArgs(['--database-scale', '--table-jobs', '0'])).toThrow(/--table-jobs must be a number >= 1/);
    expect(() => parseBenchArgs(['--table-jobs', '2'])).toThrow(/--database-scale only/);
    expect(() => parseBenchArgs(['--database-scale', '--scenario', 'alter'])).toThrow(/scenario of its own/);
    expect(() => parseBenchArgs(['--database-scale', '--pg', '17'])).toThrow(/PostgreSQL 15/);
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

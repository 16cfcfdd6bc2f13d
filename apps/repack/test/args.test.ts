import { describe, expect, it } from 'vitest';
import { applyOptions, checkCombinations, connectionConfig, parseCliArgs, UsageError, verbosityOf } from '../src/index.js';

describe('parseCliArgs', () => {
  it('takes pg_repack flags in short and long form', () => {
    const o = parseCliArgs(['-t', 'public.orders', '--table=other', '-T', '30', '-D', '-Z', '-k', '-h', 'db.local', '-p', '6432', '-U', 'app', '-w', 'appdb']);
    expect(o.tables).toEqual(['public.orders', 'other']);
    expect(o.waitTimeoutSec).toBe(30);
    expect(o.noKillBackend).toBe(true);
    expect(o.noAnalyze).toBe(true);
    expect(o.noSuperuserCheck).toBe(true);
    expect(o.connection).toEqual({ dbname: 'appdb', host: 'db.local', port: 6432, user: 'app', password: 'never' });
  });

  it('has pg_repack defaults', () => {
    const o = parseCliArgs(['-t', 't']);
    expect(o.waitTimeoutSec).toBe(60);
    expect(o.swap).toBe('auto');
    expect(o.snapshotWaitSec).toBe(60);
    expect(o.jobs).toBeUndefined();
    expect(o.tableJobs).toBeUndefined();
    expect(o.noKillBackend).toBe(false);
  });

  it('--table-jobs: tables at once, a whole number', () => {
    expect(parseCliArgs(['--table-jobs', '4', 'db']).tableJobs).toBe(4);
    expect(parseCliArgs(['--table-jobs=1', 'db']).tableJobs).toBe(1);
  });

  it.each([
    [['--swap=sideways'], /--swap must be/],
    [['-T', 'soon'], /--wait-timeout expects a non-negative number/],
    [['-j', '0'], /--jobs/],
    [['--table-jobs', '0'], /--table-jobs expects a whole number of at least 1, got "0"/],
    [['--table-jobs=-2'], /--table-jobs expects a whole number of at least 1, got "-2"/],
    [['--table-jobs', '1.5'], /--table-jobs expects a whole number of at least 1, got "1.5"/],
    [['--table-jobs', 'two'], /--table-jobs expects a whole number/],
    [['--table-jobs='], /--table-jobs expects a whole number/],
    [['-p', '99999'], /--port/],
    [['-w', '-W'], /cannot be used together/],
    [['-n', '-o', 'id'], /cannot be used together/],
    [['--bogus'], /bogus/],
    [['a', 'b'], /too many arguments/],
    [['-d', 'x', 'y'], /database given twice/],
    [['--if-bloated', '120'], /percentage/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe('pg_repack 1.5 flags', () => {
  it('--apply-count and --switch-threshold: pg_repack semantics as the library options', () => {
    const o = parseCliArgs(['-t', 't', '--apply-count', '500', '--switch-threshold=50']);
    expect(o.applyCount).toBe(500);
    expect(o.switchThreshold).toBe(50);
    // pg_repack keeps replaying while a batch applied more than 50: the library stops below 51.
    expect(applyOptions(o)).toEqual({ applyBatchSize: 500, switchThreshold: 51 });
    // Only --apply-count: pg_repack's proportion (1000 -> 100), at most the library default.
    expect(applyOptions(parseCliArgs(['--apply-count', '1000']))).toEqual({ applyBatchSize: 1000, switchThreshold: 101 });
    expect(applyOptions(parseCliArgs(['--apply-count', '1']))).toEqual({ applyBatchSize: 1, switchThreshold: 1 });
    expect(applyOptions(parseCliArgs(['--apply-count', '50000']))).toEqual({ applyBatchSize: 50000, switchThreshold: 1000 });
    // Only --switch-threshold: the library's batch size stays.
    expect(applyOptions(parseCliArgs(['--switch-threshold', '0']))).toEqual({ switchThreshold: 1 });
    expect(applyOptions(parseCliArgs([]))).toEqual({});
  });

  it.each([
    [['--apply-count', '100', '--switch-threshold', '100'], /switch_threshold must be less than apply_count/],
    [['--switch-threshold', '10000'], /switch_threshold must be less than apply_count .*10000 by default/],
    [['--apply-count', '0'], /--apply-count expects a whole number of at least 1/],
    [['--apply-count', '1.5'], /--apply-count expects a whole number/],
    [['--switch-threshold=-1'], /--switch-threshold expects a whole number of at least 0/],
    [['-E', 'chatty'], /invalid elevel: chatty/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });

  it('--error-on-invalid-index is the default; --no-error-on-invalid-index wins over it, as in pg_repack', () => {
    expect(parseCliArgs(['-t', 't']).noErrorOnInvalidIndex).toBe(false);
    expect(parseCliArgs(['-t', 't', '--error-on-invalid-index']).noErrorOnInvalidIndex).toBe(false);
    expect(parseCliArgs(['-t', 't', '--no-error-on-invalid-index']).noErrorOnInvalidIndex).toBe(true);
    expect(parseCliArgs(['--error-on-invalid-index', '--no-error-on-invalid-index']).noErrorOnInvalidIndex).toBe(true);
  });

  it('-E takes pg_repack levels in any case and sets what is printed', () => {
    expect(parseCliArgs(['-E', 'warning']).elevel).toBe('WARNING');
    expect(parseCliArgs(['--elevel=DEBUG']).elevel).toBe('DEBUG');
    expect(parseCliArgs([]).elevel).toBeUndefined();
    const kinds = ['debug', 'info', 'warning', 'error', 'log'] as const;
    const shown = (elevel: Parameters<typeof verbosityOf>[0], echo = true): string[] => kinds.filter((k) => verbosityOf(elevel, echo).shows(k));
    // Without -E: what the CLI always printed.
    expect(shown(undefined, false)).toEqual(['info', 'warning', 'error']);
    expect(verbosityOf(undefined, false).logger).toBe('warn');
    expect(verbosityOf(undefined, true).logger).toBe('debug');
    expect(shown('DEBUG')).toEqual(['debug', 'info', 'warning', 'error', 'log']);
    expect(verbosityOf('DEBUG', false)).toMatchObject({ logger: 'debug', phaseTimings: true });
    expect(shown('INFO')).toEqual(['info', 'warning', 'error', 'log']);
    expect(shown('NOTICE')).toEqual(['warning', 'error', 'log']);
    expect(shown('WARNING')).toEqual(['warning', 'error', 'log']);
    expect(shown('ERROR')).toEqual(['error', 'log']);
    expect(verbosityOf('ERROR', false).logger).toBe('silent');
    // log_min_messages order: LOG sits between ERROR and FATAL.
    expect(shown('LOG')).toEqual(['log']);
    expect(shown('LOG', false)).toEqual([]);
    expect(shown('FATAL')).toEqual([]);
    expect(shown('PANIC')).toEqual([]);
    expect(verbosityOf('PANIC', true).logger).toBe('silent');
  });
});

describe('checkCombinations', () => {
  it('accepts -a with -d (pg_repack 1.4.8+: the database to connect to first)', () => {
    expect(() => checkCombinations(parseCliArgs(['-a', '-d', 'postgres']))).not.toThrow();
    expect(() => checkCombinations(parseCliArgs(['-a', 'postgres']))).not.toThrow();
    expect(() => checkCombinations(parseCliArgs(['-a', '-d', 'postgres', '-t', 'orders']))).toThrow(/specific table\(s\) in all databases/);
  });

  it('--alter: repeatable, one -t table, no index-only mode, no catalog swap, its grammar checked before connecting', () => {
    const o = parseCliArgs(['-t', 'public.orders', '--alter', 'ALTER COLUMN id TYPE bigint', '--alter=DROP COLUMN "Old"']);
    expect(o.alter).toEqual(['ALTER COLUMN id TYPE bigint', 'DROP COLUMN "Old"']);
    expect(() => checkCombinations(o)).not.toThrow();
    expect(parseCliArgs(['-t', 'orders']).alter).toEqual([]);
    expect(() => checkCombinations(parseCliArgs(['--alter', 'DROP COLUMN a']))).toThrow(/exactly one --table/);
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '-t', 'b', '--alter', 'DROP COLUMN a']))).toThrow(/exactly one --table/);
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '-x', '--alter', 'DROP COLUMN a']))).toThrow(/--only-indexes do not apply/);
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '--swap=catalog', '--alter', 'DROP COLUMN a']))).toThrow(/rename swap/);
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '--alter', 'ADD CONSTRAINT c CHECK (a > 0)']))).not.toThrow();
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '--alter', 'ADD CONSTRAINT c PRIMARY KEY (a)']))).toThrow(UsageError);
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '--alter', 'ADD CONSTRAINT c PRIMARY KEY (a)']))).toThrow(/ADD PRIMARY KEY is not supported/);
  });

  it('--column-order: one -t table, alone or with --alter, names checked before connecting', () => {
    const o = parseCliArgs(['-t', 'public.orders', '--column-order', 'id, "Created",amount']);
    expect(o.columnOrder).toBe('id, "Created",amount');
    expect(() => checkCombinations(o)).not.toThrow();
    expect(parseCliArgs(['-t', 'orders']).columnOrder).toBeUndefined();
    expect(() => checkCombinations(parseCliArgs(['--column-order', 'a,b']))).toThrow(/--column-order needs exactly one --table/);
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '--swap=catalog', '--column-order', 'a,b']))).toThrow(/rename swap/);
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '--column-order', 'a,b,a']))).toThrow(/names column "a" twice/);
    expect(() => checkCombinations(parseCliArgs(['-t', 'a', '--column-order', 'a;b']))).toThrow(UsageError);
  });

  it('accepts -x/-i with -s (move the indexes), still refuses ordering flags with them', () => {
    expect(() => checkCombinations(parseCliArgs(['-x', '-t', 'foo', '-s', 'tbs']))).not.toThrow();
    expect(() => checkCombinations(parseCliArgs(['-i', 'foo_pkey', '--tablespace=tbs']))).not.toThrow();
    expect(() => checkCombinations(parseCliArgs(['-x', '-t', 'foo', '-o', 'id']))).toThrow(/--order-by, --no-order and --if-bloated do not apply/);
  });
});

describe('--status', () => {
  it('takes DBNAME and --json, and refuses flags that do something else', () => {
    const o = parseCliArgs(['--status', '--json', 'app']);
    expect(o).toMatchObject({ status: true, json: true, connection: { dbname: 'app' } });
    expect(parseCliArgs([]).status).toBe(false);
    expect(() => checkCombinations(o)).not.toThrow();
    for (const other of ['--cleanup', '-a', '-N']) expect(() => checkCombinations(parseCliArgs(['--status', other]))).toThrow(UsageError);
  });
});

describe('connectionConfig', () => {
  const base = { dbname: undefined, host: undefined, port: undefined, user: undefined, password: 'auto' as const };
  it('accepts a URI as DBNAME', () => {
    expect(connectionConfig({ ...base, dbname: 'postgresql://u@h:5433/d' }, {})).toEqual({ connectionString: 'postgresql://u@h:5433/d' });
  });
  it('accepts libpq keyword=value strings', () => {
    expect(connectionConfig({ ...base, dbname: "host=/tmp port=5433 dbname='my db' user=x" }, {})).toEqual({
      host: '/tmp',
      port: 5433,
      database: 'my db',
      user: 'x',
    });
  });
  it('falls back to DATABASE_URL only when nothing was given', () => {
    expect(connectionConfig(base, { DATABASE_URL: 'postgres://a/b' })).toEqual({ connectionString: 'postgres://a/b' });
    expect(connectionConfig({ ...base, host: 'h' }, { DATABASE_URL: 'postgres://a/b' })).toEqual({ host: 'h' });
  });
  it('flags override the URI', () => {
    expect(connectionConfig({ ...base, dbname: 'postgres://a/b', port: 7000 }, {})).toEqual({ connectionString: 'postgres://a/b', port: 7000 });
  });
});

import { describe, expect, it } from 'vitest';
import { connectionConfig, parseCliArgs, UsageError } from '../src/index.js';

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
    expect(o.noKillBackend).toBe(false);
  });

  it.each([
    [['--swap=sideways'], /--swap must be/],
    [['-T', 'soon'], /--wait-timeout expects a non-negative number/],
    [['-j', '0'], /--jobs/],
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

describe('connectionConfig', () => {
  const base = { dbname: undefined, host: undefined, port: undefined, user: undefined, password: 'auto' as const };
  it('accepts a URI as DBNAME', () => {
    expect(connectionConfig({ ...base, dbname: 'postgresql://u@h:5433/d' }, {})).toEqual({ connectionString: 'postgresql://u@h:5433/d' });
  });
  it('accepts libpq keyword=value strings', () => {
    expect(connectionConfig({ ...base, dbname: "host=/tmp port=5433 dbname='my db' user=x" }, {})).toEqual({ host: '/tmp', port: 5433, database: 'my db', user: 'x' });
  });
  it('falls back to DATABASE_URL only when nothing was given', () => {
    expect(connectionConfig(base, { DATABASE_URL: 'postgres://a/b' })).toEqual({ connectionString: 'postgres://a/b' });
    expect(connectionConfig({ ...base, host: 'h' }, { DATABASE_URL: 'postgres://a/b' })).toEqual({ host: 'h' });
  });
  it('flags override the URI', () => {
    expect(connectionConfig({ ...base, dbname: 'postgres://a/b', port: 7000 }, {})).toEqual({ connectionString: 'postgres://a/b', port: 7000 });
  });
});

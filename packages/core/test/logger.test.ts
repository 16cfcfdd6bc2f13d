import { describe, expect, it } from 'vitest';
import { createStreamLogger, PgToolsError, stringifyLogValue, type LogRecord } from '../src/index.js';

function capture(): { write(s: string): boolean; lines: string[] } {
  const lines: string[] = [];
  return { write: (s: string) => lines.push(s) > 0, lines };
}

describe('createStreamLogger', () => {
  it('JSON lines: one object per line with time, level, message, static fields and the call fields', () => {
    const out = capture();
    const logger = createStreamLogger(out, {
      json: true,
      level: 'debug',
      staticFields: { service: 'ha-agent', scope: 'demo' },
      now: () => new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)),
    });
    logger.debug('one', { scope: 'override', n: 1 });
    logger.error('two');
    expect(out.lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1)).toBe(true);
    expect(out.lines.map((l) => JSON.parse(l))).toEqual([
      { time: '2024-01-02T03:04:05.006Z', level: 'debug', message: 'one', service: 'ha-agent', scope: 'override', n: 1 },
      { time: '2024-01-02T03:04:05.006Z', level: 'error', message: 'two', service: 'ha-agent', scope: 'demo' },
    ]);
  });

  it('never throws on circular, bigint, errors, throwing getters or toJSON, and keeps the line parseable', () => {
    const out = capture();
    const logger = createStreamLogger(out, { json: true });
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    const shared = { x: 1 };
    const nasty = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get: () => {
        throw new Error('getter exploded');
      },
    });
    const badJson = {
      toJSON: () => {
        throw new Error('toJSON exploded');
      },
    };
    const err = new PgToolsError('lock_timeout', 'could not lock', { cause: new Error('inner') });
    expect(() =>
      logger.warn('odd fields', {
        cyclic,
        big: 12345678901234567890n,
        err,
        nasty,
        badJson,
        nan: Number.NaN,
        fn: function named() {},
        twice: [shared, shared],
        map: new Map([[1, 2n]]),
      }),
    ).not.toThrow();
    const line = JSON.parse(out.lines[0]!) as Record<string, any>;
    expect(line.message).toBe('odd fields');
    expect(line.cyclic).toEqual({ name: 'a', self: '[Circular]' });
    expect(line.big).toBe('12345678901234567890');
    expect(line.err).toMatchObject({ name: 'PgToolsError', message: 'could not lock', code: 'lock_timeout', cause: { name: 'Error', message: 'inner' } });
    expect(line.nasty).toMatch(/Unserializable: getter exploded/);
    expect(line.badJson).toMatch(/Unserializable: toJSON exploded/);
    expect(line.nan).toBe('NaN');
    expect(line.fn).toBe('[Function named]');
    expect(line.twice).toEqual([{ x: 1 }, { x: 1 }]);
    expect(line.map).toEqual({ 1: '2' });
  });

  it('plain lines do not throw on the same fields either', () => {
    const out = capture();
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    createStreamLogger(out).info('plain', { cyclic, big: 1n });
    expect(out.lines).toEqual(['INFO: plain {"cyclic":{"me":"[Circular]"},"big":"1"}\n']);
  });

  it('a field named time, level or message cannot hide what the call said', () => {
    const out = capture();
    createStreamLogger(out, { json: true, now: () => new Date(0) }).info('real', { message: 'fake', level: 'debug' });
    expect(JSON.parse(out.lines[0]!)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      message: 'real',
      'field.message': 'fake',
      'field.level': 'debug',
    });
  });

  it('a custom format gets the record; if it throws, the line still goes out as JSON', () => {
    const out = capture();
    const seen: LogRecord[] = [];
    const logger = createStreamLogger(out, {
      now: () => new Date(0),
      format: (r) => {
        seen.push(r);
        if (r.message === 'bad') throw new Error('format bug');
        return `${r.level}|${r.message}`;
      },
    });
    logger.info('good', { a: 1 });
    logger.warn('bad');
    expect(seen[0]).toEqual({ time: new Date(0), level: 'info', message: 'good', fields: { a: 1 } });
    expect(out.lines[0]).toBe('info|good\n');
    expect(JSON.parse(out.lines[1]!)).toMatchObject({ level: 'warn', message: 'bad', logFormatError: 'format bug' });
  });

  it('a stream that throws does not take the caller down', () => {
    const logger = createStreamLogger(
      {
        write: () => {
          throw new Error('EPIPE');
        },
      },
      { json: true },
    );
    expect(() => logger.error('x')).not.toThrow();
  });
});

describe('stringifyLogValue', () => {
  it('serializes what JSON.stringify throws on', () => {
    const a: Record<string, unknown> = { n: 1n };
    a.self = a;
    expect(stringifyLogValue(a)).toBe('{"n":"1","self":"[Circular]"}');
    expect(stringifyLogValue(undefined)).toBe('null');
  });
});

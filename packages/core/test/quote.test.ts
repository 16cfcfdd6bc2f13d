import { describe, expect, it } from 'vitest';
import { displayName, parseQualifiedName, PgToolsError, quoteIdent, quoteLiteral, quoteQualified } from '../src/index.js';

describe('quoteIdent', () => {
  it.each([
    ['orders', '"orders"'],
    ['Orders', '"Orders"'],
    ['my table', '"my table"'],
    ['a.b', '"a.b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['select', '"select"'],
    ['zürich_ø_日本', '"zürich_ø_日本"'],
    ["o'brien", '"o\'brien"'],
    ['x; DROP TABLE y; --', '"x; DROP TABLE y; --"'],
  ])('quotes %j as %s', (input, expected) => {
    expect(quoteIdent(input)).toBe(expected);
  });

  it('accepts exactly 63 bytes and refuses 64 (PostgreSQL would truncate)', () => {
    expect(quoteIdent('a'.repeat(63))).toBe(`"${'a'.repeat(63)}"`);
    expect(() => quoteIdent('a'.repeat(64))).toThrow(/64 bytes/);
  });

  it('counts bytes, not characters', () => {
    const threeByte = '日'.repeat(21); // 63 bytes
    expect(quoteIdent(threeByte)).toBe(`"${threeByte}"`);
    const err = (() => {
      try {
        quoteIdent(`${threeByte}a`);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(PgToolsError);
    expect((err as PgToolsError).code).toBe('identifier_too_long');
  });

  it('refuses empty names and NUL', () => {
    expect(() => quoteIdent('')).toThrow(PgToolsError);
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });
});

describe('quoteQualified', () => {
  it('quotes both parts', () => {
    expect(quoteQualified('Sales Data', 'Order.Lines')).toBe('"Sales Data"."Order.Lines"');
  });
});

describe('quoteLiteral', () => {
  it('doubles quotes', () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
  });
  it('uses E-strings for backslashes so the result does not depend on standard_conforming_strings', () => {
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
  });
  it('refuses NUL', () => {
    expect(() => quoteLiteral('a\0')).toThrow(PgToolsError);
  });
});

describe('parseQualifiedName', () => {
  it.each([
    ['orders', { schema: undefined, name: 'orders' }],
    ['Public.Orders', { schema: 'public', name: 'orders' }],
    ['"Public"."Orders"', { schema: 'Public', name: 'Orders' }],
    ['"my schema"."a.b"', { schema: 'my schema', name: 'a.b' }],
    ['"say ""hi"""', { schema: undefined, name: 'say "hi"' }],
    ['s."Ünïcode"', { schema: 's', name: 'Ünïcode' }],
    ['  public.t  ', { schema: 'public', name: 't' }],
  ])('parses %j', (input, expected) => {
    expect(parseQualifiedName(input)).toEqual(expected);
  });

  it.each(['', 'a.', '.a', 'a.b.c', '"unterminated', '""', 'my table', 'a"b"'])('refuses %j', (input) => {
    expect(() => parseQualifiedName(input)).toThrow(PgToolsError);
  });

  it('round-trips through displayName', () => {
    for (const [schema, name] of [
      ['public', 'orders'],
      ['My Schema', 'select'],
      ['s', 'a"b'],
    ] as const) {
      expect(parseQualifiedName(displayName(schema, name))).toEqual({ schema, name });
    }
  });
});

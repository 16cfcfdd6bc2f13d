import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import { checkServerVersion, resolveSwapMode, SUPPORTED_SERVER_VERSIONS } from '../src/index.js';

describe('checkServerVersion', () => {
  it.each([150000, 150004, 160010, 170002, 180000, 189999])('accepts %i', (num) => {
    expect(() => checkServerVersion(num)).not.toThrow();
  });

  it.each([
    [140010, undefined, /PostgreSQL 14\.10 \(server_version_num 140010\)/],
    [149999, undefined, /PostgreSQL 14\.9999/],
    [190000, '19devel', /PostgreSQL 19devel \(server_version_num 190000\)/],
    [90624, undefined, /PostgreSQL 9\.6\.24/],
    [Number.NaN, 'garbage', /an unknown server version \(garbage\)/],
  ])('refuses %s, naming the version found and the range', (num, text, found) => {
    let thrown: unknown;
    try {
      checkServerVersion(num, text);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PgToolsError);
    const e = thrown as PgToolsError;
    expect(e.code).toBe('unsupported_server_version');
    expect(e.message).toMatch(found);
    expect(e.message).toContain('supports PostgreSQL 15 to 18 (server_version_num 150000 to 189999)');
  });

  it('the range is 15 to 18', () => {
    expect(SUPPORTED_SERVER_VERSIONS).toEqual({ min: 150000, max: 189999 });
  });
});

describe('resolveSwapMode', () => {
  it('auto is catalog for a superuser, rename otherwise; an explicit mode stays', () => {
    expect(resolveSwapMode('auto', true)).toBe('catalog');
    expect(resolveSwapMode(undefined, true)).toBe('catalog');
    expect(resolveSwapMode('auto', false)).toBe('rename');
    expect(resolveSwapMode('rename', true)).toBe('rename');
    expect(resolveSwapMode('catalog', false)).toBe('catalog');
  });
});

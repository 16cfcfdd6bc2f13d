import { describe, expect, it } from 'vitest';
import { PG_MAJORS, defaultPgMajor, testPgVersions } from '../src/pg-versions.js';

describe('testPgVersions', () => {
  it.each([
    [undefined, [...PG_MAJORS]],
    ['', [...PG_MAJORS]],
    ['18', [18]],
    [' 15 , 18 ', [15, 18]],
  ])('PGTOOLS_TEST_PG=%j picks %j', (env, expected) => {
    expect(testPgVersions(env)).toEqual(expected);
  });

  it.each(['14', '19', 'x', '15,17.1'])('refuses %j, naming the majors it knows', (env) => {
    expect(() => testPgVersions(env)).toThrow(/is not one of 15, 16, 17, 18/);
  });
});

describe('defaultPgMajor', () => {
  it('is 15 unless PGTOOLS_PG_MAJOR names one major', () => {
    expect(defaultPgMajor(undefined)).toBe(15);
    expect(defaultPgMajor('18')).toBe(18);
    expect(() => defaultPgMajor('16,17')).toThrow(/one of 15, 16, 17, 18/);
    expect(() => defaultPgMajor('9')).toThrow(/is not one of/);
  });
});

import { describe, expect, it } from 'vitest';
import { statisticsCarryOver, type StatisticsFacts } from '../src/statistics-carry-over.js';

const fresh: StatisticsFacts = {
  swapMode: 'catalog',
  ordered: false,
  hasStatistics: true,
  modsBeforeRun: 10,
  logEntries: 40,
  estimatedRows: 20_000,
  analyzeThreshold: 50,
  analyzeScaleFactor: 0.1,
};

describe('statisticsCarryOver', () => {
  it('keeps fresh statistics through the catalog swap of an unordered copy', () => {
    expect(statisticsCarryOver(fresh)).toBe("statistics kept: 50 change(s) since the last ANALYZE, within autovacuum's 2050; the swap kept them");
  });

  it('counts the changes before and during the run against the threshold, inclusive', () => {
    expect(statisticsCarryOver({ ...fresh, modsBeforeRun: 2000, logEntries: 50 })).toBeDefined();
    expect(statisticsCarryOver({ ...fresh, modsBeforeRun: 2000, logEntries: 51 })).toBeUndefined();
  });

  it.each([
    ['the rename swap (a new table, no statistics)', { swapMode: 'rename' as const }],
    ['an ordered copy (the correlation changes)', { ordered: true }],
    ['no statistics', { hasStatistics: false }],
    ['a table never counted', { estimatedRows: -1 }],
  ])('analyzes after %s', (_, change) => {
    expect(statisticsCarryOver({ ...fresh, ...change })).toBeUndefined();
  });
});

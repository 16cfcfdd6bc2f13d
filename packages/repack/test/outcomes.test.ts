import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exitCodeOf, outcomeOf, REPACK_OUTCOMES, STATUS_EXIT } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const exitDoc = readFileSync(new URL('../../../docs/exit-codes.md', import.meta.url), 'utf8');

describe('the table of repack outcomes', () => {
  it.each([
    ['lock_timeout', {}, 'skipped'],
    ['catalog_swap_requires_superuser', {}, 'skipped'],
    ['below_bloat_threshold', {}, 'filtered'],
    ['unlogged_table', {}, 'failed'],
    ['unlogged_table', { discovered: true }, 'skipped'],
    ['partitioned_table', { discovered: true }, 'skipped'],
    ['swap_failed', { discovered: true }, 'failed'],
    ['some_new_code', {}, 'failed'],
    ['toString', {}, 'failed'],
  ] as const)('%s %o -> %s', (code, o, status) => {
    expect(outcomeOf(code, o)).toBe(status);
  });

  it('the exit code is the worst of the tables', () => {
    expect(exitCodeOf([])).toBe(0);
    expect(exitCodeOf([{ status: 'repacked' }, { status: 'filtered' }])).toBe(0);
    expect(exitCodeOf([{ status: 'skipped' }, { status: 'repacked' }])).toBe(3);
    expect(exitCodeOf([{ status: 'skipped' }, { status: 'failed' }, { status: 'skipped' }])).toBe(1);
  });

  it('the package README lists every code under the status the table gives it', () => {
    for (const status of ['filtered', 'skipped', 'failed'] as const) {
      const codes = Object.entries(REPACK_OUTCOMES)
        .filter(([, s]) => s === status)
        .map(([c]) => `\`${c}\``);
      expect(readme).toContain(`\`${status}\` (exit ${STATUS_EXIT[status]}): ${codes.join(', ')}.`);
    }
  });

  it('docs/exit-codes.md gives each status its exit code', () => {
    expect(exitDoc).toMatch(/\| 1 \| failed: at least one table failed/);
    expect(exitDoc).toMatch(/\| 3 \| nothing failed, but some table was skipped/);
    expect(STATUS_EXIT).toEqual({ repacked: 0, filtered: 0, skipped: 3, failed: 1 });
  });
});

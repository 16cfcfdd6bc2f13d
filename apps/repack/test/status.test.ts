import { describe, expect, it } from 'vitest';
import type { ProgressRow } from '@pgtools/repack';
import { statusLines } from '../src/status.js';

const row = (over: Partial<ProgressRow>): ProgressRow => ({
  schema: 'public',
  table: 'orders',
  phase: 'copy',
  rowsCopied: 2500,
  rowsTotalEstimate: 10000,
  logBacklog: null,
  etaSeconds: 75,
  pid: 4242,
  startedAt: '2026-12-06 23:50:01.123456+00',
  updatedAt: '2026-12-06 23:50:09.5+00',
  interrupted: false,
  ...over,
});

describe('--status', () => {
  it('says so when nothing runs', () => {
    expect(statusLines([])).toEqual(['no repack running']);
  });

  it('prints one aligned line per table, interrupted runs marked with the cleanup hint', () => {
    const lines = statusLines([row({}), row({ schema: 'My "S"', table: 'big', phase: 'apply', logBacklog: 120, etaSeconds: null, pid: 7, interrupted: true })]);
    expect(lines[0]).toMatch(/^table\s+state\s+phase\s+rows copied\s+log backlog\s+eta\s+pid\s+started\s+updated$/);
    expect(lines[1]).toMatch(/^public\.orders\s+running\s+copy\s+2500 \/ 10000\s+-\s+1m15s\s+4242\s+2026-12-06 23:50:01\+00\s+2026-12-06 23:50:09\+00$/);
    expect(lines[2]).toMatch(/^My "S"\.big\s+interrupted\s+apply\s+2500 \/ 10000\s+120\s+-\s+7\s/);
    expect(lines[1]!.indexOf('running')).toBe(lines[2]!.indexOf('interrupted'));
    expect(lines[3]).toBe('2 table(s): 1 running, 1 interrupted (run pgtools-repack --cleanup to remove what they left)');
  });
});

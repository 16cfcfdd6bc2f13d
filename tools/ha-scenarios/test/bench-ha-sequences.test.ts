import { describe, expect, it } from 'vitest';
import { formatSequenceTable, parseHaBenchArgs, type HaBenchSequenceMeasurement, type SequenceResult } from '../src/index.js';

const result = (over: Partial<SequenceResult> = {}): SequenceResult => ({
  name: 'postmaster SIGKILL, then power loss',
  agent: 'ha-agent',
  leaderBefore: 'node1',
  leaderAfter: 'node2',
  faults: [
    { name: 'postmaster SIGKILL', node: 'node1', at: 10_000 },
    { name: 'power loss', node: 'node1', at: 13_000 },
  ],
  acknowledged: 120,
  lost: [],
  unexcused: [],
  lossBoundMs: 1000,
  splitBrain: false,
  evidence: [],
  recoveredAfterMs: 14_000,
  marks: { replicasStreamingAfterKillMs: 232, crashWriteOutageMs: 310, newPrimaryAfterMs: 9278 },
  ...over,
});

describe('bench:ha fault sequences', () => {
  it('--sequences picks the modes, none turns them off, anything else is refused', () => {
    expect(parseHaBenchArgs([]).sequenceModes).toEqual(['async', 'sync']);
    expect(parseHaBenchArgs(['--sequences', 'sync']).sequenceModes).toEqual(['sync']);
    expect(parseHaBenchArgs(['--sequences=none']).sequenceModes).toEqual([]);
    expect(() => parseHaBenchArgs(['--sequences', 'quorum'])).toThrow(/--sequences must be/);
  });

  it('tabulates each agent side by side and lists every lost write with the fault it preceded', () => {
    const loss = { ack: { id: 41, at: 12_900, server: 'node1' }, fault: { name: 'power loss', node: 'node1', at: 13_000 }, beforeFaultMs: 100, excused: true };
    const measured: HaBenchSequenceMeasurement[] = [
      { ok: true, agent: 'ha-agent', mode: 'async', sequence: 'crash-then-power-loss', result: result({ lost: [loss] }) },
      {
        ok: true,
        agent: 'patroni',
        mode: 'async',
        sequence: 'crash-then-power-loss',
        result: result({ agent: 'patroni', marks: { replicasStreamingAfterKillMs: 'not within 3000 ms', newPrimaryAfterMs: 'none in 60 s' } }),
      },
      { ok: false, agent: 'patroni', mode: 'sync', sequence: 'crash-then-agent-kill', error: 'no convergence' },
    ];
    const md = formatSequenceTable(measured, ['ha-agent', 'patroni']);
    expect(md).toContain(
      '| postmaster SIGKILL, power loss 3 s later (asynchronous) | 1 of 120 (0) | 0.23 s / 0.31 s | 9.28 s | no | 0 of 120 (0) | not within 3000 ms / – | none in 60 s | no |',
    );
    expect(md).toContain('(synchronous_mode) | not run | not run | not run | not run | failed: no convergence |');
    expect(md).toContain(
      '- pgtools ha-agent, postmaster SIGKILL, power loss 3 s later (async): lost id 41, acknowledged by node1 100 ms before power loss on node1',
    );
  });
});

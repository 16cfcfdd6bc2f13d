import { describe, expect, it } from 'vitest';
import { analyzeAcceptances, attributeLosses, deepMerge, nodeConfig, outageWindow, type Acceptance } from '../src/index.js';

const acc = (node: string, round: number, ackedAt: number): Acceptance => ({ node, round, startedAt: ackedAt - 5, ackedAt });

describe('split-brain analysis', () => {
  it('a clean failover (A, then B) is not split brain', () => {
    const r = analyzeAcceptances([acc('a', 1, 100), acc('a', 2, 200), acc('b', 50, 5000), acc('b', 51, 5100)]);
    expect(r).toEqual({ splitBrain: false, evidence: [] });
  });
  it('two nodes accepting in the same round is split brain', () => {
    const r = analyzeAcceptances([acc('a', 7, 700), acc('b', 7, 705)]);
    expect(r.splitBrain).toBe(true);
    expect(r.evidence[0]).toContain('round 7: a and b');
  });
  it('interleaving (A, B, A) is split brain even in different rounds', () => {
    const r = analyzeAcceptances([acc('a', 1, 100), acc('b', 2, 200), acc('a', 3, 300)]);
    expect(r.splitBrain).toBe(true);
    expect(r.evidence.join('\n')).toContain('interleaved');
  });
  it('a primary restarted in place (A, gap, A) is not split brain', () => {
    expect(analyzeAcceptances([acc('a', 1, 100), acc('a', 30, 3000)]).splitBrain).toBe(false);
  });
  it('in a fault sequence the lead may come back (A, B dead for good, A) but never alternate', () => {
    const back = [acc('a', 1, 100), acc('b', 20, 2000), acc('b', 21, 2100), acc('a', 200, 20_000)];
    expect(analyzeAcceptances(back).splitBrain).toBe(true);
    expect(analyzeAcceptances(back, { leadershipMayReturn: true })).toEqual({ splitBrain: false, evidence: [] });
    const alternating = [...back, acc('b', 201, 20_100)];
    expect(analyzeAcceptances(alternating, { leadershipMayReturn: true }).splitBrain).toBe(true);
    expect(analyzeAcceptances([acc('a', 7, 700), acc('b', 7, 705)], { leadershipMayReturn: true }).splitBrain).toBe(true);
  });
});

describe('losses of a fault sequence', () => {
  const ack = (id: number, at: number) => ({ id, at, server: 'node1' });
  const faults = [
    { name: 'postmaster SIGKILL', node: 'node1', at: 1000 },
    { name: 'power loss', node: 'node1', at: 4000 },
  ];
  it('each loss goes with the first fault after it; only a tail within the bound is excused', () => {
    const r = attributeLosses([ack(1, 900), ack(2, 2000), ack(3, 3500), ack(4, 4050), ack(5, 6000)], faults, 1000);
    expect(r.map((l) => [l.ack.id, l.fault?.name, l.beforeFaultMs, l.excused])).toEqual([
      [1, 'postmaster SIGKILL', 100, true],
      [2, 'power loss', 2000, false],
      [3, 'power loss', 500, true],
      [4, 'power loss', -50, true],
      [5, undefined, undefined, false],
    ]);
  });
  it('with a bound of 0 (synchronous) nothing is excused', () => {
    expect(attributeLosses([ack(1, 3990)], faults, 0)[0]!.excused).toBe(false);
  });
});

describe('outage window', () => {
  const acks = (times: number[]) => times.map((at, id) => ({ id, at, server: 'n' }));
  it('is the longest gap from the last write before the fault', () => {
    expect(outageWindow(acks([0, 100, 200, 3200, 3300]), 250, 3250)).toEqual({ outageMs: 3000, from: 200, to: 3200 });
  });
  it('ignores gaps before the fault and after recovery', () => {
    expect(outageWindow(acks([0, 5000, 5100, 5200, 6000, 20000]), 5150, 6000).outageMs).toBe(800);
  });
  it('runs to `until` when no write came back', () => {
    expect(outageWindow(acks([0, 100]), 150, 10_100)).toEqual({ outageMs: 10_000, from: 100, to: undefined });
  });
});

describe('node configuration', () => {
  const base = {
    scope: 's',
    name: 'node1',
    address: '10.251.0.1',
    dir: '/tmp/n1',
    etcdHosts: ['10.251.0.1:2379'],
    subnet: '10.251.0.0/24',
    binDir: '/usr/lib/postgresql/15/bin',
  };
  it('has the suite timings, automatic watchdog and the default maximum_lag_on_failover', () => {
    const doc = nodeConfig(base) as { bootstrap: { dcs: Record<string, unknown> }; watchdog: Record<string, unknown> };
    expect(doc.bootstrap.dcs).toMatchObject({ ttl: 10, loop_wait: 2, retry_timeout: 4 });
    expect(doc.bootstrap.dcs.maximum_lag_on_failover).toBeUndefined();
    expect(doc.watchdog).toEqual({ mode: 'automatic' });
  });
  it('passes synchronous mode and the software fence through', () => {
    const doc = nodeConfig({ ...base, synchronousMode: 'strict', softwareFence: { enabled: true } }) as {
      bootstrap: { dcs: Record<string, unknown> };
      watchdog: Record<string, unknown>;
    };
    expect(doc.bootstrap.dcs).toMatchObject({ synchronous_mode: true, synchronous_mode_strict: true });
    expect(doc.watchdog.software_fence).toEqual({ enabled: true });
  });
  it('deep-merges extra keys', () => {
    expect(deepMerge({ a: { b: 1, c: [1] } }, { a: { c: [2] }, d: 1 })).toEqual({ a: { b: 1, c: [2] }, d: 1 });
  });
});

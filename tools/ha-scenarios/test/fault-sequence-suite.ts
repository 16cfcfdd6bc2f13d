import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  crashThenAgentKill,
  crashThenPowerLoss,
  formatSequenceSummary,
  runFaultSequence,
  startScenarioCluster,
  switchoverThenCrashThenPowerLoss,
  waitForSyncStandby,
  type ScenarioCluster,
  type SequenceResult,
  type SequenceSpec,
} from '../src/index.js';

/**
 * Issue 14's sequences of faults, each under one writer and judged on the final primary. In
 * synchronous mode not one acknowledged write may be lost. In asynchronous mode only a tail
 * acknowledged within a second before a fault may be; the writes a primary acknowledged after its
 * in-place restart must survive the next fault (before the fix every one of them was lost).
 */
export function faultSequenceSuite(o: { synchronous: boolean }): void {
  const boundMs = o.synchronous ? 0 : 1000;
  let cluster: ScenarioCluster;
  const results: SequenceResult[] = [];

  beforeAll(async () => {
    cluster = await startScenarioCluster({ scope: o.synchronous ? 'seq-sync' : 'seq-async', ...(o.synchronous ? { synchronousMode: true } : {}) });
  }, 240_000);

  afterAll(async () => {
    for (const r of results) console.log(formatSequenceSummary(r));
    await cluster?.destroy();
  }, 120_000);

  const run = async (spec: SequenceSpec): Promise<SequenceResult> => {
    if (o.synchronous) await waitForSyncStandby(cluster);
    const r = await runFaultSequence(cluster, spec);
    results.push(r);
    console.log(formatSequenceSummary(r));
    expect(r.splitBrain, r.evidence.join('\n')).toBe(false);
    expect(
      r.unexcused.map((l) => `id ${l.ack.id} acked ${l.beforeFaultMs ?? '?'} ms before ${l.fault?.name ?? 'no fault'}`),
      formatSequenceSummary(r),
    ).toEqual([]);
    return r;
  };

  describe(`fault sequences, ${o.synchronous ? 'synchronous_mode' : 'asynchronous replication'} (ttl 10 / loop_wait 2 / retry_timeout 4)`, () => {
    it('postmaster SIGKILL, then power loss 3 s later: the restarted primary had replicas again', async () => {
      const r = await run(crashThenPowerLoss({ lossBoundMs: boundMs }));
      expect(r.leaderAfter).not.toBe(r.leaderBefore);
      expect(typeof r.marks.replicasStreamingAfterKillMs, 'every replica streams from the restarted primary before the second fault').toBe('number');
    }, 300_000);

    it('postmaster SIGKILL, then agent SIGKILL 3 s later (the fence stops PostgreSQL)', async () => {
      const r = await run(crashThenAgentKill({ lossBoundMs: boundMs }));
      expect(r.leaderAfter).not.toBe(r.leaderBefore);
    }, 300_000);

    it('switchover, then postmaster SIGKILL on the new primary, then its power loss', async () => {
      await run(switchoverThenCrashThenPowerLoss({ lossBoundMs: boundMs }));
    }, 300_000);
  });
}

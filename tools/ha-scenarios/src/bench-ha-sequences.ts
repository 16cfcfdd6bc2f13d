import type { AgentKind } from './agent-kind.js';
import { runFaultSequence, type SequenceResult, type SequenceSpec } from './fault-sequence.js';
import { crashThenAgentKill, crashThenPowerLoss, switchoverThenCrashThenPowerLoss } from './fault-sequences.js';
import type { ScenarioCluster } from './scenario-cluster.js';
import { waitForSyncStandby } from './sync-standby.js';

/** Replication mode of a sequence run: asynchronous (a tail before a fault may be lost) or `synchronous_mode` (nothing). */
export type HaBenchMode = 'async' | 'sync';

/** The fault sequences of `pnpm bench:ha` (issue 14), in run order. */
export const HA_BENCH_SEQUENCES = ['crash-then-power-loss', 'crash-then-agent-kill', 'switchover-crash-power-loss'] as const;
export type HaBenchSequence = (typeof HA_BENCH_SEQUENCES)[number];

/** A tail acknowledged this long before a fault may be lost with asynchronous replication. */
export const ASYNC_LOSS_BOUND_MS = 1000;

/** One sequence run: measured, or why not. */
export type HaBenchSequenceMeasurement =
  | { ok: true; agent: AgentKind; mode: HaBenchMode; sequence: HaBenchSequence; result: SequenceResult }
  | { ok: false; agent: AgentKind; mode: HaBenchMode; sequence: HaBenchSequence; error: string };

/**
 * The `SequenceSpec` of a bench sequence in `mode`.
 *
 * @example
 * ```ts
 * import { benchSequenceSpec, runFaultSequence } from '@pgtools/ha-scenarios';
 * const r = await runFaultSequence(cluster, benchSequenceSpec('crash-then-power-loss', 'sync'));
 * ```
 */
export function benchSequenceSpec(sequence: HaBenchSequence, mode: HaBenchMode): SequenceSpec {
  const o = { lossBoundMs: mode === 'sync' ? 0 : ASYNC_LOSS_BOUND_MS };
  switch (sequence) {
    case 'crash-then-power-loss':
      return crashThenPowerLoss(o);
    case 'crash-then-agent-kill':
      return crashThenAgentKill(o);
    case 'switchover-crash-power-loss':
      return switchoverThenCrashThenPowerLoss(o);
  }
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);

/**
 * Runs every bench sequence on `cluster` (already in `mode`), one after the other. After a failed
 * one the agents are started again and convergence awaited; when that fails too the rest is skipped.
 *
 * @example
 * ```ts
 * import { runBenchSequences } from '@pgtools/ha-scenarios';
 * const measured = await runBenchSequences(cluster, 'ha-agent', 'async', (m) => console.error(m));
 * ```
 */
export async function runBenchSequences(
  cluster: ScenarioCluster,
  agent: AgentKind,
  mode: HaBenchMode,
  log: (message: string) => void,
): Promise<HaBenchSequenceMeasurement[]> {
  const out: HaBenchSequenceMeasurement[] = [];
  let broken: string | undefined;
  for (const sequence of HA_BENCH_SEQUENCES) {
    if (broken) {
      out.push({ ok: false, agent, mode, sequence, error: `skipped: ${broken}` });
      continue;
    }
    log(`sequence ${sequence} (${mode})`);
    try {
      if (mode === 'sync') await waitForSyncStandby(cluster);
      const result = await runFaultSequence(cluster, benchSequenceSpec(sequence, mode));
      out.push({ ok: true, agent, mode, sequence, result });
      log(
        `${sequence} (${mode}): lost ${result.lost.length}/${result.acknowledged} (${result.unexcused.length} outside the bound), split brain ${result.splitBrain ? 'YES' : 'no'}`,
      );
    } catch (err) {
      out.push({ ok: false, agent, mode, sequence, error: firstLine(err) });
      log(`${sequence} (${mode}) failed: ${firstLine(err)}`);
      try {
        for (const n of cluster.nodes) if (!n.agent?.isRunning()) n.startAgent();
        await cluster.converged({ timeoutMs: 120_000 });
      } catch (err2) {
        broken = `no convergence after ${sequence}: ${firstLine(err2)}`;
      }
    }
  }
  return out;
}

const TITLES: Readonly<Record<HaBenchSequence, string>> = {
  'crash-then-power-loss': 'postmaster SIGKILL, power loss 3 s later',
  'crash-then-agent-kill': 'postmaster SIGKILL, agent SIGKILL 3 s later',
  'switchover-crash-power-loss': 'switchover, then postmaster SIGKILL, power loss 3 s later',
};
const AGENT_TITLES: Readonly<Record<AgentKind, string>> = { 'ha-agent': 'pgtools ha-agent', patroni: 'Patroni 3.0.2' };
const COLUMNS = [
  'acked writes lost (outside the bound)',
  'replicas streaming / write outage after the kill',
  'new primary after the last fault',
  'split brain',
] as const;

function cells(m: HaBenchSequenceMeasurement | undefined): string[] {
  if (!m) return COLUMNS.map(() => 'not run');
  if (!m.ok) return [`failed: ${m.error.slice(0, 60)}`, ...COLUMNS.slice(1).map(() => '–')];
  const r = m.result;
  const mark = (suffix: string): string => {
    const key = Object.keys(r.marks).find((k) => k.endsWith(suffix));
    const v = key === undefined ? undefined : r.marks[key];
    return typeof v === 'number' ? `${(v / 1000).toFixed(2)} s` : (v ?? '–');
  };
  return [
    `${r.lost.length} of ${r.acknowledged} (${r.unexcused.length})`,
    `${mark('replicasStreamingAfterKillMs')} / ${mark('crashWriteOutageMs')}`,
    mark('newPrimaryAfterMs'),
    r.splitBrain ? '**YES**' : 'no',
  ];
}

/**
 * The fault-sequence table: a row per sequence and mode, per agent the acknowledged writes lost
 * (and how many the bound does not excuse), when the replicas streamed again after the postmaster
 * kill, when a new primary took writes after the last fault, and split brain; then one line per loss.
 *
 * @example
 * ```ts
 * import { formatSequenceTable } from '@pgtools/ha-scenarios';
 * console.log(formatSequenceTable(report.sequences, ['ha-agent', 'patroni']));
 * ```
 */
export function formatSequenceTable(measured: readonly HaBenchSequenceMeasurement[], agents: readonly AgentKind[]): string {
  if (measured.length === 0) return '';
  const row = (c: string[]): string => `| ${c.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
  const header = ['Fault sequence', ...agents.flatMap((a) => COLUMNS.map((c) => `${AGENT_TITLES[a]}: ${c}`))];
  const lines = [row(header), row(header.map(() => '---'))];
  const modes = [...new Set(measured.map((m) => m.mode))];
  for (const mode of modes) {
    for (const sequence of HA_BENCH_SEQUENCES) {
      const title = `${TITLES[sequence]} (${mode === 'sync' ? 'synchronous_mode' : 'asynchronous'})`;
      lines.push(row([title, ...agents.flatMap((a) => cells(measured.find((m) => m.agent === a && m.mode === mode && m.sequence === sequence)))]));
    }
  }
  const details: string[] = [];
  for (const m of measured) {
    if (!m.ok) continue;
    for (const l of m.result.lost) {
      details.push(
        `- ${AGENT_TITLES[m.agent]}, ${TITLES[m.sequence]} (${m.mode}): lost id ${l.ack.id}, acknowledged by ${l.ack.server} ` +
          (l.fault ? `${l.beforeFaultMs} ms before ${l.fault.name} on ${l.fault.node}` : 'after the last fault') +
          (l.excused ? '' : ' (outside the bound)'),
      );
    }
  }
  return [
    lines.join('\n'),
    '',
    `Each sequence runs under one writer through HAProxy; at the end every acknowledged write is looked up on the final primary. ` +
      `Asynchronous: a write acknowledged at most ${ASYNC_LOSS_BOUND_MS} ms before a fault may be lost (the replication tail); synchronous_mode: none.`,
    ...(details.length ? ['', 'Lost writes:', ...details] : []),
  ].join('\n');
}

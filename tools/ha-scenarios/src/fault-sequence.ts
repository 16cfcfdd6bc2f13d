import type { AgentKind } from './agent-kind.js';
import { findLostWrites } from './lost-writes.js';
import type { ScenarioCluster } from './scenario-cluster.js';
import { startSplitBrainDetector, type SplitBrainReport } from './split-brain.js';
import { startWriter, type Ack, type WriteLoad } from './write-load.js';

/** One fault of a sequence: what, on which node, when (ms since the epoch). */
export interface SequenceFault {
  name: string;
  node: string;
  at: number;
}

/** What a sequence's steps get. */
export interface SequenceContext {
  cluster: ScenarioCluster;
  writer: WriteLoad;
  /** Records a fault (at: default now); later losses are attributed to the first fault after them. */
  fault(name: string, node: string, at?: number): SequenceFault;
  /** Figures worth reporting (`marks.replicasStreamingAfterMs = ...`). */
  marks: Record<string, number | string>;
  detector(): SplitBrainReport;
}

/** A sequence of faults under one writer, judged once at the end on the final primary. */
export interface SequenceSpec {
  name: string;
  /** Runs the faults and their recoveries (start the killed agents again) in order. */
  run(ctx: SequenceContext): Promise<void>;
  /**
   * A lost write is excused only when acknowledged at most this many ms before the fault it
   * preceded (asynchronous replication loses such a tail); 0 = nothing may be lost (synchronous).
   */
  lossBoundMs: number;
}

/** An acknowledged write missing on the final primary, with the fault that came after it. */
export interface AttributedLoss {
  ack: Ack;
  /** The first fault at or after the acknowledgement (undefined: none came after it). */
  fault: SequenceFault | undefined;
  /** fault.at - ack.at, ms. */
  beforeFaultMs: number | undefined;
  excused: boolean;
}

/** What one sequence measured. */
export interface SequenceResult {
  name: string;
  agent: AgentKind;
  leaderBefore: string;
  leaderAfter: string;
  faults: SequenceFault[];
  acknowledged: number;
  lost: AttributedLoss[];
  /** Losses the bound does not excuse (must be empty). */
  unexcused: AttributedLoss[];
  lossBoundMs: number;
  splitBrain: boolean;
  evidence: string[];
  /** Last fault to convergence, ms. */
  recoveredAfterMs: number;
  marks: Record<string, number | string>;
}

/** An acknowledgement already on the wire while a fault was injected still counts as before it. */
const ON_THE_WIRE_MS = 100;

/**
 * Pairs each lost write with the first fault after its acknowledgement and says whether the bound
 * excuses it. Pure, so the judgement is tested on fixed samples.
 *
 * @example
 * ```ts
 * import { attributeLosses } from '@pgtools/ha-scenarios';
 * attributeLosses([{ id: 7, at: 900, server: 'node1' }], [{ name: 'power loss', node: 'node1', at: 1000 }], 1000)[0]!.excused; // true
 * ```
 */
export function attributeLosses(lost: readonly Ack[], faults: readonly SequenceFault[], boundMs: number): AttributedLoss[] {
  const ordered = [...faults].sort((a, b) => a.at - b.at);
  return lost.map((ack) => {
    const fault = ordered.find((f) => f.at + ON_THE_WIRE_MS >= ack.at);
    const beforeFaultMs = fault ? fault.at - ack.at : undefined;
    const excused = boundMs > 0 && beforeFaultMs !== undefined && beforeFaultMs <= boundMs;
    return { ack, fault, beforeFaultMs, excused };
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a fault sequence on a converged cluster: one writer through HAProxy for the whole sequence,
 * the split-brain detector, the steps, convergence, then every acknowledged write looked up on the
 * final primary. Unlike `runScenario`, losses are judged across all the faults: a write
 * acknowledged by a primary that was restarted in place and then lost counts, whichever fault lost it.
 *
 * @example
 * ```ts
 * import { runFaultSequence, crashThenPowerLoss } from '@pgtools/ha-scenarios';
 * const r = await runFaultSequence(cluster, crashThenPowerLoss({ lossBoundMs: 1000 }));
 * console.log(formatSequenceSummary(r));
 * ```
 */
export async function runFaultSequence(cluster: ScenarioCluster, spec: SequenceSpec): Promise<SequenceResult> {
  const before = await cluster.converged({ timeoutMs: 120_000 });
  const run = `${spec.name.replace(/\W+/g, '-')}-${Date.now()}`;
  const writer = startWriter({ target: cluster.writerTarget, run, serverName: (a) => cluster.nodeNameOf(a), maxDurationMs: 600_000 });
  const detector = startSplitBrainDetector(cluster.nodes, { leadershipMayReturn: true });
  const faults: SequenceFault[] = [];
  const ctx: SequenceContext = {
    cluster,
    writer,
    marks: {},
    detector: () => detector.report(),
    fault(name, node, at = Date.now()) {
      const f = { name, node, at };
      faults.push(f);
      return f;
    },
  };
  let stopped = false;
  const stopLoad = async (): Promise<SplitBrainReport> => {
    stopped = true;
    const [report] = await Promise.all([detector.stop(), writer.stop()]);
    return report;
  };
  try {
    for (let i = 0; i < 300 && writer.acks.filter((a) => a.server === before.leader).length < 10; i++) await sleep(100);
    if (writer.acks.length < 10)
      throw new Error(`the writer got ${writer.acks.length} acknowledgements through HAProxy in 30 s (last error: ${writer.errors.at(-1)?.message})`);
    await spec.run(ctx);
    const recoveryStart = Date.now();
    const after = await cluster.converged({ timeoutMs: 120_000, writer, writesSince: recoveryStart });
    await sleep(500);
    const report = await stopLoad();
    const lost = attributeLosses(await findLostWrites(cluster.node(after.leader), run, writer.acks), faults, spec.lossBoundMs);
    const lastFault = faults.at(-1)?.at ?? recoveryStart;
    return {
      name: spec.name,
      agent: cluster.nodes[0]!.agentKind,
      leaderBefore: before.leader,
      leaderAfter: after.leader,
      faults,
      acknowledged: writer.acks.length,
      lost,
      unexcused: lost.filter((l) => !l.excused),
      lossBoundMs: spec.lossBoundMs,
      splitBrain: report.splitBrain,
      evidence: report.evidence,
      recoveredAfterMs: after.at - lastFault,
      marks: ctx.marks,
    };
  } finally {
    if (!stopped) await stopLoad();
  }
}

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

/**
 * The one-line summary of a sequence, then one line per lost write (its acknowledgement time and
 * the fault it preceded).
 *
 * @example
 * ```ts
 * import { formatSequenceSummary } from '@pgtools/ha-scenarios';
 * console.log(formatSequenceSummary(result));
 * ```
 */
export function formatSequenceSummary(r: SequenceResult): string {
  const faults = r.faults.map((f) => `${f.name} on ${f.node} at ${clock(f.at)}`).join(', then ');
  const marks = Object.keys(r.marks).length
    ? `, ${Object.entries(r.marks)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`
    : '';
  const head =
    `[sequence] ${r.name} (${r.agent}): lost ${r.lost.length}/${r.acknowledged} acked writes (${r.unexcused.length} outside the bound of ${r.lossBoundMs} ms before a fault), ` +
    `split brain: ${r.splitBrain ? `YES (${r.evidence[0]})` : 'no'}, leader ${r.leaderBefore} -> ${r.leaderAfter}, converged ${(r.recoveredAfterMs / 1000).toFixed(1)} s after the last fault; faults: ${faults}${marks}`;
  const lines = r.lost.map(
    (l) =>
      `[sequence]   lost id ${l.ack.id} acknowledged by ${l.ack.server} at ${clock(l.ack.at)}, ` +
      (l.fault ? `${l.beforeFaultMs} ms before ${l.fault.name} on ${l.fault.node}` : 'after the last fault') +
      (l.excused ? '' : ' (NOT excused)'),
  );
  return [head, ...lines].join('\n');
}

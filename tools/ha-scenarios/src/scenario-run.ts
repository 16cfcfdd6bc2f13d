import type { AgentKind } from './agent-kind.js';
import type { Converged } from './convergence.js';
import { findLostWrites } from './lost-writes.js';
import { outageWindow } from './outage.js';
import { startReader } from './read-load.js';
import type { ScenarioCluster } from './scenario-cluster.js';
import type { ScenarioNode } from './scenario-node.js';
import { startSplitBrainDetector, type SplitBrainReport } from './split-brain.js';
import { startWriter, type Ack, type WriteLoad } from './write-load.js';

/** What a scenario's steps get: the cluster as it was before the fault, and the running load. */
export interface ScenarioContext {
  cluster: ScenarioCluster;
  before: Converged;
  /** The leader before the fault. */
  leader: ScenarioNode;
  /** The replicas before the fault. */
  replicas: ScenarioNode[];
  writer: WriteLoad;
  /** Scenario-specific times or facts worth reporting (`marks.killedAt = ...`). */
  marks: Record<string, number | string>;
  /** The detector's verdict so far (e.g. to check a node accepted nothing after some time). */
  detector(): SplitBrainReport;
}

/** One scenario: a fault, an optional recovery step, and what it may cost. */
export interface ScenarioSpec {
  name: string;
  /** Injects the fault; resolves with the fault time (default: when it was called). */
  fault(ctx: ScenarioContext): Promise<number | void>;
  /** Runs after the fault (heal, restart a node, start etcd) before convergence is awaited. */
  recover?(ctx: ScenarioContext): Promise<void>;
  /**
   * Asynchronous replication may lose what the replicas had not received when the fault hit:
   * acknowledged writes lost are allowed only when acknowledged within this many ms before the
   * fault (default 1000; 0 = none may be lost, as for a switchover or a replica fault).
   */
  lossBoundMs?: number;
  /** Acknowledged writes through HAProxy before the fault (default 10). */
  warmupWrites?: number;
  /** Convergence after recovery (default 120 s). */
  convergeTimeoutMs?: number;
}

/** What one scenario measured. */
export interface ScenarioResult {
  name: string;
  agent: AgentKind;
  leaderBefore: string;
  leaderAfter: string;
  timelineBefore: number;
  timelineAfter: number;
  faultAt: number;
  /** Fault to convergence (one leader, replicas streaming, writes through HAProxy again), ms. */
  recoveredAfterMs: number;
  /** Longest gap between acknowledged writes through HAProxy around the fault, ms. */
  outageMs: number;
  /**
   * The same at the PostgreSQL level: longest gap between direct writes the split-brain detector
   * got acknowledged by any node (no HAProxy check delay), ms.
   */
  pgOutageMs: number;
  acknowledged: number;
  writerErrors: number;
  reads: number;
  /** Acknowledged writes missing on the final primary. */
  lost: Ack[];
  /** The lost writes the bound does not excuse (must be empty). */
  lostOutsideBound: Ack[];
  lossBoundMs: number;
  splitBrain: boolean;
  evidence: string[];
  detector: SplitBrainReport;
  marks: Record<string, number | string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one scenario on a converged cluster: starts the writer and reader through HAProxy and the
 * split-brain detector, waits for warm-up writes, injects the fault, runs the recovery step, waits
 * for convergence (with a write acknowledged by the final leader through HAProxy), then measures the
 * outage window, the acknowledged writes missing on the final primary, and split brain.
 *
 * @example
 * ```ts
 * import { runScenario, partitionNode, healNode } from '@pgtools/ha-scenarios';
 * const r = await runScenario(cluster, {
 *   name: 'replica network loss',
 *   fault: async ({ replicas }) => partitionNode(replicas[0]!),
 *   recover: async ({ replicas }) => { await new Promise((r) => setTimeout(r, 15_000)); await healNode(replicas[0]!); },
 *   lossBoundMs: 0,
 * });
 * console.log(formatScenarioSummary(r));
 * ```
 */
export async function runScenario(cluster: ScenarioCluster, spec: ScenarioSpec): Promise<ScenarioResult> {
  const before = await cluster.converged({ timeoutMs: 120_000 });
  const run = `${spec.name.replace(/\W+/g, '-')}-${Date.now()}`;
  const serverName = (a: string): string => cluster.nodeNameOf(a);
  const writer = startWriter({ target: cluster.writerTarget, run, serverName });
  const reader = startReader({ target: cluster.readerTarget, run, serverName });
  const detector = startSplitBrainDetector(cluster.nodes);
  const ctx: ScenarioContext = {
    cluster,
    before,
    leader: cluster.node(before.leader),
    replicas: before.replicas.map((n) => cluster.node(n)),
    writer,
    marks: {},
    detector: () => detector.report(),
  };
  let stopped = false;
  const stopLoad = async (): Promise<SplitBrainReport> => {
    stopped = true;
    const [report] = await Promise.all([detector.stop(), writer.stop(), reader.stop()]);
    return report;
  };
  try {
    const warm = spec.warmupWrites ?? 10;
    for (let i = 0; i < 300 && writer.acks.filter((a) => a.server === before.leader).length < warm; i++) await sleep(100);
    if (writer.acks.length < warm)
      throw new Error(`the writer got ${writer.acks.length} acknowledgements through HAProxy in 30 s (last error: ${writer.errors.at(-1)?.message})`);
    const called = Date.now();
    const faultAt = (await spec.fault(ctx)) ?? called;
    await spec.recover?.(ctx);
    const recoveryStart = Date.now();
    const after = await cluster.converged({ timeoutMs: spec.convergeTimeoutMs ?? 120_000, writer, writesSince: recoveryStart });
    await sleep(500);
    const report = await stopLoad();
    const outage = outageWindow(writer.acks, faultAt, after.at);
    const direct = report.acceptances.map((a, i) => ({ id: i, at: a.ackedAt, server: a.node }));
    const pgOutage = outageWindow(direct, faultAt, after.at);
    const lost = await findLostWrites(cluster.node(after.leader), run, writer.acks);
    const bound = spec.lossBoundMs ?? 1000;
    // The +100 ms covers an acknowledgement already on the wire while the fault was being injected.
    const lostOutsideBound = lost.filter((a) => bound === 0 || a.at < faultAt - bound || a.at > faultAt + 100);
    return {
      name: spec.name,
      agent: ctx.leader.agentKind,
      leaderBefore: before.leader,
      leaderAfter: after.leader,
      timelineBefore: before.timeline,
      timelineAfter: after.timeline,
      faultAt,
      recoveredAfterMs: after.at - faultAt,
      outageMs: outage.outageMs,
      pgOutageMs: pgOutage.outageMs,
      acknowledged: writer.acks.length,
      writerErrors: writer.errors.length,
      reads: reader.reads.length,
      lost,
      lostOutsideBound,
      lossBoundMs: bound,
      splitBrain: report.splitBrain,
      evidence: report.evidence,
      detector: report,
      marks: ctx.marks,
    };
  } finally {
    if (!stopped) await stopLoad();
  }
}

/**
 * The one-line summary of a scenario (what the lead quotes).
 *
 * @example
 * ```ts
 * import { formatScenarioSummary } from '@pgtools/ha-scenarios';
 * console.log(formatScenarioSummary(result));
 * // [scenario] primary network loss (ha-agent): outage 14.20 s via HAProxy, 11.90 s direct, lost 0/412 acked writes (bound 1000 ms before the fault), split brain: no, leader node1 -> node2, timeline 1 -> 2, converged after 31.4 s
 * ```
 */
export function formatScenarioSummary(r: ScenarioResult): string {
  const lost = r.lost.length
    ? ` [lost ids ${r.lost.map((a) => `${a.id}@${new Date(a.at).toISOString().slice(11, 23)}`).join(' ')}; fault at ${new Date(r.faultAt).toISOString().slice(11, 23)}]`
    : '';
  const marks = Object.keys(r.marks).length
    ? `, ${Object.entries(r.marks)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`
    : '';
  return (
    `[scenario] ${r.name} (${r.agent}): outage ${(r.outageMs / 1000).toFixed(2)} s via HAProxy, ${(r.pgOutageMs / 1000).toFixed(2)} s direct, lost ${r.lost.length}/${r.acknowledged} acked writes` +
    ` (bound ${r.lossBoundMs} ms before the fault)${lost}, split brain: ${r.splitBrain ? `YES (${r.evidence[0]})` : 'no'}` +
    `, leader ${r.leaderBefore} -> ${r.leaderAfter}, timeline ${r.timelineBefore} -> ${r.timelineAfter}, converged after ${(r.recoveredAfterMs / 1000).toFixed(1)} s${marks}`
  );
}

/**
 * Waits (bounded) until the split-brain detector sees a direct write acknowledged after `since`
 * by a node other than `notFrom` (a new primary exists); resolves with that time, or undefined.
 *
 * @example
 * ```ts
 * import { waitForNewPrimary } from '@pgtools/ha-scenarios';
 * const at = await waitForNewPrimary(ctx, ctx.leader.name, faultAt, 60_000);
 * ```
 */
export async function waitForNewPrimary(
  ctx: Pick<ScenarioContext, 'detector'>,
  notFrom: string,
  since: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hit = ctx.detector().acceptances.find((a) => a.node !== notFrom && a.ackedAt > since);
    if (hit) return hit.ackedAt;
    await sleep(100);
  }
  return undefined;
}

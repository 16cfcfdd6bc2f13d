import type { AgentKind } from './agent-kind.js';
import { agentRss, type AgentRss } from './agent-rss.js';
import { runBenchSequences, type HaBenchMode, type HaBenchSequenceMeasurement } from './bench-ha-sequences.js';
import {
  finishHaBenchExtras,
  haBenchSpec,
  HA_BENCH_SCENARIOS,
  type HaBenchExtras,
  type HaBenchScenario,
  type HaBenchSpecOptions,
} from './bench-ha-scenarios.js';
import { SCENARIO_TIMINGS, type HaTimings } from './node-config.js';
import { startScenarioCluster, type ScenarioCluster } from './scenario-cluster.js';
import { runScenario, type ScenarioResult } from './scenario-run.js';

/** What `runHaBench` runs. */
export interface HaBenchOptions extends HaBenchSpecOptions {
  /** Default both, pgtools' agent first. */
  agents?: AgentKind[];
  /** Default all of `HA_BENCH_SCENARIOS`, in that order. */
  scenarios?: HaBenchScenario[];
  /** The fault sequences in these modes (default both; `[]` = none): async on the scenarios' cluster, sync on one of its own. */
  sequenceModes?: HaBenchMode[];
  /** Each scenario this many times per agent (default 1). */
  runs?: number;
  /** Default ttl 10 / loop_wait 2 / retry_timeout 4, the same for both agents. */
  timings?: HaTimings;
  /** HAProxy checks, the same for both agents (default the seed's `inter 3s fall 3 rise 2`). */
  haproxy?: { interMs?: number; fall?: number; rise?: number };
  /** Keep every agent's log under `<dir>/<scope>/` when a cluster is destroyed. */
  keepLogsIn?: string;
  /** Aborting destroys the running cluster and rejects with `aborted`. */
  signal?: AbortSignal;
  /** Progress (libraries never print). */
  onEvent?: (event: HaBenchEvent) => void;
}

/** A progress event. */
export interface HaBenchEvent {
  type: 'cluster' | 'scenario' | 'measured' | 'failed' | 'recovery' | 'rss' | 'cluster-event';
  agent: AgentKind;
  message: string;
}

/** One scenario run: measured, or why not. */
export type HaBenchMeasurement =
  | { ok: true; agent: AgentKind; scenario: HaBenchScenario; run: number; result: ScenarioResult; extras: HaBenchExtras }
  | { ok: false; agent: AgentKind; scenario: HaBenchScenario; run: number; error: string; extras: HaBenchExtras };

/** Everything `runHaBench` measured. */
export interface HaBenchReport {
  agents: AgentKind[];
  scenarios: HaBenchScenario[];
  runs: number;
  timings: HaTimings;
  haproxy: { interMs: number; fall: number; rise: number };
  measurements: HaBenchMeasurement[];
  /** The fault sequences (issue 14). */
  sequences: HaBenchSequenceMeasurement[];
  /** Agent RSS per node once the cluster first converged, and after the last scenario. */
  rss: Partial<Record<AgentKind, { start?: AgentRss[]; end?: AgentRss[] }>>;
  /** Per agent: why its cluster could not start, if it could not. */
  clusterErrors: Partial<Record<AgentKind, string>>;
  startedAt: number;
  finishedAt: number;
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);

/**
 * The side-by-side of pgtools' HA agent and Patroni (issue 6, `pnpm bench:ha`): per agent one
 * scenario cluster (3 nodes in network namespaces, 3-member etcd, HAProxy with the same checks,
 * the same Patroni-format configuration and timings), the chosen scenarios run one after the other
 * with convergence in between, and each agent's RSS per node sampled. A scenario that fails (no
 * convergence in time, a refused switchover) is recorded as failed; the cluster is then brought back
 * (stopped agents started, convergence awaited) or replaced by a fresh one for the remaining scenarios.
 *
 * @example
 * ```ts
 * import { runHaBench, formatHaBenchTable } from '@pgtools/ha-scenarios';
 * const report = await runHaBench({ agents: ['ha-agent', 'patroni'], scenarios: ['switchover'] });
 * console.log(formatHaBenchTable(report));
 * ```
 */
export async function runHaBench(options: HaBenchOptions = {}): Promise<HaBenchReport> {
  const agents = options.agents ?? ['ha-agent', 'patroni'];
  const scenarios = options.scenarios ?? [...HA_BENCH_SCENARIOS];
  const runs = Math.max(1, Math.floor(options.runs ?? 1));
  const timings = options.timings ?? SCENARIO_TIMINGS;
  const haproxy = { interMs: options.haproxy?.interMs ?? 3000, fall: options.haproxy?.fall ?? 3, rise: options.haproxy?.rise ?? 2 };
  const sequenceModes = options.sequenceModes ?? ['async', 'sync'];
  const report: HaBenchReport = {
    agents,
    scenarios,
    runs,
    timings,
    haproxy,
    measurements: [],
    sequences: [],
    rss: {},
    clusterErrors: {},
    startedAt: Date.now(),
    finishedAt: 0,
  };
  const signal = options.signal;
  let current: ScenarioCluster | undefined;

  // Each step races the abort: a step left running dies with the process, the cluster is destroyed here.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('aborted'));
  });
  aborted.catch(() => undefined);
  if (signal?.aborted) throw new Error('aborted');
  signal?.addEventListener('abort', () => onAbort?.(), { once: true });
  const step = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined);
    return Promise.race([p, aborted]);
  };

  const start = async (agent: AgentKind, attempt: number, synchronous = false): Promise<ScenarioCluster> => {
    const emit = (type: HaBenchEvent['type'], message: string): void => options.onEvent?.({ type, agent, message });
    emit('cluster', `starting a ${synchronous ? 'synchronous_mode ' : ''}${agent} cluster${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
    const started = Date.now();
    const pending = startScenarioCluster({
      agent,
      scope: `bench-${agent}${synchronous ? '-sync' : ''}${attempt > 1 ? `-${attempt}` : ''}`,
      ...(synchronous ? { synchronousMode: true } : {}),
      timings,
      haproxy,
      ...(options.keepLogsIn ? { keepLogsIn: options.keepLogsIn } : {}),
      onEvent: (e) => emit('cluster-event', `${e.type}: ${e.message}`),
    });
    // A cluster that finishes starting after an abort still has to go.
    pending.then((c) => (signal?.aborted ? c.destroy() : undefined)).catch(() => undefined);
    const cluster = await step(pending);
    emit('cluster', `${agent} cluster converged in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return cluster;
  };

  /** Brings a cluster back after a failed scenario: SIGCONT and start every agent, await convergence; else a fresh cluster. */
  const recover = async (agent: AgentKind, cluster: ScenarioCluster, attempt: number): Promise<ScenarioCluster | undefined> => {
    const emit = (message: string): void => options.onEvent?.({ type: 'recovery', agent, message });
    try {
      for (const n of cluster.nodes) {
        n.agent?.signal('SIGCONT');
        await n.host.heal().catch(() => undefined);
        if (!n.agent?.isRunning()) n.startAgent();
      }
      await step(cluster.converged({ timeoutMs: 120_000 }));
      emit('cluster converged again');
      return cluster;
    } catch (err) {
      if (signal?.aborted) throw err;
      emit(`no convergence (${firstLine(err)}): replacing the cluster`);
      await cluster.destroy().catch(() => undefined);
      current = undefined;
      try {
        current = await start(agent, attempt);
        return current;
      } catch (err2) {
        if (signal?.aborted) throw err2;
        emit(`a fresh cluster did not start either: ${firstLine(err2)}`);
        return undefined;
      }
    }
  };

  const sampleRss = (cluster: ScenarioCluster): AgentRss[] => cluster.nodes.map((n) => agentRss(n));

  try {
    for (const agent of agents) {
      const emit = (type: HaBenchEvent['type'], message: string): void => options.onEvent?.({ type, agent, message });
      let attempt = 1;
      try {
        current = await start(agent, attempt);
      } catch (err) {
        if (signal?.aborted) throw err;
        report.clusterErrors[agent] = firstLine(err);
        emit('failed', `cluster did not start: ${firstLine(err)}`);
        continue;
      }
      const rss: { start?: AgentRss[]; end?: AgentRss[] } = { start: sampleRss(current) };
      report.rss[agent] = rss;
      emit('rss', rss.start!.map((r) => `${r.node} ${(r.totalKb / 1024).toFixed(1)} MB`).join(', '));
      for (let run = 1; run <= runs; run++) {
        for (const scenario of scenarios) {
          const extras: HaBenchExtras = {};
          if (!current) {
            report.measurements.push({ ok: false, agent, scenario, run, error: 'skipped: no working cluster left', extras });
            continue;
          }
          emit('scenario', `${scenario} (run ${run}/${runs})`);
          try {
            const result = await step(runScenario(current, haBenchSpec(scenario, options, extras)));
            await step(finishHaBenchExtras(current, result, extras));
            report.measurements.push({ ok: true, agent, scenario, run, result, extras });
            emit(
              'measured',
              `${scenario}: outage ${(result.outageMs / 1000).toFixed(2)} s via HAProxy, ${(result.pgOutageMs / 1000).toFixed(2)} s direct, lost ${result.lost.length}/${result.acknowledged}, split brain ${result.splitBrain ? 'YES' : 'no'}, timeline ${result.timelineBefore} -> ${result.timelineAfter}`,
            );
          } catch (err) {
            if (signal?.aborted) throw err;
            report.measurements.push({ ok: false, agent, scenario, run, error: firstLine(err), extras });
            emit('failed', `${scenario}: ${firstLine(err)}`);
            current = await recover(agent, current, ++attempt);
          }
        }
      }
      if (current) {
        try {
          await step(current.converged({ timeoutMs: 60_000 }));
          rss.end = sampleRss(current);
          emit('rss', rss.end.map((r) => `${r.node} ${(r.totalKb / 1024).toFixed(1)} MB`).join(', '));
        } catch (err) {
          if (signal?.aborted) throw err;
          emit('failed', `no RSS sample at the end: ${firstLine(err)}`);
        }
        if (sequenceModes.includes('async')) report.sequences.push(...(await step(runBenchSequences(current, agent, 'async', (m) => emit('scenario', m)))));
        emit('cluster', `destroying the ${agent} cluster`);
        await current.destroy();
        current = undefined;
      }
      if (sequenceModes.includes('sync')) {
        try {
          current = await start(agent, 1, true);
          report.sequences.push(...(await step(runBenchSequences(current, agent, 'sync', (m) => emit('scenario', m)))));
        } catch (err) {
          if (signal?.aborted) throw err;
          emit('failed', `synchronous_mode sequences: ${firstLine(err)}`);
          report.clusterErrors[agent] ??= `synchronous_mode cluster: ${firstLine(err)}`;
        }
        await current?.destroy();
        current = undefined;
      }
    }
  } finally {
    if (current) await current.destroy().catch(() => undefined);
    current = undefined;
  }
  report.finishedAt = Date.now();
  return report;
}

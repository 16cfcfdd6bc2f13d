import { clusterHealth, observeNodes, type Health, type NodeView } from './cluster.js';
import { runHactl } from './hactl.js';
import { liveness } from './lifecycle.js';
import { loadRates } from './load.js';
import type { LabState } from './state.js';

/** What `lab status --json` prints. */
export interface StatusReport {
  labDir: string;
  processes: ReturnType<typeof liveness>;
  nodes: NodeView[];
  health: Health;
  load: { writer: string; reader: string } | undefined;
}

/**
 * Gathers the lab's state: recorded processes, each node's REST answers, the leader, load rates.
 *
 * @example
 * ```ts
 * const report = await statusReport(readState(labDir())!);
 * console.log(report.health.leader);
 * ```
 */
export async function statusReport(state: LabState): Promise<StatusReport> {
  const [nodes, health] = await Promise.all([
    observeNodes(state),
    clusterHealth(
      state,
      state.nodes.map((n) => n.name),
    ),
  ]);
  return { labDir: state.labDir, processes: liveness(state), nodes, health, load: loadRates(state) };
}

/**
 * The text of `lab status`: `hactl list`, then processes and load.
 *
 * @example
 * ```ts
 * console.log(await statusText(readState(labDir())!));
 * ```
 */
export async function statusText(state: LabState): Promise<string> {
  const report = await statusReport(state);
  const lines: string[] = [];
  try {
    const r = await runHactl(state, ['list']);
    lines.push(r.stdout.trimEnd());
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    lines.push(`hactl list failed: ${(e.stderr ?? e.message).trim()}`);
  }
  const p = report.processes;
  const mark = (alive: boolean): string => (alive ? 'up' : 'DOWN');
  lines.push(
    `etcd: ${state.etcd.map((e, i) => `${e.name} ${mark(p.etcd[i]!)}`).join(', ')}   HAProxy: ${mark(p.haproxy)} (writer :${state.haproxy.writerPort}, reader :${state.haproxy.readerPort})`,
  );
  lines.push(
    `agents: ${state.nodes
      .map((n, i) => {
        const v = report.nodes[i]!;
        const cut = state.partitioned?.includes(n.name) ? ' PARTITIONED' : '';
        return `${n.name} ${mark(p.agents[i]!)}${v.postmasterPid ? ` (postmaster ${v.postmasterPid})` : ' (no postmaster)'}${cut}`;
      })
      .join(', ')}`,
  );
  lines.push(`cluster: ${report.health.settled ? `healthy, leader ${report.health.leader}` : report.health.reason}`);
  if (report.load) {
    lines.push(`writer: ${report.load.writer}`);
    lines.push(`reader: ${report.load.reader}`);
  } else {
    lines.push('load: not running (`lab load start`)');
  }
  return lines.join('\n');
}

import type { AgentKind } from './agent-kind.js';
import type { AgentRss } from './agent-rss.js';
import type { HaBenchMeasurement, HaBenchReport } from './bench-ha.js';
import { HA_BENCH_TITLES, type HaBenchScenario } from './bench-ha-scenarios.js';
import { formatSequenceTable } from './bench-ha-sequences.js';

const AGENT_TITLES: Readonly<Record<AgentKind, string>> = { 'ha-agent': 'pgtools ha-agent', patroni: 'Patroni 3.0.2' };
const COLUMNS = ['outage via HAProxy', 'outage at PostgreSQL level', 'acked writes lost', 'split brain seen', 'timeline'] as const;

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mb = (kb: number): string => (kb / 1024).toFixed(1);

/** One figure over the runs: the value itself, or the median with the range. */
function spread(values: readonly number[]): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return sorted.length === 1 ? secs(median) : `${secs(median)} (${(sorted[0]! / 1000).toFixed(2)}–${(sorted.at(-1)! / 1000).toFixed(2)})`;
}

/** A short reason for the table cell; the details list has the whole message. */
function failure(m: HaBenchMeasurement): string {
  const error = m.ok ? '' : m.error;
  if (/did not converge/.test(error)) return 'failed: did not converge';
  if (/^skipped/.test(error)) return 'skipped';
  return `failed: ${error.slice(0, 60)}`;
}

function cells(ms: readonly HaBenchMeasurement[]): string[] {
  if (ms.length === 0) return COLUMNS.map(() => 'not run');
  const ok = ms.flatMap((m) => (m.ok ? [m] : []));
  const failed = ms.length - ok.length;
  if (ok.length === 0) return [failure(ms[0]!), ...COLUMNS.slice(1).map(() => '–')];
  const rs = ok.map((m) => m.result);
  const anySplit = rs.some((r) => r.splitBrain);
  return [
    spread(rs.map((r) => r.outageMs)) + (failed ? ` (+${failed} failed run${failed > 1 ? 's' : ''})` : ''),
    spread(rs.map((r) => r.pgOutageMs)) + (anySplit ? ' *' : ''),
    ok
      .map(({ result: r, extras: e }) => `${r.lost.length} of ${r.acknowledged}${e.orphanWritesDiscarded ? ` + ${e.orphanWritesDiscarded} direct †` : ''}`)
      .join(', '),
    rs.map((r) => (r.splitBrain ? '**YES**' : 'no')).join(', '),
    rs.map((r) => `${r.timelineBefore} → ${r.timelineAfter}`).join(', '),
  ];
}

function rejoinCell(ms: readonly HaBenchMeasurement[]): string {
  if (ms.length === 0) return 'not run';
  const times = ms.flatMap((m) => (m.extras.rejoinMs !== undefined ? [m.extras.rejoinMs] : []));
  const missing = ms.length - times.length;
  return `${times.length ? spread(times) : ''}${missing ? `${times.length ? ' ' : ''}(${missing} not streaming)` : ''}`;
}

function rssCell(rss: { start?: AgentRss[]; end?: AgentRss[] } | undefined): string {
  if (!rss) return 'not run';
  const fmt = (list: AgentRss[] | undefined): string => (list ? list.map((r) => mb(r.totalKb)).join(' / ') : '?');
  return `${fmt(rss.start)} → ${fmt(rss.end)}`;
}

/**
 * The side-by-side as markdown: one table (a row per scenario, per agent the outage through
 * HAProxy and at the PostgreSQL level, acknowledged writes lost, split brain, timeline before →
 * after; then rows for the rejoin times and the agents' RSS per node), followed by the settings and
 * one line of detail per scenario run. With several runs a time is the median with its range.
 *
 * @example
 * ```ts
 * import { runHaBench, formatHaBenchTable } from '@pgtools/ha-scenarios';
 * const md = formatHaBenchTable(await runHaBench({ runs: 1 }));
 * ```
 */
export function formatHaBenchTable(report: HaBenchReport, o: { command?: string } = {}): string {
  const { agents } = report;
  const pick = (agent: AgentKind, scenario: HaBenchScenario): HaBenchMeasurement[] =>
    report.measurements.filter((m) => m.agent === agent && m.scenario === scenario);
  const header = ['Scenario', ...agents.flatMap((a) => COLUMNS.map((c) => `${AGENT_TITLES[a]}: ${c}`))];
  const row = (cellsOf: string[]): string => `| ${cellsOf.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  const lines = [row(header), row(header.map(() => '---'))];
  const blankGroup = (first: string): string[] => [first, ...COLUMNS.slice(1).map(() => '')];
  for (const scenario of report.scenarios) {
    lines.push(
      row([HA_BENCH_TITLES[scenario], ...agents.flatMap((a) => (report.clusterErrors[a] ? blankGroup('cluster did not start') : cells(pick(a, scenario))))]),
    );
  }
  if (report.scenarios.includes('power-loss')) {
    lines.push(row(['rejoin after power loss (agent start → streaming)', ...agents.flatMap((a) => blankGroup(rejoinCell(pick(a, 'power-loss'))))]));
  }
  if (report.scenarios.includes('agent-kill')) {
    lines.push(row(['rejoin after agent kill (agent restart → streaming)', ...agents.flatMap((a) => blankGroup(rejoinCell(pick(a, 'agent-kill'))))]));
  }
  lines.push(row(['agent RSS per node, MB (after bootstrap → after the scenarios)', ...agents.flatMap((a) => blankGroup(rssCell(report.rss[a])))]));

  const t = report.timings;
  const out = [
    lines.join('\n'),
    '',
    `Settings: ttl ${t.ttl} / loop_wait ${t.loopWait} / retry_timeout ${t.retryTimeout} for both agents (same Patroni-format configuration), asynchronous replication, ` +
      `3 nodes in network namespaces with a 3-member etcd, HAProxy \`inter ${report.haproxy.interMs}ms fall ${report.haproxy.fall} rise ${report.haproxy.rise}\`, ` +
      `a writer through HAProxy every 100 ms, a direct write probe on every node every 100 ms (split-brain detector and the PostgreSQL-level outage), ` +
      `${report.runs} run${report.runs > 1 ? 's' : ''} per scenario${report.runs > 1 ? ' (times: median and range)' : ''}; total ${((report.finishedAt - report.startedAt) / 60_000).toFixed(1)} min.`,
  ];
  if (report.measurements.some((m) => m.ok && m.result.splitBrain)) {
    out.push(
      '',
      '\\* The old primary kept accepting direct writes after the new primary had accepted some: the PostgreSQL-level gap is short because two primaries were writable.',
    );
  }
  if (report.measurements.some((m) => m.extras.orphanWritesDiscarded)) {
    out.push(
      '',
      "† Direct writes (the split-brain probe, one every 100 ms on the node's own socket) that the old primary acknowledged after the new primary existed and that are missing on the final primary: a client writing to the old primary directly (or through a proxy still routing to it) lost them.",
    );
  }
  const sequences = formatSequenceTable(report.sequences, agents);
  if (sequences) out.push('', sequences);
  if (o.command) out.push('', `Command: \`${o.command}\``);
  out.push('', 'Details:');
  for (const m of report.measurements) {
    const head = `- ${AGENT_TITLES[m.agent]}, ${HA_BENCH_TITLES[m.scenario]}${report.runs > 1 ? ` (run ${m.run})` : ''}: `;
    if (!m.ok) {
      out.push(`${head}FAILED: ${m.error}`);
      continue;
    }
    const r = m.result;
    const e = m.extras;
    const parts = [`leader ${r.leaderBefore} → ${r.leaderAfter}`];
    if (e.newPrimaryAfterMs !== undefined) parts.push(`new primary ${e.newPrimary} accepted writes ${secs(e.newPrimaryAfterMs)} after the fault`);
    if (e.oldPrimaryLastWriteAfterMs !== undefined && m.scenario !== 'postmaster-kill')
      parts.push(`old primary's last direct write ${secs(e.oldPrimaryLastWriteAfterMs)} after the fault`);
    if (e.orphanWrites !== undefined)
      parts.push(
        `${e.orphanWrites} direct writes accepted by the old primary after the new one existed${e.orphanWritesDiscarded !== undefined ? `, ${e.orphanWritesDiscarded} of them missing on the final primary` : ''}`,
      );
    if (e.rejoinMs !== undefined) parts.push(`rejoin ${secs(e.rejoinMs)}`);
    if (e.rejoinTimedOutMs !== undefined) parts.push(`not streaming ${secs(e.rejoinTimedOutMs)} after its agent started`);
    if (e.switchoverAnsweredAfterMs !== undefined) parts.push(`POST /switchover answered in ${secs(e.switchoverAnsweredAfterMs)}`);
    parts.push(`converged ${secs(r.recoveredAfterMs)} after the fault`, `${r.acknowledged} writes acknowledged, ${r.writerErrors} writer errors`);
    if (r.lost.length)
      parts.push(
        `lost ids ${r.lost
          .slice(0, 8)
          .map((a) => a.id)
          .join(' ')}${r.lost.length > 8 ? ' …' : ''} (${r.lostOutsideBound.length} outside the ${r.lossBoundMs} ms bound)`,
      );
    if (r.splitBrain) parts.push(`split brain: ${r.evidence[0]}`);
    out.push(head + parts.join('; '));
  }
  for (const a of agents) {
    if (report.clusterErrors[a]) out.push(`- ${AGENT_TITLES[a]}: cluster did not start: ${report.clusterErrors[a]}`);
    const end = report.rss[a]?.end ?? report.rss[a]?.start;
    if (end) {
      const per = end.map((r) => `${r.node} ${mb(r.totalKb)} MB (${r.processes.map((p) => `${p.comm} ${mb(p.rssKb)}`).join(' + ') || 'no agent'})`);
      out.push(`- ${AGENT_TITLES[a]} RSS ${report.rss[a]?.end ? 'after the scenarios' : 'after bootstrap'}: ${per.join(', ')}`);
    }
  }
  return `${out.join('\n')}\n`;
}

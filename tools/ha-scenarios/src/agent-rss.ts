import { readFileSync } from 'node:fs';
import { processTree } from './process-tree.js';
import type { ScenarioNode } from './scenario-node.js';

/** The resident memory of one node's agent: its own process and every helper it runs, PostgreSQL excluded. */
export interface AgentRss {
  node: string;
  /** The agent's PID (undefined when no agent runs). */
  pid: number | undefined;
  /** Sum of VmRSS over `processes`, in kB. */
  totalKb: number;
  /** Each process counted (the agent first, then e.g. the software fence and its `sleep`). */
  processes: Array<{ pid: number; comm: string; rssKb: number }>;
}

function readStatus(pid: number): { comm: string; rssKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const comm = /^Name:\s*(.*)$/m.exec(status)?.[1]?.trim() ?? '?';
    // Kernel threads and zombies have no VmRSS line: they hold no user memory.
    const rssKb = Number(/^VmRSS:\s*(\d+)\s*kB/m.exec(status)?.[1] ?? 0);
    return { comm, rssKb };
  } catch {
    return undefined;
  }
}

/**
 * The resident set (VmRSS from /proc) of the node's agent process and its descendants, minus the
 * postmaster's tree and any PostgreSQL program it happens to run (`postgres`, `pg_*`, `initdb`):
 * pgtools' agent plus its software fence (a `sh` and its `sleep`), or Patroni's python process,
 * measured by the same rule.
 *
 * @example
 * ```ts
 * import { agentRss } from '@pgtools/ha-scenarios';
 * const { totalKb, processes } = agentRss(cluster.node('node1'));
 * console.log(`${(totalKb / 1024).toFixed(1)} MB in ${processes.map((p) => p.comm).join(' + ')}`);
 * ```
 */
export function agentRss(node: ScenarioNode): AgentRss {
  const agent = node.agent;
  if (!agent?.isRunning()) return { node: node.name, pid: undefined, totalKb: 0, processes: [] };
  const pm = node.postmasterPid();
  const postgres = new Set(pm === undefined ? [] : processTree(pm));
  const processes: AgentRss['processes'] = [];
  for (const pid of processTree(agent.pid)) {
    if (postgres.has(pid)) continue;
    const s = readStatus(pid);
    if (!s || s.comm === 'postgres' || s.comm.startsWith('pg_') || s.comm === 'initdb') continue;
    processes.push({ pid, ...s });
  }
  return { node: node.name, pid: agent.pid, totalKb: processes.reduce((t, p) => t + p.rssKb, 0), processes };
}

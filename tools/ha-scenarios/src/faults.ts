import { isAlive, type EtcdCluster } from '@pgtools/testkit';
import { connectSocket, dropClient } from './pg-socket.js';
import { processTree } from './process-tree.js';
import type { ScenarioNode } from './scenario-node.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function kill(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((p) => isAlive(p)) && Date.now() < deadline) await sleep(20);
  const left = pids.filter((p) => isAlive(p));
  if (left.length) throw new Error(`processes still alive after ${timeoutMs} ms: ${left.join(', ')}`);
}

/**
 * Cuts the node off the network (its link goes down: etcd, replication, HAProxy and its REST API
 * all lose it; its own unix sockets keep working). Returns the time of the cut.
 *
 * @example
 * ```ts
 * import { partitionNode, healNode } from '@pgtools/ha-scenarios';
 * const at = await partitionNode(node);
 * await healNode(node);
 * ```
 */
export async function partitionNode(node: ScenarioNode): Promise<number> {
  await node.host.partition();
  return Date.now();
}

/**
 * Reconnects a partitioned node.
 *
 * @example
 * ```ts
 * import { healNode } from '@pgtools/ha-scenarios';
 * await healNode(node);
 * ```
 */
export async function healNode(node: ScenarioNode): Promise<void> {
  await node.host.heal();
}

/**
 * Sends a signal to the node's agent process (SIGKILL, SIGSTOP, SIGCONT, SIGTERM).
 *
 * @example
 * ```ts
 * import { signalAgent } from '@pgtools/ha-scenarios';
 * signalAgent(node, 'SIGKILL');
 * ```
 */
export function signalAgent(node: ScenarioNode, signal: NodeJS.Signals): number {
  const agent = node.agent;
  if (!agent?.isRunning()) throw new Error(`${node.name}: no agent running to send ${signal} to`);
  agent.signal(signal);
  return agent.pid;
}

/**
 * Freezes the node's agent (SIGSTOP) for `ms`, then resumes it (SIGCONT): a stalled agent.
 * Resolves with the times of both signals.
 *
 * @example
 * ```ts
 * import { stallAgent } from '@pgtools/ha-scenarios';
 * const { stoppedAt, resumedAt } = await stallAgent(leader, 3000);
 * ```
 */
export async function stallAgent(node: ScenarioNode, ms: number): Promise<{ stoppedAt: number; resumedAt: number }> {
  signalAgent(node, 'SIGSTOP');
  const stoppedAt = Date.now();
  try {
    await sleep(ms);
  } finally {
    node.agent?.signal('SIGCONT');
  }
  return { stoppedAt, resumedAt: Date.now() };
}

/**
 * Sends a signal to the node's postmaster only (PID from postmaster.pid); its backends notice
 * the postmaster's death by themselves. Returns the PID signalled.
 *
 * @example
 * ```ts
 * import { signalPostmaster } from '@pgtools/ha-scenarios';
 * const pid = signalPostmaster(leader, 'SIGKILL');
 * ```
 */
export function signalPostmaster(node: ScenarioNode, signal: NodeJS.Signals = 'SIGKILL'): number {
  const pid = node.postmasterPid();
  if (pid === undefined || !kill(pid, signal)) throw new Error(`${node.name}: no running postmaster to send ${signal} to`);
  return pid;
}

/**
 * SIGKILLs one backend (what the OOM killer does): a connection of our own is opened through the
 * node's unix socket and its backend killed; PostgreSQL then restarts all backends by itself.
 *
 * @example
 * ```ts
 * import { killBackend } from '@pgtools/ha-scenarios';
 * const { pid, at } = await killBackend(leader);
 * ```
 */
export async function killBackend(node: ScenarioNode): Promise<{ pid: number; at: number }> {
  const client = await connectSocket(node, 'ha-scenarios-victim');
  try {
    const [row] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    const pid = row!.pid;
    if (!kill(pid, 'SIGKILL')) throw new Error(`${node.name}: backend ${pid} already gone`);
    return { pid, at: Date.now() };
  } finally {
    dropClient(client);
  }
}

/**
 * Power loss: the agent with its whole process tree (a fence, helpers) and the postmaster with all
 * its backends are first frozen (SIGSTOP, so none reacts to another's death) and then SIGKILLed
 * together. Waits until every one is gone. Bring the node back with `node.startAgent()`.
 *
 * @example
 * ```ts
 * import { powerLoss } from '@pgtools/ha-scenarios';
 * const { at, pids } = await powerLoss(leader);
 * leader.startAgent(); // power back on
 * ```
 */
export async function powerLoss(node: ScenarioNode): Promise<{ at: number; pids: number[] }> {
  const roots = [node.agent?.isRunning() ? node.agent.pid : undefined, node.postmasterPid()].filter((p): p is number => p !== undefined);
  const pids = [...new Set(roots.flatMap((p) => processTree(p)))];
  for (const p of pids) kill(p, 'SIGSTOP');
  // A child forked between the read and the freeze would survive: look once more.
  const more = roots.flatMap((p) => processTree(p)).filter((p) => !pids.includes(p));
  for (const p of more) kill(p, 'SIGSTOP');
  const all = [...pids, ...more];
  for (const p of all) kill(p, 'SIGKILL');
  const at = Date.now();
  await waitGone(all, 10_000);
  if (node.agent) await node.agent.exited;
  return { at, pids: all };
}

/**
 * Stops every etcd member at once (SIGTERM, data kept). Resolves, once all are stopped, with the
 * time the stop began (members stop serving within milliseconds of it).
 *
 * @example
 * ```ts
 * import { stopEtcd, startEtcdAgain } from '@pgtools/ha-scenarios';
 * const at = await stopEtcd(cluster.etcd);
 * await startEtcdAgain(cluster.etcd);
 * ```
 */
export async function stopEtcd(etcd: EtcdCluster): Promise<number> {
  const at = Date.now();
  await Promise.all(etcd.members.map((m) => m.stop()));
  return at;
}

/**
 * Starts every etcd member again (same ports and data).
 *
 * @example
 * ```ts
 * import { startEtcdAgain } from '@pgtools/ha-scenarios';
 * await startEtcdAgain(cluster.etcd);
 * ```
 */
export async function startEtcdAgain(etcd: EtcdCluster): Promise<number> {
  await Promise.all(etcd.members.map((m) => m.start()));
  return Date.now();
}

/**
 * Restarts the node's agent process: SIGTERM (a clean stop, which also stops its PostgreSQL),
 * then a new agent on the same configuration.
 *
 * @example
 * ```ts
 * import { restartAgent } from '@pgtools/ha-scenarios';
 * await restartAgent(node);
 * ```
 */
export async function restartAgent(node: ScenarioNode, timeoutMs = 30_000): Promise<number> {
  await node.stopAgent(timeoutMs);
  node.startAgent();
  return Date.now();
}

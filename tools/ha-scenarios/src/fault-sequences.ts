import { isAlive } from '@pgtools/testkit';
import { outageWindow } from './outage.js';
import { powerLoss, signalAgent, signalPostmaster } from './faults.js';
import type { SequenceContext, SequenceSpec } from './fault-sequence.js';
import type { ScenarioNode } from './scenario-node.js';
import { waitForNewPrimary } from './scenario-run.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * When the second fault comes after a postmaster crash: issue 14's runs lost the writes of exactly
 * this window when the replicas had not reconnected to the restarted primary yet.
 */
export const SECOND_FAULT_AFTER_MS = 3000;

/**
 * Polls `primary`'s `pg_stat_replication` (its own unix socket) until every node in `replicas`
 * streams from the postmaster started after `since`; resolves with that time, or undefined after
 * `timeoutMs`. Connections listed there belong to the running postmaster, so after a restart only
 * reconnected replicas show.
 *
 * @example
 * ```ts
 * import { replicasStreamingAgain } from '@pgtools/ha-scenarios';
 * const at = await replicasStreamingAgain(leader, ['node2', 'node3'], killedAt, 10_000);
 * ```
 */
export async function replicasStreamingAgain(
  primary: ScenarioNode,
  replicas: readonly string[],
  since: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const rows = await primary.query<{ name: string }>(
        "SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming' AND pg_postmaster_start_time() > to_timestamp($1 / 1000.0)",
        [since],
        1000,
      );
      if (replicas.every((r) => rows.some((row) => row.name === r))) return Date.now();
    } catch {
      // restarting: look again
    }
    await sleep(50);
  }
  return undefined;
}

/** Resolves with the time `pid` is gone (polled every 20 ms), or undefined after `timeoutMs`. */
async function exitOf(pid: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return Date.now();
    await sleep(20);
  }
  return undefined;
}

/** The leader of the converged cluster (one primary, every replica streaming). */
async function currentLeader(ctx: SequenceContext, timeoutMs = 90_000): Promise<ScenarioNode> {
  const c = await ctx.cluster.converged({ timeoutMs });
  return ctx.cluster.node(c.leader);
}

/**
 * SIGKILL of the primary's postmaster (the agent restarts it in place), the window until every
 * replica streams from it again measured into `marks`, then the second fault `SECOND_FAULT_AFTER_MS`
 * after the kill.
 */
async function crashThenSecondFault(ctx: SequenceContext, second: 'power loss' | 'agent SIGKILL', label = ''): Promise<void> {
  const leader = await currentLeader(ctx);
  const replicas = ctx.cluster.nodes.filter((n) => n !== leader).map((n) => n.name);
  signalPostmaster(leader, 'SIGKILL');
  const killed = ctx.fault('postmaster SIGKILL', leader.name);
  const streaming = await replicasStreamingAgain(leader, replicas, killed.at, SECOND_FAULT_AFTER_MS);
  ctx.marks[`${label}replicasStreamingAfterKillMs`] = streaming ? streaming - killed.at : `not within ${SECOND_FAULT_AFTER_MS} ms`;
  await sleep(Math.max(0, killed.at + SECOND_FAULT_AFTER_MS - Date.now()));
  // The writers' side of the same restart: the gap between acknowledgements through HAProxy.
  ctx.marks[`${label}crashWriteOutageMs`] = outageWindow(ctx.writer.acks, killed.at, Date.now()).outageMs;
  let secondAt: number;
  if (second === 'power loss') {
    secondAt = ctx.fault('power loss', leader.name, (await powerLoss(leader)).at).at;
  } else {
    const pm = leader.postmasterPid();
    signalAgent(leader, 'SIGKILL');
    secondAt = ctx.fault('agent SIGKILL', leader.name).at;
    // The primary keeps taking writes until the fence stops it: that stop is when a tail can be lost.
    const stopped = pm === undefined ? Date.now() : await exitOf(pm, (ctx.cluster.timings.ttl + 5) * 1000);
    if (stopped !== undefined) ctx.fault('fence stopped PostgreSQL', leader.name, stopped);
    ctx.marks[`${label}fenceStoppedAfterMs`] = stopped !== undefined ? stopped - secondAt : 'still running';
  }
  const promoted = await waitForNewPrimary(ctx, leader.name, secondAt, 60_000);
  ctx.marks[`${label}newPrimaryAfterMs`] = promoted ? promoted - secondAt : 'none in 60 s';
  await leader.agent?.exited;
  leader.startAgent();
}

/**
 * Postmaster SIGKILL on the primary, then 3 s later a power loss of the same node; the node is
 * powered on again at the end.
 *
 * @example
 * ```ts
 * import { crashThenPowerLoss, runFaultSequence } from '@pgtools/ha-scenarios';
 * const r = await runFaultSequence(cluster, crashThenPowerLoss({ lossBoundMs: 1000 }));
 * ```
 */
export function crashThenPowerLoss(o: { lossBoundMs: number }): SequenceSpec {
  return { name: 'postmaster SIGKILL, then power loss', lossBoundMs: o.lossBoundMs, run: (ctx) => crashThenSecondFault(ctx, 'power loss') };
}

/**
 * Postmaster SIGKILL on the primary, then 3 s later a SIGKILL of its agent alone (the software
 * fence stops PostgreSQL); the agent is started again at the end.
 *
 * @example
 * ```ts
 * import { crashThenAgentKill, runFaultSequence } from '@pgtools/ha-scenarios';
 * const r = await runFaultSequence(cluster, crashThenAgentKill({ lossBoundMs: 0 }));
 * ```
 */
export function crashThenAgentKill(o: { lossBoundMs: number }): SequenceSpec {
  return { name: 'postmaster SIGKILL, then agent SIGKILL', lossBoundMs: o.lossBoundMs, run: (ctx) => crashThenSecondFault(ctx, 'agent SIGKILL') };
}

/**
 * A switchover (REST `POST /switchover` to a replica), then as soon as the new primary takes writes
 * a postmaster SIGKILL on it, then 3 s later its power loss.
 *
 * @example
 * ```ts
 * import { switchoverThenCrashThenPowerLoss, runFaultSequence } from '@pgtools/ha-scenarios';
 * const r = await runFaultSequence(cluster, switchoverThenCrashThenPowerLoss({ lossBoundMs: 1000 }));
 * ```
 */
export function switchoverThenCrashThenPowerLoss(o: { lossBoundMs: number }): SequenceSpec {
  return {
    name: 'switchover, then postmaster SIGKILL, then power loss',
    lossBoundMs: o.lossBoundMs,
    run: async (ctx) => {
      const leader = await currentLeader(ctx);
      // In synchronous mode only a synchronous standby may be the candidate (as in Patroni).
      const cluster = JSON.parse((await leader.rest('GET', '/cluster')).body) as { members?: Array<{ name: string; role: string }> };
      const sync = cluster.members?.find((m) => m.role === 'sync_standby')?.name;
      const candidate = ctx.cluster.nodes.find((n) => (sync ? n.name === sync : n !== leader))!;
      const asked = ctx.fault('switchover', leader.name);
      const res = await leader.rest('POST', '/switchover', { leader: leader.name, candidate: candidate.name }, 60_000);
      ctx.marks.switchover = `${res.status} ${res.body.trim()}`;
      if (res.status !== 200) throw new Error(`switchover refused: ${res.status} ${res.body}`);
      const took = await waitForNewPrimary(ctx, leader.name, asked.at, 60_000);
      if (took === undefined) throw new Error(`${candidate.name} took no write within 60 s of the switchover`);
      await crashThenSecondFault(ctx, 'power loss', 'after switchover: ');
    },
  };
}

import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { clusterHealth, observeNodes, socketQuery } from './cluster.js';
import { runHactl } from './hactl.js';
import { setLinkUp } from './network.js';
import { canThrottle, releaseThrottle, throttle } from './cpu-throttle.js';
import { hostOf, startAgent } from './lifecycle.js';
import { measureImpact, readLog, type Impact } from './load.js';
import { isSameProcess, postmasterOf, signalIfSame, sleep, spawnDetached } from './proc.js';
import { writeState, type LabNode, type LabState } from './state.js';

/** The scenarios `lab chaos` knows. */
export const SCENARIOS = ['kill-primary', 'kill-postmaster', 'kill-agent', 'switchover', 'cpu-burn', 'partition', 'heal'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** What a chaos run did and measured (`--json` prints it). */
export interface ChaosResult {
  scenario: Scenario;
  actions: string[];
  leaderBefore: string;
  leaderAfter: string | undefined;
  faultAt: number;
  settledAfterMs: number | undefined;
  impact: Impact | undefined;
  rejoinedAfterMs: number | undefined;
  /** `partition` of the leader: when the cut-off node stopped accepting writes (seen on its unix socket). */
  isolatedWritesStoppedAfterMs?: number | undefined;
}

interface IsolationWatch {
  /** Stops watching; the time the node was first seen not writable, if it was. */
  stop(): Promise<number | undefined>;
}

/** Polls a cut-off primary through its unix socket until it is in recovery or refuses connections. */
function watchIsolatedPrimary(node: LabNode, since: number): IsolationWatch {
  let stoppedAt: number | undefined;
  let done = false;
  const loop = (async () => {
    while (!done && stoppedAt === undefined) {
      const at = Date.now();
      try {
        const [row] = await socketQuery<{ r: boolean }>(node, 'SELECT pg_is_in_recovery() AS r');
        if (row?.r) stoppedAt = at;
      } catch {
        if (at > since) stoppedAt = at;
      }
      await sleep(200);
    }
  })();
  return {
    async stop() {
      // The cut-off primary may take up to its lease to step down: give it that long after settling.
      const deadline = Date.now() + 20_000;
      while (stoppedAt === undefined && Date.now() < deadline) await sleep(200);
      done = true;
      await loop;
      return stoppedAt;
    },
  };
}

export interface ChaosOptions {
  args: string[];
  /** Restart an agent the scenario killed, once the cluster has settled without it (default true). */
  restart: boolean;
  settleTimeoutMs: number;
  out: (line: string) => void;
}

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 23);
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function waitFor<T>(timeoutMs: number, check: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await check().catch(() => undefined);
    if (r !== undefined) return r;
    await sleep(200);
  }
  return undefined;
}

async function currentLeader(state: LabState, timeoutMs: number): Promise<LabNode> {
  const names = state.nodes.filter((n) => isSameProcess(n.agent) && !state.partitioned?.includes(n.name)).map((n) => n.name);
  const leader = await waitFor(timeoutMs, async () => {
    const h = await clusterHealth(state, names);
    return h.settled ? h.leader : undefined;
  });
  if (!leader) {
    const h = await clusterHealth(state, names);
    if (!h.leader) throw new Error(`the cluster has no leader to act on (${h.reason}); see \`lab status\``);
    return state.nodes.find((n) => n.name === h.leader)!;
  }
  return state.nodes.find((n) => n.name === leader)!;
}

function nodeArg(state: LabState, name: string | undefined, fallback: LabNode): LabNode {
  if (name === undefined) return fallback;
  const node = state.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node "${name}" (nodes: ${state.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

/**
 * `lab chaos <scenario>`: does one fault, prints it, waits for the cluster to settle, then prints the
 * write outage and the acknowledged writes lost (from the load logs, when the load runs).
 *
 * @example
 * ```ts
 * const r = await chaos(readState(labDir())!, 'switchover', { args: [], restart: true, settleTimeoutMs: 120_000, out: console.log });
 * console.log(r.impact?.lost.length); // 0
 * ```
 */
export async function chaos(state: LabState, scenario: Scenario, o: ChaosOptions): Promise<ChaosResult> {
  const out = o.out;
  if ((scenario === 'partition' || scenario === 'heal') && !state.network) {
    throw Object.assign(
      new Error(
        `chaos ${scenario} needs each node on a host of its own, and this lab runs every node on 127.0.0.1 of one host. Re-create it in network namespaces (root): lab down --clean && lab up --netns`,
      ),
      { exitCode: 2 },
    );
  }
  if (scenario === 'heal' && !(state.partitioned ?? []).length)
    throw Object.assign(new Error('no node is partitioned (`lab chaos partition [node]` cuts one off)'), { exitCode: 2 });
  const partitioned = (): string[] => state.partitioned ?? [];
  // With a node cut off there may be no leader to find yet: heal must work whatever the others did.
  const leader =
    scenario === 'heal'
      ? await currentLeader(state, 5_000).catch(() => state.nodes.find((n) => !partitioned().includes(n.name))!)
      : await currentLeader(state, 30_000);
  const actions: string[] = [];
  const act = (line: string): void => {
    actions.push(line);
    out(`${clock(Date.now())} ${line}`);
  };
  const pmBefore = postmasterOf(leader.dataDir);
  let faultAt = Date.now();
  let killedAgent: LabNode | undefined;
  let expectLeader: ((name: string) => boolean) | undefined;
  let extraSettled: () => boolean = () => true;
  let isolated: IsolationWatch | undefined;
  let healed: LabNode[] = [];

  switch (scenario) {
    case 'kill-primary':
    case 'kill-agent': {
      faultAt = Date.now();
      if (signalIfSame(leader.agent, 'SIGKILL')) act(`SIGKILL ${leader.name}'s ha-agent (pid ${leader.agent.pid}) [leader]`);
      if (scenario === 'kill-primary' && pmBefore && signalIfSame(pmBefore, 'SIGKILL')) act(`SIGKILL ${leader.name}'s postmaster (pid ${pmBefore.pid})`);
      if (scenario === 'kill-agent') act(`${leader.name}'s PostgreSQL keeps running (pid ${pmBefore?.pid ?? '?'}) without its agent`);
      killedAgent = leader;
      expectLeader = (n) => n !== leader.name;
      break;
    }
    case 'kill-postmaster': {
      if (!pmBefore) throw new Error(`${leader.name} has no running postmaster`);
      faultAt = Date.now();
      signalIfSame(pmBefore, 'SIGKILL');
      act(`SIGKILL ${leader.name}'s postmaster (pid ${pmBefore.pid}) [leader]; its agent stays`);
      // Settled only once a new postmaster runs for that node (the agent restarts it in place or fails over).
      extraSettled = () => {
        const pm = postmasterOf(leader.dataDir);
        return pm !== undefined && pm.pid !== pmBefore.pid;
      };
      break;
    }
    case 'switchover': {
      const views = await observeNodes(state);
      const candidate = nodeArg(
        state,
        o.args[0],
        state.nodes.find((n) => n.name !== leader.name && views.find((v) => v.name === n.name)?.replicaCheck) ??
          state.nodes.find((n) => n.name !== leader.name)!,
      );
      const args = ['switchover', '--leader', leader.name, '--candidate', candidate.name, '--force'];
      act(`hactl -c ${state.hactlConfig} ${args.join(' ')}`);
      faultAt = Date.now();
      try {
        const r = await runHactl(state, args, 120_000);
        for (const line of r.stdout.trim().split('\n')) if (line) out(`  ${line}`);
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`hactl switchover failed: ${(e.stdout ?? '') + (e.stderr ?? '') || e.message}`);
      }
      expectLeader = (n) => n === candidate.name;
      break;
    }
    case 'partition': {
      const node = nodeArg(state, o.args[0], leader);
      if (partitioned().includes(node.name))
        throw Object.assign(new Error(`${node.name} is already cut off (\`lab chaos heal\` reconnects it)`), { exitCode: 2 });
      const wasLeader = node === leader;
      faultAt = Date.now();
      setLinkUp(state.network!, node.name, false);
      state.partitioned = [...partitioned(), node.name];
      writeState(state);
      act(
        `cut ${node.name}'s network link (${hostOf(state, node.name)})${wasLeader ? ' [leader]' : ''}: it loses etcd, the other nodes and HAProxy; its processes keep running`,
      );
      if (wasLeader) {
        // Seen through its unix socket (filesystem sockets cross namespaces): when it stops taking writes.
        isolated = watchIsolatedPrimary(node, faultAt);
        expectLeader = (n) => n !== node.name;
      }
      break;
    }
    case 'heal': {
      healed = state.nodes.filter((n) => partitioned().includes(n.name));
      faultAt = Date.now();
      for (const n of healed) setLinkUp(state.network!, n.name, true);
      state.partitioned = [];
      writeState(state);
      act(`reconnected ${healed.map((n) => n.name).join(', ')}`);
      break;
    }
    case 'cpu-burn': {
      // `cpu-burn [node] [seconds]`: a lone number is the duration, on the leader.
      const [first, second] = /^\d+(\.\d+)?$/.test(o.args[0] ?? '') ? [undefined, o.args[0]] : [o.args[0], o.args[1]];
      const node = nodeArg(state, first, leader);
      const seconds = Number(second ?? 10);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300)
        throw Object.assign(new Error('cpu-burn takes a duration of 1 to 300 seconds'), { exitCode: 2 });
      faultAt = Date.now();
      if (canThrottle() && isSameProcess(node.agent)) {
        // One node starved (its agent, postmaster and backends), as a burn on its own host would do.
        const group = throttle(`lab-${node.name}-${process.pid}`, node.agent.pid, 3);
        state.cpuGroups = [...(state.cpuGroups ?? []), group];
        writeState(state);
        act(`${node.name}'s ha-agent and PostgreSQL limited to 3% of one CPU for ${seconds} s (cgroup cpu quota)`);
        // Ctrl-C must not leave the node starved.
        const onSignal = (): void => {
          releaseThrottle(group);
          process.exit(130);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          await sleep(seconds * 1000);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          releaseThrottle(group);
          state.cpuGroups = state.cpuGroups.filter((g) => g !== group);
          writeState(state);
        }
        act(`${node.name}'s CPU limit lifted`);
      } else {
        const workers = availableParallelism();
        const marker = `pgtools-lab-burn-${Date.now()}`;
        const script = `const end = Date.now() + ${Math.round(seconds * 1000)}; while (Date.now() < end) {}`;
        state.burners = Array.from({ length: workers }, () =>
          spawnDetached(process.execPath, ['-e', script, marker], { logFile: join(state.labDir, 'burn.log'), marker }),
        );
        writeState(state);
        act(`burning ${workers} CPU(s) for ${seconds} s (no cgroup cpu controller to target ${node.name} alone: every node shares the CPUs)`);
        await sleep(seconds * 1000 + 200);
      }
      break;
    }
  }

  const settleStart = Date.now();
  const running = (): string[] => state.nodes.filter((n) => n !== killedAgent && !partitioned().includes(n.name) && isSameProcess(n.agent)).map((n) => n.name);
  const settledLeader = await waitFor(o.settleTimeoutMs, async () => {
    const h = await clusterHealth(state, running());
    if (!h.settled || !h.leader || !extraSettled()) return undefined;
    if (expectLeader && !expectLeader(h.leader)) return undefined;
    // With the load running, settled means a write got through HAProxy after the fault.
    if (state.load && isSameProcess(state.load.proc) && !readLog(state.load.writerLog).some((r) => r.seq !== undefined && r.t > Math.max(faultAt, settleStart)))
      return undefined;
    return h.leader;
  });
  const settledAt = Date.now();
  let impact: Impact | undefined;
  if (!settledLeader) {
    out(`${clock(Date.now())} the cluster did not settle within ${secs(o.settleTimeoutMs)}: ${(await clusterHealth(state, running())).reason}`);
  } else {
    out(
      `${clock(settledAt)} settled ${secs(settledAt - faultAt)} after the fault: ${settledLeader} is the leader, ${
        running()
          .filter((n) => n !== settledLeader)
          .join(', ') || 'no replica'
      } streaming`,
    );
    if (state.load && isSameProcess(state.load.proc)) {
      impact = await measureImpact(state, faultAt, settledAt);
      if (impact) {
        const window =
          impact.gapFrom !== undefined && impact.gapTo !== undefined ? ` (no write acknowledged from ${clock(impact.gapFrom)} to ${clock(impact.gapTo)})` : '';
        out(`write outage through HAProxy: ${secs(impact.outageMs)}${window}`);
        out(
          `acknowledged writes: ${impact.acknowledged}, lost: ${impact.lost.length}${impact.lost.length ? ` (seq ${impact.lost.slice(0, 10).join(', ')}${impact.lost.length > 10 ? ', ...' : ''})` : ''}`,
        );
      }
    } else {
      out('(no load running: `lab load start` first to measure the outage and lost writes)');
    }
  }

  let isolatedWritesStoppedAfterMs: number | undefined;
  if (isolated) {
    const stoppedAt = await isolated.stop();
    isolatedWritesStoppedAfterMs = stoppedAt === undefined ? undefined : stoppedAt - faultAt;
    out(
      stoppedAt === undefined
        ? `${leader.name} (cut off) still accepts writes on its own socket: nothing from HAProxy reaches it, but check its agent log (${leader.agent.logFile})`
        : `${leader.name} (cut off) stopped accepting writes ${secs(stoppedAt - faultAt)} after the cut${settledLeader ? `, ${secs(settledAt - stoppedAt)} before the cluster settled on ${settledLeader}` : ''}; \`lab chaos heal\` reconnects it`,
    );
  }
  let rejoinedAfterMs: number | undefined;
  if (healed.length && settledLeader) {
    rejoinedAfterMs = settledAt - faultAt;
    const views = await observeNodes(state);
    for (const n of healed) {
      const v = views.find((x) => x.name === n.name);
      out(`${n.name} rejoined as ${v?.role ?? 'unknown'} on timeline ${v?.timeline ?? '?'} (leader ${settledLeader})`);
    }
  }
  if (killedAgent && o.restart) {
    const restartAt = Date.now();
    startAgent(state, killedAgent);
    out(`${clock(restartAt)} restarted ${killedAgent.name}'s ha-agent (pid ${killedAgent.agent.pid}) so it rejoins`);
    const all = state.nodes.map((n) => n.name);
    const ok = await waitFor(o.settleTimeoutMs, async () => ((await clusterHealth(state, all)).settled ? true : undefined));
    if (ok) {
      rejoinedAfterMs = Date.now() - restartAt;
      out(`${clock(Date.now())} ${killedAgent.name} rejoined as a replica after ${secs(rejoinedAfterMs)}`);
    } else {
      out(
        `${killedAgent.name} has not rejoined within ${secs(o.settleTimeoutMs)}: ${(await clusterHealth(state, all)).reason}; see ${killedAgent.agent.logFile}, or re-create it: lab reinit ${killedAgent.name}`,
      );
    }
  } else if (killedAgent) {
    out(`${killedAgent.name}'s ha-agent stays down; \`lab up\` restarts it`);
  }
  return {
    scenario,
    actions,
    leaderBefore: leader.name,
    leaderAfter: settledLeader,
    faultAt,
    settledAfterMs: settledLeader ? settledAt - faultAt : undefined,
    impact,
    rejoinedAfterMs,
    isolatedWritesStoppedAfterMs,
  };
}

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { deployPackage, freePort, serverUser } from '@pgtools/testkit';
import { clusterHealth, nodeQuery, observeNodes } from './cluster.js';
import { releaseThrottle } from './cpu-throttle.js';
import { agentConfigYaml, binPaths, etcdBinary, hactlConfigYaml, labHaproxyConfig, type Timings } from './layout.js';
import { createLabNetwork, existingNamespaces, netnsUnavailable, planNetwork, removeLabNetwork, setLinkUp } from './network.js';
import { isSameProcess, postmasterOf, sleep, spawnDetached, stopProcess } from './proc.js';
import { labDir, readState, writeState, type LabNode, type LabState } from './state.js';

/** Options of `lab up`. */
export interface UpOptions {
  etcdMembers: 1 | 3;
  timings: Timings;
  tightHaproxy: boolean;
  /** Each node on a host of its own, in network namespaces (root): needed by `chaos partition`. */
  netns?: boolean;
  out: (line: string) => void;
  /** How long to wait for one leader and two streaming replicas. */
  timeoutMs?: number;
}

const SCOPE = 'lab';

function plan(dir: string, o: UpOptions, ports: number[]): LabState {
  const take = (): number => ports.shift()!;
  const user = serverUser();
  // As root the agents run as the postgres OS user: their directories go where that user can reach them.
  let agentsDir: string | undefined;
  if (user) {
    agentsDir = mkdtempSync(join(tmpdir(), 'pgtools-lab-'));
    chmodSync(agentsDir, 0o755);
  }
  const etcd = Array.from({ length: o.etcdMembers }, (_, i) => ({
    name: `etcd${i + 1}`,
    clientPort: take(),
    peerPort: take(),
    proc: { pid: 0, startTime: '', marker: '', logFile: '' },
  }));
  const nodes: LabNode[] = [1, 2, 3].map((i) => {
    const nodeDir = join(agentsDir ?? dir, `node${i}`);
    return {
      name: `node${i}`,
      dir: nodeDir,
      dataDir: join(nodeDir, 'data'),
      configFile: join(nodeDir, 'ha-agent.yml'),
      pgPort: take(),
      apiPort: take(),
      agent: { pid: 0, startTime: '', marker: '', logFile: '' },
    };
  });
  return {
    version: 1,
    labDir: dir,
    scope: SCOPE,
    createdAt: new Date().toISOString(),
    timings: o.timings,
    os: user ? { user: user.name, uid: user.uid, gid: user.gid } : undefined,
    etcd,
    nodes,
    haproxy: {
      configFile: join(dir, 'haproxy.cfg'),
      writerPort: take(),
      readerPort: take(),
      statsPort: take(),
      tight: o.tightHaproxy,
      proc: { pid: 0, startTime: '', marker: '', logFile: '' },
    },
    hactlConfig: join(dir, 'hactl.yml'),
    ...(agentsDir ? { agentsDir } : {}),
    ...(o.netns
      ? {
          network: planNetwork(
            dir,
            nodes.map((n) => n.name),
          ),
        }
      : {}),
  };
}

/**
 * Where a node's servers listen: its host address in the lab network, else 127.0.0.1. Ports are
 * the same either way (in the network HAProxy forwards 127.0.0.1:port to the node's port).
 *
 * @example
 * ```ts
 * hostOf(state, 'node1'); // '127.0.0.1', or '10.252.0.1' with --netns
 * ```
 */
export function hostOf(state: LabState, nodeName: string): string {
  return state.network?.hosts.find((h) => h.name === nodeName)?.address ?? '127.0.0.1';
}

/** etcd member i runs on node i's host (the seed's layout); with one member, on node1's. */
const etcdHostOf = (state: LabState, i: number): { host: string; netns: string | undefined } => {
  const h = state.network?.hosts[i];
  return { host: h?.address ?? '127.0.0.1', netns: h?.netns };
};

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; ports.size < n && i < n * 10; i++) ports.add(await freePort());
  if (ports.size < n) throw new Error('could not find free loopback ports');
  return [...ports];
}

function writeFiles(state: LabState): void {
  const etcdHosts = state.etcd.map((e, i) => `${etcdHostOf(state, i).host}:${e.clientPort}`);
  const net = state.network;
  mkdirSync(join(state.labDir, 'etcd'), { recursive: true });
  mkdirSync(join(state.labDir, 'load'), { recursive: true });
  for (const node of state.nodes) {
    mkdirSync(node.dir, { recursive: true });
    const where = net ? { host: hostOf(state, node.name), hbaNet: `${net.subnet}.0/24` } : {};
    writeFileSync(
      node.configFile,
      agentConfigYaml({
        scope: state.scope,
        name: node.name,
        dir: node.dir,
        ...where,
        pgPort: node.pgPort,
        apiPort: node.apiPort,
        etcdHosts,
        timings: state.timings,
      }),
      { mode: 0o600 },
    );
    chmodSync(node.configFile, 0o600);
    if (state.os) {
      // PostgreSQL runs as the postgres OS user: it must own its node directory, and nobody else may read it.
      chownSync(node.dir, state.os.uid, state.os.gid);
      chownSync(node.configFile, state.os.uid, state.os.gid);
    }
    chmodSync(node.dir, 0o700);
  }
  writeFileSync(state.hactlConfig, hactlConfigYaml(state.scope, etcdHosts));
  const forwards = net
    ? [
        ...state.nodes.flatMap((n) => [
          { name: `${n.name}-pg`, port: n.pgPort, host: hostOf(state, n.name) },
          { name: `${n.name}-api`, port: n.apiPort, host: hostOf(state, n.name) },
        ]),
        ...state.etcd.map((e, i) => ({ name: e.name, port: e.clientPort, host: etcdHostOf(state, i).host })),
      ]
    : [];
  const nodes = state.nodes.map((n) => ({ ...n, host: hostOf(state, n.name) }));
  writeFileSync(
    state.haproxy.configFile,
    labHaproxyConfig(nodes, state.haproxy, state.haproxy.tight, net ? { clientNetns: net.client.netns, forwards } : undefined),
  );
}

/** The ha-agent the nodes run: the checkout's, or (as root) the copy in the agents' directory. */
function agentBin(state: LabState): string {
  return state.agentsDir ? join(state.agentsDir, 'runtime', 'bin', 'ha-agent.js') : binPaths().haAgent;
}

/** Copies the built ha-agent with its dependencies where the postgres OS user can run it (`lab down` removes it). */
function ensureRuntime(state: LabState, out: (line: string) => void): void {
  if (!state.agentsDir || existsSync(agentBin(state))) return;
  const runtime = join(state.agentsDir, 'runtime');
  rmSync(runtime, { recursive: true, force: true });
  deployPackage('@pgtools/ha-agent-cli', runtime);
  out(`copied ha-agent and its dependencies to ${runtime} (the agents run from there as ${state.os?.user ?? 'postgres'})`);
}

/** Refuses early, with what to do, when the postgres OS user cannot reach the lab or the agent's code. */
function checkAgentUser(state: LabState): void {
  if (!state.os) return;
  const { uid, gid } = state.os;
  const bin = agentBin(state);
  const run = spawnSync(process.execPath, [bin, '--version'], { uid, gid, encoding: 'utf8', cwd: '/' });
  if (run.status !== 0) {
    throw new Error(
      `the ha-agents run as the OS user "${state.os.user}", who cannot run ${bin}:\n${(run.stderr || run.error?.message || '').trim()}\nMake the checkout readable by that user (its parent directories need o+x), or run the lab as a non-root user.`,
    );
  }
  const probe = spawnSync('test', ['-w', state.nodes[0]!.dir], { uid, gid });
  if (probe.status !== 0) {
    throw new Error(
      `the OS user "${state.os.user}" cannot write ${state.nodes[0]!.dir}: the directories above ${state.labDir} need o+x. Run the lab from a directory such as /tmp/lab, or set PGTOOLS_LAB_DIR.`,
    );
  }
}

/**
 * Starts (or restarts) a node's ha-agent as the PostgreSQL OS user.
 *
 * @example
 * ```ts
 * startAgent(state, state.nodes[0]!); // state.json now records the new PID
 * ```
 */
export function startAgent(state: LabState, node: LabNode): void {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: node.dir };
  delete env.PGPASSWORD;
  node.agent = spawnDetached(process.execPath, [agentBin(state), node.configFile], {
    logFile: join(node.dir, 'ha-agent.log'),
    marker: node.configFile,
    env,
    cwd: node.dir,
    ...(state.os ? { uid: state.os.uid, gid: state.os.gid } : {}),
    ...(state.network ? { netns: state.network.hosts.find((h) => h.name === node.name)!.netns } : {}),
  });
  writeState(state);
}

function startEtcdMember(state: LabState, member: LabState['etcd'][number]): void {
  const initialCluster = state.etcd.map((e, i) => `${e.name}=http://${etcdHostOf(state, i).host}:${e.peerPort}`).join(',');
  const dataDir = join(state.labDir, 'etcd', member.name);
  const { host, netns } = etcdHostOf(state, state.etcd.indexOf(member));
  const client = `http://${host}:${member.clientPort}`;
  const peer = `http://${host}:${member.peerPort}`;
  member.proc = spawnDetached(
    etcdBinary(),
    [
      '--name',
      member.name,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-token',
      `pgtools-lab-${state.createdAt}`,
      '--initial-cluster-state',
      'new',
      '--heartbeat-interval',
      '100',
      '--election-timeout',
      '1000',
      '--log-level',
      'warn',
    ],
    { logFile: join(state.labDir, 'etcd', `${member.name}.log`), marker: dataDir, ...(netns ? { netns } : {}) },
  );
  writeState(state);
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<string | true>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await check().catch((e: Error) => e.message);
    if (r === true) return;
    last = r;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}: ${last}`);
    await sleep(250);
  }
}

function startHaproxy(state: LabState): void {
  try {
    execFileSync('haproxy', ['-c', '-q', '-f', state.haproxy.configFile], { stdio: 'pipe' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('HAProxy not found: install it (apt-get install haproxy, or bash tools/scripts/setup.sh)');
    throw new Error(`HAProxy refused ${state.haproxy.configFile}: ${e.stderr?.toString().trim() ?? e.message}`);
  }
  state.haproxy.proc = spawnDetached('haproxy', ['-db', '-f', state.haproxy.configFile], {
    logFile: join(state.labDir, 'haproxy.log'),
    marker: state.haproxy.configFile,
  });
  writeState(state);
}

/**
 * Which recorded processes are still running.
 *
 * @example
 * ```ts
 * const live = liveness(readState(labDir())!);
 * console.log(live.agents); // [true, true, true]
 * ```
 */
export function liveness(state: LabState): { etcd: boolean[]; agents: boolean[]; haproxy: boolean; load: boolean } {
  return {
    etcd: state.etcd.map((e) => isSameProcess(e.proc)),
    agents: state.nodes.map((n) => isSameProcess(n.agent)),
    haproxy: isSameProcess(state.haproxy.proc),
    load: state.load ? isSameProcess(state.load.proc) : false,
  };
}

/**
 * `lab up`: starts whatever of the lab is not running (everything on a fresh directory), waits for
 * one leader and two streaming replicas, and prints how to reach it. On a running lab it says so.
 *
 * @example
 * ```ts
 * await up({ etcdMembers: 3, timings: { ttl: 10, loopWait: 2, retryTimeout: 4 }, tightHaproxy: false, out: console.log });
 * ```
 */
export async function up(o: UpOptions): Promise<LabState> {
  const dir = labDir();
  let state = readState(dir);
  if (state && o.netns !== undefined && o.netns !== (state.network !== undefined)) {
    throw Object.assign(
      new Error(
        `the lab in ${dir} runs ${state.network ? 'in network namespaces' : 'on 127.0.0.1 without namespaces'}; \`lab down --clean\` first to re-create it ${o.netns ? 'with' : 'without'} --netns`,
      ),
      { exitCode: 2 },
    );
  }
  if (state) {
    const live = liveness(state);
    if (live.etcd.every(Boolean) && live.agents.every(Boolean) && live.haproxy) {
      o.out(`The lab in ${dir} is already running (nothing started).`);
      printSummary(state, o.out);
      return state;
    }
    o.out(`Restarting what is not running of the lab in ${dir}.`);
  } else {
    if (o.netns) {
      const why = netnsUnavailable();
      if (why) throw Object.assign(new Error(`--netns: ${why}`), { exitCode: 2 });
    }
    mkdirSync(dir, { recursive: true });
    state = plan(dir, o, await distinctFreePorts(o.etcdMembers * 2 + 6 + 3));
    writeFiles(state);
    writeState(state);
  }
  ensureRuntime(state, o.out);
  checkAgentUser(state);
  if (state.network) {
    createLabNetwork(state.network);
    // A host cut off by an earlier `chaos partition` stays cut until `chaos heal`.
    for (const name of state.partitioned ?? []) setLinkUp(state.network, name, false);
    o.out(
      `network: ${state.network.hosts.map((h) => `${h.name} ${h.address}`).join(', ')}, HAProxy connects from ${state.network.client.address} (namespaces ${state.network.switchNs.replace(/-sw$/, '')}-*)`,
    );
  }
  const live = liveness(state);
  // HAProxy first: in the lab network it is also this host's way to the etcd members' ports.
  if (!live.haproxy) startHaproxy(state);
  state.etcd.forEach((m, i) => {
    if (!live.etcd[i]) startEtcdMember(state, m);
  });
  await waitUntil('etcd', 30_000, async () => {
    for (const m of state.etcd) {
      if (!isSameProcess(m.proc)) throw new Error(`etcd ${m.name} exited; see ${m.proc.logFile}`);
      const res = await fetch(`http://127.0.0.1:${m.clientPort}/health`, { signal: AbortSignal.timeout(1000) });
      if (((await res.json()) as { health?: string }).health !== 'true') return `${m.name} not healthy`;
    }
    return true;
  });
  o.out(`etcd: ${state.etcd.length} member(s) healthy`);
  state.nodes.forEach((n, i) => {
    if (!live.agents[i]) startAgent(state, n);
  });
  o.out('ha-agents and HAProxy started; waiting for one leader and two streaming replicas ...');
  const names = state.nodes.map((n) => n.name);
  await waitUntil('the cluster', o.timeoutMs ?? 180_000, async () => {
    for (const n of state.nodes) if (!isSameProcess(n.agent)) throw new Error(`${n.name}'s ha-agent exited; see ${n.agent.logFile}`);
    if (!isSameProcess(state.haproxy.proc)) throw new Error(`HAProxy exited; see ${state.haproxy.proc.logFile}`);
    const h = await clusterHealth(state, names);
    return h.settled ? true : h.reason;
  });
  // HAProxy marks servers up only after `rise` good checks: wait until both ports serve a query.
  await waitUntil('HAProxy', 60_000, async () => {
    for (const [what, port] of [
      ['writer', state.haproxy.writerPort],
      ['reader', state.haproxy.readerPort],
    ] as const) {
      try {
        await nodeQuery(port, 'SELECT 1');
      } catch (err) {
        return `the ${what} port ${port} does not serve yet (${(err as Error).message})`;
      }
    }
    return true;
  });
  printSummary(state, o.out);
  return state;
}

/**
 * Ports, connection strings and next commands.
 *
 * @example
 * ```ts
 * printSummary(readState(labDir())!, console.log);
 * ```
 */
export function printSummary(state: LabState, out: (line: string) => void): void {
  const t = state.timings;
  const rel = relative(process.cwd(), state.hactlConfig) || state.hactlConfig;
  const { hactl } = binPaths();
  out(
    `pgtools lab (scope "${state.scope}", ttl ${t.ttl} / loop_wait ${t.loopWait} / retry_timeout ${t.retryTimeout}, HAProxy ${state.haproxy.tight ? 'tight: inter 1s fall 2 rise 1' : 'seed: inter 3s fall 3 rise 2'})`,
  );
  if (state.network)
    out(
      `  network   each node on a host of its own (${state.network.hosts.map((h) => `${h.name} ${h.address}`).join(', ')}); this host reaches every port below through HAProxy`,
    );
  out(`  etcd      ${state.etcd.map((e) => `127.0.0.1:${e.clientPort}`).join(', ')}`);
  for (const n of state.nodes)
    out(`  ${n.name.padEnd(9)} postgresql://postgres:postgres@127.0.0.1:${n.pgPort}/postgres   REST http://127.0.0.1:${n.apiPort}/patroni`);
  out(`  writer    postgresql://postgres:postgres@127.0.0.1:${state.haproxy.writerPort}/postgres   (HAProxy -> the primary)`);
  out(`  reader    postgresql://postgres:postgres@127.0.0.1:${state.haproxy.readerPort}/postgres   (HAProxy -> the replicas, round robin)`);
  out(`  stats     http://127.0.0.1:${state.haproxy.statsPort}/`);
  out('Inspect:');
  if (state.network) out(`  pnpm lab hactl list        (hactl -c ${rel} run on the client host of the lab network)`);
  else out(`  pnpm exec hactl -c ${rel} list        (outside the repository: node ${hactl} -c ${state.hactlConfig} list)`);
  out(`Next: lab status | lab watch | lab load start | lab chaos switchover${state.network ? ' | lab chaos partition [node]' : ''} | lab down [--clean]`);
}

/**
 * `lab down`: stops every recorded process by PID (load, HAProxy, agents, orphan postmasters, etcd); `clean` removes the lab directory.
 *
 * @example
 * ```ts
 * await down({ clean: true, out: console.log });
 * ```
 */
export async function down(o: { clean: boolean; out: (line: string) => void }): Promise<void> {
  const dir = labDir();
  const state = readState(dir);
  if (!state) {
    o.out(`No lab recorded in ${dir}.`);
  } else {
    if (state.load && (await stopProcess(state.load.proc, 'SIGTERM', 10_000))) o.out(`stopped the load generator (pid ${state.load.proc.pid})`);
    // Asked before HAProxy stops: in the lab network the REST APIs are reached through it.
    const leaders = new Set((await observeNodes(state)).filter((v) => v.primaryCheck || v.role === 'master').map((v) => v.name));
    if (await stopProcess(state.haproxy.proc, 'SIGTERM', 10_000)) o.out(`stopped HAProxy (pid ${state.haproxy.proc.pid})`);
    for (const burner of state.burners ?? []) await stopProcess(burner, 'SIGKILL', 5_000);
    for (const group of state.cpuGroups ?? []) releaseThrottle(group);
    // Replicas first, so the leader's clean stop does not trigger a failover onto a node about to stop.
    for (const group of [state.nodes.filter((n) => !leaders.has(n.name)), state.nodes.filter((n) => leaders.has(n.name))]) {
      const stops = await Promise.all(group.map(async (n) => [n, await stopProcess(n.agent, 'SIGTERM', 60_000)] as const));
      for (const [n, was] of stops) if (was) o.out(`stopped ${n.name}'s ha-agent (pid ${n.agent.pid}) and its PostgreSQL`);
    }
    for (const n of state.nodes) {
      // A postmaster left behind by a SIGKILLed agent (kill-agent chaos) is stopped too: fast shutdown.
      const pm = postmasterOf(n.dataDir);
      if (pm && (await stopProcess(pm, 'SIGINT', 30_000))) o.out(`stopped ${n.name}'s orphan postmaster (pid ${pm.pid})`);
    }
    for (const m of state.etcd) if (await stopProcess(m.proc, 'SIGTERM', 10_000)) o.out(`stopped ${m.name} (pid ${m.proc.pid})`);
    if (state.agentsDir && existsSync(join(state.agentsDir, 'runtime'))) {
      rmSync(join(state.agentsDir, 'runtime'), { recursive: true, force: true });
      o.out(`removed the agents' copy of ha-agent from ${state.agentsDir}`);
    }
    if (state.network) {
      const removed = removeLabNetwork(state.network);
      if (removed.length) o.out(`removed network namespaces ${removed.join(', ')}`);
      const left = [...existingNamespaces()].filter((ns) => ns.startsWith(state.network!.switchNs.replace(/-sw$/, '-')));
      if (left.length) o.out(`could not remove network namespaces ${left.join(', ')}: \`ip netns del <name>\` once nothing runs in them`);
    }
  }
  if (o.clean && state?.agentsDir && existsSync(state.agentsDir)) {
    rmSync(state.agentsDir, { recursive: true, force: true });
    o.out(`removed ${state.agentsDir}`);
  }
  if (o.clean && existsSync(dir)) {
    rmSync(dir, { recursive: true, force: true });
    o.out(`removed ${dir}`);
  }
}

/**
 * `lab reinit <node>`: re-creates a replica from the leader the blunt way (the agent does not
 * implement `POST /reinitialize` yet): stop its agent and PostgreSQL by PID, empty the data
 * directory, start the agent again, which clones from the leader.
 *
 * @example
 * ```ts
 * await reinit(readState(labDir())!, 'node2', console.log);
 * ```
 */
export async function reinit(state: LabState, name: string, out: (line: string) => void): Promise<void> {
  const node = state.nodes.find((n) => n.name === name);
  if (!node) throw Object.assign(new Error(`no node "${name}" (nodes: ${state.nodes.map((n) => n.name).join(', ')})`), { exitCode: 2 });
  const views = await observeNodes(state);
  if (views.find((v) => v.name === name)?.primaryCheck)
    throw Object.assign(new Error(`${name} is the leader: switch over first (lab chaos switchover)`), { exitCode: 2 });
  if (await stopProcess(node.agent, 'SIGTERM', 60_000)) out(`stopped ${name}'s ha-agent (pid ${node.agent.pid})`);
  const pm = postmasterOf(node.dataDir);
  if (pm && (await stopProcess(pm, 'SIGINT', 30_000))) out(`stopped ${name}'s postmaster (pid ${pm.pid})`);
  rmSync(node.dataDir, { recursive: true, force: true });
  out(`removed ${node.dataDir}`);
  startAgent(state, node);
  out(`started ${name}'s ha-agent (pid ${node.agent.pid}); waiting for it to clone and stream ...`);
  await waitUntil(`${name} to stream`, 180_000, async () => {
    if (!isSameProcess(node.agent)) throw new Error(`${name}'s ha-agent exited; see ${node.agent.logFile}`);
    const h = await clusterHealth(
      state,
      state.nodes.map((n) => n.name),
    );
    return h.settled ? true : h.reason;
  });
  out(`${name} is streaming again`);
}

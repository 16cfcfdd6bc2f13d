import { spawn } from 'node:child_process';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, makeTempDir, startPostgres, type PgCluster, type TempDir } from '@pgtools/testkit';
import { startFence, type FenceEvent } from '../src/index.js';
import { processGroupMembers } from '../src/fence/proc-stat.js';
import { ensureBuilt, startAgent, type AgentChild, type AgentConfig } from './agent-child.js';

// Real PostgreSQL 15, a real agent stand-in (a separate Node process) and the real sh fence it
// starts. The agent runs as PostgreSQL's OS user, like the HA agent, so the fence does too.

let cluster: PgCluster;
let tmp: TempDir;
let logFile: string;
const agents: AgentChild[] = [];
const clients: pg.Client[] = [];

beforeAll(async () => {
  ensureBuilt();
  cluster = await startPostgres({ name: 'fence' });
  tmp = await makeTempDir('fence', cluster.user);
  logFile = join(tmp.path, 'fence.log');
  writeFileSync(logFile, '');
  // The fence runs as PostgreSQL's user and appends to this file.
  if (cluster.user) chownSync(logFile, cluster.user.uid, cluster.user.gid);
});

afterEach(async () => {
  for (const a of agents.splice(0)) {
    if (a.child.exitCode === null && a.child.signalCode === null) {
      a.child.kill('SIGCONT');
      a.send('stop');
      await Promise.race([a.exit, sleep(5000)]);
      if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    }
    // The fence's own process group, by its id, if anything of it is left.
    if (processGroupMembers(a.fencePid).length > 0) process.kill(-a.fencePid, 'SIGKILL');
  }
  await Promise.allSettled(clients.splice(0).map((c) => c.end()));
  writeFileSync(logFile, '');
});

afterAll(async () => {
  await cluster?.destroy();
  tmp?.remove();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await predicate()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function ensurePostgres(): Promise<number> {
  if (!cluster.process.isRunning()) await cluster.start();
  return cluster.process.pid;
}

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ ...cluster.clientConfig(), connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  await c.connect();
  clients.push(c);
  return c;
}

async function answers(): Promise<boolean> {
  const c = new pg.Client({ ...cluster.clientConfig(), connectionTimeoutMillis: 2000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function agent(config: AgentConfig): Promise<AgentChild> {
  const a = await startAgent({ logFile, ...config }, cluster.user);
  agents.push(a);
  return a;
}

const fenceLog = (): string => readFileSync(logFile, 'utf8');

describe('software fence against a real PostgreSQL', () => {
  it('(1) agent SIGKILLed while armed: PostgreSQL stopped within the deadline, no backend survives', async () => {
    const pm = await ensurePostgres();
    const client = await connect();
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const before = childrenOf(pm);
    expect(before).toContain(backend);
    const timeoutMs = 2000;
    const a = await agent({ timeoutMs, quitGraceMs: 1000, keepaliveMs: 300, dataDir: cluster.dataDir, postmasterPid: pm });
    await a.waitLine((l) => l === `ARMED ${pm}`);

    const t0 = performance.now();
    a.child.kill('SIGKILL');
    const stoppedAfter = await waitUntil(() => !isAlive(pm) && before.every((p) => !isAlive(p)), 10_000);
    expect(performance.now() - t0).toBeLessThan(timeoutMs);
    console.log(`fence: PostgreSQL stopped ${Math.round(stoppedAfter)} ms after the agent's SIGKILL (deadline ${timeoutMs} ms)`);

    expect(before.filter((p) => isAlive(p))).toEqual([]);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(await answers()).toBe(false);
    // Its work done and its agent gone, the fence leaves too (after writing its report).
    await waitUntil(() => processGroupMembers(a.fencePid).length === 0, 5000);
    expect(fenceLog()).toMatch(new RegExp(`fencing ${pm} agent_gone`));
    expect(fenceLog()).toMatch(new RegExp(`fenced ${pm} SIG(QUIT|KILL)`));
  });

  it('(2) agent hung (SIGSTOP): fenced after the timeout, not before', async () => {
    const pm = await ensurePostgres();
    const client = await connect();
    const timeoutMs = 2000;
    const keepaliveMs = 200;
    const a = await agent({ timeoutMs, quitGraceMs: 1000, keepaliveMs, dataDir: cluster.dataDir, postmasterPid: pm });
    await a.waitLine((l) => l === `ARMED ${pm}`);
    await sleep(600);

    const t0 = performance.now();
    a.child.kill('SIGSTOP');
    await sleep(timeoutMs / 2);
    expect(isAlive(pm)).toBe(true);
    expect(await answers()).toBe(true);
    expect((await client.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });

    await waitUntil(() => !isAlive(pm), 10_000);
    const elapsed = performance.now() - t0;
    // The last keepalive came about one interval before the stop (plus timer jitter on shared
    // cores); the exact check is the fence's own clock below.
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - keepaliveMs - 300);
    const fencing = new RegExp(`fencing ${pm} timeout (\\d+)`).exec(fenceLog());
    expect(fencing).not.toBeNull();
    expect(Number(fencing![1])).toBeGreaterThanOrEqual(timeoutMs);
    console.log(`fence: hung agent fenced ${Math.round(elapsed)} ms after SIGSTOP (${fencing![1]} ms after the last keepalive)`);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(await answers()).toBe(false);

    // Woken up, the agent learns what happened; the fence is still there for it, disarmed.
    a.child.kill('SIGCONT');
    await a.waitLine((l) => l.startsWith('EVENT ') && l.includes('"type":"fenced"'));
    expect(a.events().find((e) => e.type === 'fencing')).toMatchObject({ postmasterPid: pm, reason: 'timeout' });
    expect(isAlive(a.fencePid)).toBe(true);
    a.send('stop');
    expect(await a.exit).toEqual({ code: 0, signal: null });
    await waitUntil(() => processGroupMembers(a.fencePid).length === 0, 5000);
  });

  it('(3) disarm then clean exit, or SIGTERM: PostgreSQL keeps running and the fence is gone', async () => {
    const pm = await ensurePostgres();
    const client = await connect();
    const cfg = { timeoutMs: 2000, quitGraceMs: 500, keepaliveMs: 200, dataDir: cluster.dataDir, postmasterPid: pm };

    const a = await agent(cfg);
    await a.waitLine((l) => l === `ARMED ${pm}`);
    a.send('disarm');
    await a.waitLine((l) => l === 'DISARMED');
    a.send('stop');
    expect(await a.exit).toEqual({ code: 0, signal: null });
    expect(processGroupMembers(a.fencePid)).toEqual([]);

    // The agent's SIGTERM handler (upgrade, systemctl stop) disarms and stops the fence.
    const b = await agent(cfg);
    await b.waitLine((l) => l === `ARMED ${pm}`);
    b.child.kill('SIGTERM');
    expect(await b.exit).toEqual({ code: 0, signal: null });
    expect(processGroupMembers(b.fencePid)).toEqual([]);

    // Disarmed (paused), then the agent dies: the fence just leaves.
    const c = await agent(cfg);
    await c.waitLine((l) => l === `ARMED ${pm}`);
    c.send('disarm');
    await c.waitLine((l) => l === 'DISARMED');
    c.child.kill('SIGKILL');
    await waitUntil(() => processGroupMembers(c.fencePid).length === 0, 5000);

    await sleep(cfg.timeoutMs + 500);
    expect(cluster.process.pid).toBe(pm);
    expect(isAlive(pm)).toBe(true);
    expect((await client.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    expect(fenceLog()).not.toMatch(/fencing/);
  });

  it('(4) keepalives keep PostgreSQL running well past the timeout; (6) fence memory', async () => {
    const pm = await ensurePostgres();
    const client = await connect();
    const timeoutMs = 2000;
    const a = await agent({ timeoutMs, keepaliveMs: 200, dataDir: cluster.dataDir, postmasterPid: pm });
    await a.waitLine((l) => l === `ARMED ${pm}`);
    await sleep(timeoutMs * 3.5);
    expect(isAlive(pm)).toBe(true);
    expect((await client.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    expect(a.events().some((e) => e.type === 'fencing')).toBe(false);

    a.send('mem');
    const mem = JSON.parse((await a.waitLine((l) => l.startsWith('MEM '))).slice(4)) as { processes: number; rssKb: number; pssKb?: number };
    console.log(`fence memory: ${mem.processes} processes, RSS ${mem.rssKb} kB total, PSS ${mem.pssKb ?? '?'} kB`);
    expect(mem.processes).toBeGreaterThanOrEqual(3);
    // "A few MB": a handful of dash processes, not a second Node runtime (Node alone is ~40 MB).
    expect(mem.rssKb).toBeLessThan(12 * 1024);
    a.send('stop');
    expect(await a.exit).toEqual({ code: 0, signal: null });
  });

  it('(5a) PostgreSQL restarted by someone else (new postmaster PID): the new postmaster is never signalled', async () => {
    const oldPm = await ensurePostgres();
    const a = await agent({ timeoutMs: 1000, keepaliveMs: 200, dataDir: cluster.dataDir, postmasterPid: oldPm });
    await a.waitLine((l) => l === `ARMED ${oldPm}`);
    await cluster.restart();
    const newPm = cluster.process.pid;
    expect(newPm).not.toBe(oldPm);
    a.child.kill('SIGKILL');
    await waitUntil(() => processGroupMembers(a.fencePid).length === 0, 5000);
    expect(fenceLog()).toMatch(new RegExp(`skip ${oldPm} (postmaster_gone|pid_reused)`));
    expect(isAlive(newPm)).toBe(true);
    expect(await answers()).toBe(true);
    // The agent's side refuses a live PID that is not the data dir's postmaster.
    const b = await agent({ timeoutMs: 1000, keepaliveMs: 200, dataDir: cluster.dataDir, postmasterPid: process.pid });
    await b.waitLine((l) => l.startsWith('ERROR fence_invalid_postmaster'));
  });

  it('(5b) a reused PID (same number, another process) is never signalled', async () => {
    const user = cluster.user;
    const spawnSleep = () => spawn('sleep', ['30'], { stdio: 'ignore', ...(user ? { uid: user.uid, gid: user.gid } : {}) });
    const first = spawnSleep();
    const pid = first.pid!;
    const a = await agent({ timeoutMs: 1000, keepaliveMs: 200, postmasterPid: pid });
    await a.waitLine((l) => l === `ARMED ${pid}`);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    // Make the kernel hand out the same PID again (root only; other processes may race us).
    let second: ReturnType<typeof spawnSleep> | undefined;
    for (let i = 0; i < 30 && second === undefined; i++) {
      try {
        writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
      } catch {
        break;
      }
      const candidate = spawnSleep();
      if (candidate.pid === pid) second = candidate;
      else candidate.kill('SIGKILL');
    }
    if (second === undefined) {
      console.log('fence: could not reuse the PID (not root or raced); pid_reused path not exercised');
      return;
    }
    try {
      a.child.kill('SIGKILL');
      await waitUntil(() => processGroupMembers(a.fencePid).length === 0, 5000);
      expect(fenceLog()).toMatch(new RegExp(`skip ${pid} pid_reused`));
      expect(isAlive(pid)).toBe(true);
    } finally {
      second.kill('SIGKILL');
    }
  });

  it('SIGQUIT not obeyed (postmaster frozen): SIGKILL of the postmaster and of every backend', async () => {
    const pm = await ensurePostgres();
    const client = await connect();
    const before = childrenOf(pm);
    const a = await agent({ timeoutMs: 2000, quitGraceMs: 500, keepaliveMs: 200, dataDir: cluster.dataDir, postmasterPid: pm });
    await a.waitLine((l) => l === `ARMED ${pm}`);
    process.kill(pm, 'SIGSTOP');
    a.child.kill('SIGKILL');
    await waitUntil(() => !isAlive(pm), 10_000);
    await waitUntil(() => before.every((p) => !isAlive(p)), 5000);
    await waitUntil(() => processGroupMembers(a.fencePid).length === 0, 5000);
    expect(fenceLog()).toMatch(new RegExp(`fenced ${pm} SIGKILL`));
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(await answers()).toBe(false);
  });
});

describe('fence process, without PostgreSQL', () => {
  it('refuses to arm for a PID that does not run, and exits on stop()', async () => {
    const fence = await startFence({ timeoutMs: 1000 });
    try {
      await expect(fence.arm(2 ** 22 + 12345)).rejects.toMatchObject({ code: 'fence_invalid_postmaster' });
      expect(fence.armedFor).toBeUndefined();
    } finally {
      await fence.stop();
    }
    expect(fence.isRunning).toBe(false);
    expect(processGroupMembers(fence.pid)).toEqual([]);
    expect(fence.keepalive()).toBe(false);
  });

  it('escalates to SIGKILL of a postmaster stand-in and its children that ignore SIGQUIT', async () => {
    // A shell that ignores SIGQUIT with two children that ignore it too (async lists in sh do).
    const fake = spawn('/bin/sh', ['-c', 'trap "" QUIT; sleep 60 & sleep 60 & wait'], { stdio: 'ignore' });
    const fakePid = fake.pid!;
    await waitUntil(() => childrenOf(fakePid).length === 2, 5000);
    const kids = childrenOf(fakePid);
    const events: FenceEvent[] = [];
    const fence = await startFence({ timeoutMs: 500, quitGraceMs: 300, onEvent: (e) => events.push(e) });
    try {
      await fence.arm(fakePid);
      expect(fence.armedFor).toBe(fakePid);
      // No keepalive: the timeout fires.
      await waitUntil(() => events.some((e) => e.type === 'fenced' || e.type === 'fence_failed'), 5000);
      expect(events.find((e) => e.type === 'fenced')).toMatchObject({ postmasterPid: fakePid, signal: 'SIGKILL' });
      expect(events.find((e) => e.type === 'fencing')).toMatchObject({ reason: 'timeout' });
      expect([fakePid, ...kids].filter((p) => isAlive(p))).toEqual([]);
      expect(fence.armedFor).toBeUndefined();
      expect(fence.isRunning).toBe(true);
    } finally {
      await fence.stop();
      fake.kill('SIGKILL');
    }
  });

  it('a keepalive with a deadline overrides the timeout both ways (longer and shorter)', async () => {
    const fake = spawn('/bin/sh', ['-c', 'sleep 60'], { stdio: 'ignore' });
    const fakePid = fake.pid!;
    const events: FenceEvent[] = [];
    // Bounds with seconds of slack: a stalled timer on a loaded machine must not decide this test.
    const fence = await startFence({ timeoutMs: 3000, quitGraceMs: 300, onEvent: (e) => events.push(e) });
    try {
      await fence.arm(fakePid);
      // Longer: 6 s of validity outlives the 3 s timeout.
      fence.keepalive(6000);
      await sleep(4000);
      expect(events.some((e) => e.type === 'fencing')).toBe(false);
      expect(isAlive(fakePid)).toBe(true);
      // Shorter: a lease with 300 ms left must get neither the 8 s before it nor the 3 s timeout.
      fence.keepalive(8000);
      fence.keepalive(300);
      const t0 = performance.now();
      await waitUntil(() => events.some((e) => e.type === 'fenced'), 8000);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(isAlive(fakePid)).toBe(false);
    } finally {
      await fence.stop();
      fake.kill('SIGKILL');
    }
  });
});

import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChaosResult } from '../src/chaos.js';
import { isSameProcess, postmasterOf, type ProcessRecord } from '../src/proc.js';
import { readState } from '../src/state.js';
import type { StatusReport } from '../src/status.js';

// The lab as a user runs it: the built CLI in a fresh working directory, one process per verb.
const run = promisify(execFile);
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let cwd = '';

async function lab(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.PGTOOLS_LAB_DIR;
  return run(process.execPath, [cli, ...args], { cwd, env, timeout: 240_000, maxBuffer: 10_000_000 });
}

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'pgtools-lab-test-'));
  // The agents run as the postgres OS user when the tests run as root: it must reach ./.lab.
  chmodSync(cwd, 0o755);
});

afterAll(async () => {
  // Only acts when a test failed before `down --clean`: stops what the lab recorded, by PID.
  if (existsSync(join(cwd, '.lab'))) await lab('down', '--clean').catch(() => undefined);
  rmSync(cwd, { recursive: true, force: true });
}, 120_000);

describe('lab up / status / load / chaos / down', () => {
  it('brings up etcd, three agents and HAProxy, then says so on a second up', async () => {
    const first = await lab('up', '--tight-haproxy');
    expect(first.stdout).toMatch(/writer\s+postgresql:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres/);
    expect(first.stdout).toMatch(/reader\s+postgresql:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres/);
    expect(first.stdout).toContain('hactl -c .lab/hactl.yml list');
    const again = await lab('up');
    expect(again.stdout).toContain('already running');
    const state = readState(join(cwd, '.lab'))!;
    expect(state.etcd).toHaveLength(3);
    expect(state.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    expect(state.timings).toEqual({ ttl: 10, loopWait: 2, retryTimeout: 4 });
  });

  it('status shows one leader, two streaming replicas and the hactl table', async () => {
    const report = JSON.parse((await lab('status', '--json')).stdout) as StatusReport;
    expect(report.health.settled).toBe(true);
    expect(report.nodes.filter((n) => n.primaryCheck)).toHaveLength(1);
    expect(report.nodes.filter((n) => n.replicaCheck)).toHaveLength(2);
    expect(report.processes.agents).toEqual([true, true, true]);
    const text = (await lab('status')).stdout;
    expect(text).toMatch(/\| node1 .*\| (Leader|Replica) /);
    expect(text).toContain('load: not running');
    // watch redraws the same view a bounded number of times (no terminal here: one block per refresh).
    const watched = (await lab('watch', '--count', '2', '--interval', '0.2')).stdout;
    expect(watched.match(/^cluster: healthy, leader node\d$/gm)).toHaveLength(2);
  });

  it('runs the load through HAProxy, switches over with no acknowledged write lost', async () => {
    expect((await lab('load', 'start')).stdout).toContain('load started');
    await new Promise((r) => setTimeout(r, 3000));
    const report = JSON.parse((await lab('status', '--json')).stdout) as StatusReport;
    expect(report.load?.writer).toMatch(/^[1-9][\d.]* ok\/s/);
    expect(report.load?.reader).toMatch(/^[1-9][\d.]* ok\/s/);

    const result = JSON.parse((await lab('chaos', 'switchover', '--json')).stdout) as ChaosResult;
    expect(result.leaderAfter).toBeDefined();
    expect(result.leaderAfter).not.toBe(result.leaderBefore);
    expect(result.impact!.acknowledged).toBeGreaterThan(10);
    expect(result.impact!.lost).toEqual([]);
    console.log(
      `[lab] switchover ${result.leaderBefore} -> ${result.leaderAfter}: outage ${result.impact!.outageMs} ms, ${result.impact!.acknowledged} acknowledged, 0 lost`,
    );
  });

  it('kill-postmaster: the leader comes back, the cluster settles, nothing acknowledged is lost', async () => {
    const state = readState(join(cwd, '.lab'))!;
    const { stdout } = await lab('chaos', 'kill-postmaster', '--json');
    const result = JSON.parse(stdout) as ChaosResult;
    expect(result.actions[0]).toMatch(/SIGKILL node\d's postmaster \(pid \d+\)/);
    expect(result.leaderAfter).toBeDefined();
    const killed = Number(/pid (\d+)/.exec(result.actions[0]!)![1]);
    const leaderNode = state.nodes.find((n) => n.name === result.leaderBefore)!;
    // A new postmaster runs for the node whose postmaster was killed.
    expect(postmasterOf(leaderNode.dataDir)?.pid).not.toBe(killed);
    expect(result.impact!.lost).toEqual([]);
    console.log(`[lab] kill-postmaster on ${result.leaderBefore}: settled after ${result.settledAfterMs} ms, outage ${result.impact!.outageMs} ms`);
  });

  it('partition on a lab without namespaces is refused, naming `up --netns`, with exit code 2', async () => {
    const err = (await lab('chaos', 'partition', 'node1').then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; stderr?: string } | undefined;
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('lab up --netns');
    const mismatch = (await lab('up', '--netns').then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; stderr?: string } | undefined;
    expect(mismatch?.code).toBe(2);
    expect(mismatch?.stderr).toContain('lab down --clean');
  });

  it('down --clean stops every recorded process and removes .lab', async () => {
    const state = readState(join(cwd, '.lab'))!;
    const recorded: ProcessRecord[] = [
      ...state.etcd.map((e) => e.proc),
      ...state.nodes.map((n) => n.agent),
      state.haproxy.proc,
      ...(state.load ? [state.load.proc] : []),
    ];
    const postmasters = state.nodes.map((n) => postmasterOf(n.dataDir)).filter((p) => p !== undefined);
    expect(postmasters).toHaveLength(3);
    expect(recorded.every((p) => isSameProcess(p))).toBe(true);
    const { stdout } = await lab('down', '--clean');
    expect(stdout).toContain('removed');
    for (const p of [...recorded, ...postmasters]) expect(isSameProcess(p), `pid ${p.pid} (${p.marker}) still running`).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
    expect((await lab('down')).stdout).toContain('No lab recorded');
  });
});

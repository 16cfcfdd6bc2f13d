import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChaosResult } from '../src/chaos.js';
import { existingNamespaces } from '../src/network.js';
import { isSameProcess, postmasterOf, type ProcessRecord } from '../src/proc.js';
import { readState } from '../src/state.js';
import type { StatusReport } from '../src/status.js';

// `lab up --netns`: every node (and its etcd member) on a host of its own, so a partition is a
// pulled cable. Needs root, as network namespaces do (CI runs as root).
const run = promisify(execFile);
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let cwd = '';

async function lab(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.PGTOOLS_LAB_DIR;
  return run(process.execPath, [cli, ...args], { cwd, env, timeout: 240_000, maxBuffer: 10_000_000 });
}

const labState = () => readState(join(cwd, '.lab'))!;
const namespacesOf = (tag: string): string[] => [...existingNamespaces()].filter((ns) => ns.startsWith(tag));

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'pgtools-lab-netns-'));
  chmodSync(cwd, 0o755);
});

afterAll(async () => {
  if (existsSync(join(cwd, '.lab'))) await lab('down', '--clean').catch(() => undefined);
  rmSync(cwd, { recursive: true, force: true });
}, 120_000);

describe.skipIf(!isRoot)('lab up --netns / chaos partition / heal', () => {
  let tag = '';

  it('puts each node on a host of its own, reachable from here only through HAProxy on 127.0.0.1', async () => {
    const { stdout } = await lab('up', '--netns', '--tight-haproxy');
    expect(stdout).toMatch(/network\s+each node on a host of its own \(node1 10\.252\.0\.1, node2 10\.252\.0\.2, node3 10\.252\.0\.3\)/);
    expect(stdout).toMatch(/writer\s+postgresql:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres/);
    expect(stdout).toContain('pnpm lab hactl list');
    const state = labState();
    tag = state.network!.switchNs.replace(/-sw$/, '');
    expect(namespacesOf(tag).sort()).toEqual([`${tag}-cl`, `${tag}-node1`, `${tag}-node2`, `${tag}-node3`, `${tag}-sw`]);
    // The cluster itself knows the nodes by their own addresses.
    const list = (await lab('hactl', 'list')).stdout;
    for (const i of [1, 2, 3]) expect(list).toMatch(new RegExp(`\\| node${i}\\s+\\| 10\\.252\\.0\\.${i}:\\d+ `));
    expect((await lab('up')).stdout).toContain('already running');
  });

  it('partition of the leader: the others elect a new one, the cut-off primary stops taking writes, nothing acknowledged is lost', async () => {
    expect((await lab('load', 'start')).stdout).toContain('load started');
    await new Promise((r) => setTimeout(r, 3000));
    const result = JSON.parse((await lab('chaos', 'partition', '--json')).stdout) as ChaosResult;
    expect(result.actions[0]).toMatch(new RegExp(`cut ${result.leaderBefore}'s network link`));
    expect(result.leaderAfter).toBeDefined();
    expect(result.leaderAfter).not.toBe(result.leaderBefore);
    expect(result.impact!.acknowledged).toBeGreaterThan(10);
    expect(result.impact!.lost).toEqual([]);
    expect(result.isolatedWritesStoppedAfterMs).toBeDefined();
    // Its processes still run: the agent and a PostgreSQL that no longer accepts writes.
    const state = labState();
    const cut = state.nodes.find((n) => n.name === result.leaderBefore)!;
    expect(isSameProcess(cut.agent)).toBe(true);
    expect(state.partitioned).toEqual([cut.name]);
    const report = JSON.parse((await lab('status', '--json')).stdout) as StatusReport;
    expect(report.nodes.find((n) => n.name === cut.name)?.reachable).toBe(false);
    expect(report.nodes.find((n) => n.name === result.leaderAfter)?.primaryCheck).toBe(true);
    expect((await lab('status')).stdout).toContain(`${cut.name} up`);
    expect((await lab('status')).stdout).toContain('PARTITIONED');
    console.log(
      `[lab netns] partition of ${result.leaderBefore}: ${result.leaderAfter} leads after ${result.settledAfterMs} ms, outage ${result.impact!.outageMs} ms, the cut-off primary stopped writes after ${result.isolatedWritesStoppedAfterMs} ms`,
    );

    const again = (await lab('chaos', 'partition', cut.name).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; stderr?: string } | undefined;
    expect(again?.code).toBe(2);
    expect(again?.stderr).toContain('already cut off');
  });

  it('heal: the cut-off node rejoins as a replica of the new leader, no acknowledged write lost', async () => {
    const cut = labState().partitioned![0]!;
    const result = JSON.parse((await lab('chaos', 'heal', '--json')).stdout) as ChaosResult;
    expect(result.actions[0]).toBe(`reconnected ${cut}`);
    expect(result.leaderAfter).toBeDefined();
    expect(result.leaderAfter).not.toBe(cut);
    expect(result.rejoinedAfterMs).toBeDefined();
    expect(result.impact!.lost).toEqual([]);
    const report = JSON.parse((await lab('status', '--json')).stdout) as StatusReport;
    expect(report.health.settled).toBe(true);
    expect(report.health.streaming).toContain(cut);
    expect(labState().partitioned).toEqual([]);
    const nothing = (await lab('chaos', 'heal').then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; stderr?: string } | undefined;
    expect(nothing?.code).toBe(2);
    expect(nothing?.stderr).toContain('no node is partitioned');
  });

  it('down --clean stops every recorded process and removes the namespaces', async () => {
    const state = labState();
    const recorded: ProcessRecord[] = [
      ...state.etcd.map((e) => e.proc),
      ...state.nodes.map((n) => n.agent),
      state.haproxy.proc,
      ...(state.load ? [state.load.proc] : []),
    ];
    const postmasters = state.nodes.map((n) => postmasterOf(n.dataDir)).filter((p) => p !== undefined);
    expect(postmasters).toHaveLength(3);
    const { stdout } = await lab('down', '--clean');
    expect(stdout).toContain('removed network namespaces');
    for (const p of [...recorded, ...postmasters]) expect(isSameProcess(p), `pid ${p.pid} (${p.marker}) still running`).toBe(false);
    expect(namespacesOf(tag)).toEqual([]);
  });
});

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LabNetwork } from './network.js';
import type { ProcessRecord } from './proc.js';

/** One lab node: an ha-agent and the PostgreSQL it runs. */
export interface LabNode {
  name: string;
  dir: string;
  dataDir: string;
  configFile: string;
  pgPort: number;
  apiPort: number;
  agent: ProcessRecord;
}

/** Everything `up` started, so `down` in a later process stops exactly those PIDs. */
export interface LabState {
  version: 1;
  labDir: string;
  scope: string;
  createdAt: string;
  timings: { ttl: number; loopWait: number; retryTimeout: number };
  os: { user: string; uid: number; gid: number } | undefined;
  etcd: Array<{ name: string; clientPort: number; peerPort: number; proc: ProcessRecord }>;
  nodes: LabNode[];
  haproxy: { configFile: string; writerPort: number; readerPort: number; statsPort: number; tight: boolean; proc: ProcessRecord };
  hactlConfig: string;
  /**
   * Run as root, the agents run as the PostgreSQL OS user, who may not enter the checkout (a clone in
   * /root is mode 0700): their node directories and a copy of the agent's runtime live here, in /tmp.
   */
  agentsDir?: string;
  /** Set when the lab runs in network namespaces of its own (`up --netns`): every node is a host. */
  network?: LabNetwork;
  /** Nodes whose link is cut by `chaos partition` (until `chaos heal`). */
  partitioned?: string[];
  /** cpu-burn processes, bounded in time; `down` stops any still running. */
  burners?: ProcessRecord[];
  /** cgroups of a cpu-burn in progress; `down` moves their processes back and removes them. */
  cpuGroups?: string[];
  load?: { proc: ProcessRecord; runId: string; writerLog: string; readerLog: string; startedAt: number } | undefined;
}

/**
 * `./.lab` under the working directory (or `PGTOOLS_LAB_DIR`).
 *
 * @example
 * ```ts
 * labDir('/tmp/play'); // '/tmp/play/.lab'
 * ```
 */
export function labDir(cwd = process.cwd()): string {
  return resolve(cwd, process.env.PGTOOLS_LAB_DIR ?? '.lab');
}

/**
 * Where the state of the lab in `dir` is recorded.
 *
 * @example
 * ```ts
 * stateFile('/tmp/play/.lab'); // '/tmp/play/.lab/state.json'
 * ```
 */
export const stateFile = (dir: string): string => join(dir, 'state.json');

/**
 * The recorded lab, or undefined when there is none.
 *
 * @example
 * ```ts
 * const state = readState(labDir());
 * if (!state) console.log('no lab: run `lab up`');
 * ```
 */
export function readState(dir: string): LabState | undefined {
  if (!existsSync(stateFile(dir))) return undefined;
  return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as LabState;
}

/**
 * Writes the state atomically (a crash never leaves half a file that would lose the PIDs).
 *
 * @example
 * ```ts
 * state.load = undefined;
 * writeState(state);
 * ```
 */
export function writeState(state: LabState): void {
  mkdirSync(state.labDir, { recursive: true });
  const tmp = `${stateFile(state.labDir)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, stateFile(state.labDir));
}

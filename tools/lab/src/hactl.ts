import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { binPaths } from './layout.js';
import { netnsExec } from '@pgtools/testkit';
import type { LabState } from './state.js';

const run = promisify(execFile);

/**
 * The command line of `hactl -c <lab config> ...args`. In the lab network it runs on the client
 * host: hactl reads etcd and calls the members' REST APIs at the addresses they publish, which
 * only the lab network reaches.
 *
 * @example
 * ```ts
 * const [file, ...argv] = hactlCommand(state, ['list']);
 * ```
 */
export function hactlCommand(state: LabState, args: readonly string[]): string[] {
  const argv = [process.execPath, binPaths().hactl, '-c', state.hactlConfig, ...args];
  return state.network ? netnsExec(state.network.client.netns, argv) : argv;
}

/**
 * Runs hactl and returns its output (rejects with `stdout`/`stderr` on a non-zero exit).
 *
 * @example
 * ```ts
 * console.log((await runHactl(state, ['list'])).stdout);
 * ```
 */
export async function runHactl(state: LabState, args: readonly string[], timeoutMs = 15_000): Promise<{ stdout: string; stderr: string }> {
  const [file, ...argv] = hactlCommand(state, args);
  return run(file!, argv, { timeout: timeoutMs });
}

/**
 * `lab hactl ...`: hactl on the lab's cluster, with the terminal attached (edit-config opens an
 * editor). Returns hactl's exit code.
 *
 * @example
 * ```ts
 * process.exitCode = hactlInteractive(state, ['list']);
 * ```
 */
export function hactlInteractive(state: LabState, args: readonly string[]): number {
  const [file, ...argv] = hactlCommand(state, args);
  const r = spawnSync(file!, argv, { stdio: 'inherit' });
  return r.status ?? 1;
}

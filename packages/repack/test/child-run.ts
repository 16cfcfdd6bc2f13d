import { spawn, type ChildProcess } from 'node:child_process';
import type pg from 'pg';
import type { PausePoint, RepackResult } from '../src/index.js';
import { startWriter, type Writer } from './workload.js';

/** Every pause point of a table run, in order. */
export const PAUSE_POINTS: PausePoint[] = [
  'after-advisory-lock',
  'after-capture',
  'during-copy',
  'after-copy',
  'after-indexes',
  'during-apply',
  'before-swap',
  'after-swap',
];

const script = new URL('./fixtures/run-repack.mjs', import.meta.url).pathname;

/**
 * Runs one repack of `table` in its own process (fixtures/run-repack.mjs, on the built package) that
 * stops at `point`: `hang` waits forever (for a SIGKILL), `continue` goes on at a line on stdin.
 * `alter`: the run's `alter` actions; `swap`: its swap mode.
 */
export function runChild(
  connectionString: string,
  table: string,
  point: PausePoint,
  mode: 'hang' | 'continue',
  alter?: string[],
  swap?: 'rename' | 'catalog',
): { child: ChildProcess; paused: Promise<number[]>; result: Promise<RepackResult | undefined> } {
  const args = [script, connectionString, table, point, mode, alter ? JSON.stringify(alter) : '', ...(swap ? [swap] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = '';
  let resolvePaused: (pids: number[]) => void;
  let resolveResult: (r: RepackResult | undefined) => void;
  const paused = new Promise<number[]>((r) => (resolvePaused = r));
  const result = new Promise<RepackResult | undefined>((r) => (resolveResult = r));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (const line of buf.split('\n').slice(0, -1)) {
      if (line.startsWith('PAUSED ')) resolvePaused(JSON.parse(line.slice(7)));
      if (line.startsWith('RESULT ')) resolveResult(JSON.parse(line.slice(7)));
    }
    buf = buf.slice(buf.lastIndexOf('\n') + 1);
  });
  child.once('exit', () => resolveResult(undefined));
  return { child, paused, result };
}

/**
 * SIGKILLs a run of `table` stopped at `point` while a random writer works on the table, lets the
 * writer go on a moment (writes must keep working while leftovers exist), and returns it stopped.
 */
export async function killDuringWrites(
  pool: pg.Pool,
  connectionString: string,
  table: string,
  point: PausePoint,
  alter?: string[],
  swap?: 'rename' | 'catalog',
): Promise<Writer> {
  const writer = startWriter(pool, table, { nextId: 100_000, pauseMs: 2 });
  const { child, paused } = runChild(connectionString, table, point, 'hang', alter, swap);
  await paused;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await new Promise((r) => setTimeout(r, 300));
  await writer.stop();
  return writer;
}

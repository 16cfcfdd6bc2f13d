import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageDirFor, type OsUser } from '@pgtools/testkit';
import type { FenceEvent } from '../src/index.js';

const pkgDir = new URL('..', import.meta.url).pathname;
const fixture = join(pkgDir, 'test/fixtures/fence-agent.mjs');

/** The fixture imports dist: rebuild when a source file is newer than the bundle. */
export function ensureBuilt(): void {
  const newest = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true }).map((d) => (d.isDirectory() ? newest(join(dir, d.name)) : statSync(join(dir, d.name)).mtimeMs)));
  let built = 0;
  try {
    built = Math.min(statSync(join(pkgDir, 'dist/index.js')).mtimeMs, statSync(join(pkgDir, 'dist/fence.sh')).mtimeMs);
  } catch {
    built = 0;
  }
  if (built < newest(join(pkgDir, 'src'))) execFileSync('pnpm', ['exec', 'tsup'], { cwd: pkgDir, stdio: 'ignore' });
}

export interface AgentConfig {
  timeoutMs: number;
  quitGraceMs?: number;
  tickMs?: number;
  keepaliveMs: number;
  logFile?: string;
  dataDir?: string;
  postmasterPid?: number;
  startTime?: number;
}

/** The agent stand-in: a separate Node process running the real fence. */
export interface AgentChild {
  child: ChildProcess;
  fencePid: number;
  lines: string[];
  events(): FenceEvent[];
  waitLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  send(command: string): void;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The fixture where `user` can run it: next to a copy of the built package when the checkout may be unreadable (/root). */
function fixtureFor(user: OsUser | undefined): string {
  const dir = packageDirFor('@pgtools/watchdog', pkgDir, user);
  if (dir === pkgDir) return fixture;
  const copy = join(dir, 'test/fixtures/fence-agent.mjs');
  mkdirSync(join(dir, 'test/fixtures'), { recursive: true, mode: 0o755 });
  copyFileSync(fixture, copy);
  return copy;
}

export async function startAgent(config: AgentConfig, user: OsUser | undefined): Promise<AgentChild> {
  const child = spawn(process.execPath, [fixtureFor(user), JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    for (const l of listeners) l();
  });
  child.stdin!.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitLine = (predicate: (line: string) => boolean, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = lines.find(predicate);
        if (found === undefined) return false;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`agent child: no matching line within ${timeoutMs} ms; got:\n${lines.join('\n')}`));
      }, timeoutMs);
      if (!check()) listeners.add(check);
    });
  const ready = await waitLine((l) => l.startsWith('READY ') || l.startsWith('ERROR '));
  if (!ready.startsWith('READY ')) throw new Error(ready);
  return {
    child,
    fencePid: Number(ready.split(' ')[1]),
    lines,
    events: () => lines.filter((l) => l.startsWith('EVENT ')).map((l) => JSON.parse(l.slice(6)) as FenceEvent),
    waitLine,
    send: (command) => void child.stdin!.write(`${command}\n`),
    exit,
  };
}

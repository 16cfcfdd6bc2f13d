import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, makeTempDir, waitFor, type TempDir } from '@pgtools/testkit';
import { CallbackRunner, type CallbackRunnerEvent } from '../src/internals.js';

// Real processes (sh), no cluster: what the runner does with a callback that is still running.
let dir: TempDir;
let script: string;

beforeAll(async () => {
  dir = await makeTempDir('callback-runner');
  script = join(dir.path, 'cb.sh');
  // `slow` leaves a child (sleep) behind it and waits for it; `exit N` exits with N.
  writeFileSync(
    script,
    `#!/bin/sh
echo "$*" >> "${dir.path}/calls.log"
case "$1" in
  slow) sleep 60 & echo $! > "${dir.path}/child-$2.pid"; wait ;;
  exit) exit "$2" ;;
esac
`,
    { mode: 0o755 },
  );
});

afterAll(() => dir?.remove());

function runner(): { runner: CallbackRunner; events: CallbackRunnerEvent[]; warnings: string[] } {
  const events: CallbackRunnerEvent[] = [];
  const warnings: string[] = [];
  const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };
  return { runner: new CallbackRunner({ logger, onEvent: (e) => events.push(e) }), events, warnings };
}

const childPid = (tag: string): number => Number(readFileSync(join(dir.path, `child-${tag}.pid`), 'utf8').trim());
// The pid file exists a moment before its line is written.
const hasChild = (tag: string): boolean => existsSync(join(dir.path, `child-${tag}.pid`)) && childPid(tag) > 0;

describe('CallbackRunner', () => {
  it('returns at once; a callback still running when the next one starts is killed with its children', async () => {
    const { runner: r, events, warnings } = runner();
    const t0 = Date.now();
    r.run('on_start', [script, 'slow', 'a', 'on_start', 'replica', 'batman']);
    expect(Date.now() - t0).toBeLessThan(1000);
    await waitFor(() => hasChild('a'), { timeoutMs: 10_000, describe: () => 'the slow callback and its child' });
    const first = events.find((e) => e.type === 'callback_started');
    expect(first).toMatchObject({ type: 'callback_started', action: 'on_start', argv: [script, 'slow', 'a', 'on_start', 'replica', 'batman'] });
    const sleeper = childPid('a');
    expect(isAlive(sleeper)).toBe(true);

    r.run('on_role_change', [script, 'exit', '0', 'on_role_change', 'primary', 'batman']);
    await waitFor(() => events.filter((e) => e.type === 'callback_exited').length === 2, { timeoutMs: 10_000, describe: () => 'both callbacks ended' });
    expect(events.find((e) => e.type === 'callback_exited' && e.action === 'on_start')).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(events.find((e) => e.type === 'callback_exited' && e.action === 'on_role_change')).toMatchObject({ code: 0, signal: null });
    await waitFor(() => !isAlive(sleeper), { timeoutMs: 5000, describe: () => 'the killed callback’s child gone' });
    expect(warnings.some((w) => w.startsWith(`killed callback ${script} slow a on_start replica batman`) && w.endsWith('because it was still running'))).toBe(
      true,
    );
  });

  it('on_reload has its own slot: it neither kills nor is killed by the other actions', async () => {
    const { runner: r, events } = runner();
    r.run('on_start', [script, 'slow', 'b', 'on_start', 'primary', 'batman']);
    await waitFor(() => hasChild('b'), { timeoutMs: 10_000, describe: () => 'the slow on_start' });
    r.run('on_reload', [script, 'slow', 'c', 'on_reload', 'primary', 'batman']);
    await waitFor(() => hasChild('c'), { timeoutMs: 10_000, describe: () => 'the slow on_reload' });
    expect(events.filter((e) => e.type === 'callback_exited')).toEqual([]);
    // A second reload kills the first reload only; a stop kills the start only.
    r.run('on_reload', [script, 'exit', '0', 'on_reload', 'primary', 'batman']);
    r.run('on_stop', [script, 'exit', '0', 'on_stop', 'primary', 'batman']);
    await waitFor(() => events.filter((e) => e.type === 'callback_exited').length === 4, { timeoutMs: 10_000, describe: () => 'four callbacks ended' });
    const exited = events.filter((e) => e.type === 'callback_exited');
    expect(
      exited
        .filter((e) => e.signal === 'SIGKILL')
        .map((e) => e.action)
        .sort(),
    ).toEqual(['on_reload', 'on_start']);
    await waitFor(() => !isAlive(childPid('b')) && !isAlive(childPid('c')), { timeoutMs: 5000, describe: () => 'the children gone' });
  });

  it('does not kill a callback that already ended, nor what it left running', async () => {
    const { runner: r, events } = runner();
    writeFileSync(join(dir.path, 'bg.sh'), `#!/bin/sh\nsleep 60 &\necho $! > "${dir.path}/child-bg.pid"\n`, { mode: 0o755 });
    r.run('on_start', [join(dir.path, 'bg.sh'), 'on_start', 'primary', 'batman']);
    await waitFor(() => events.some((e) => e.type === 'callback_exited'), { timeoutMs: 10_000, describe: () => 'the callback ended' });
    const left = childPid('bg');
    r.run('on_stop', [script, 'exit', '0', 'on_stop', 'primary', 'batman']);
    await waitFor(() => events.filter((e) => e.type === 'callback_exited').length === 2, { timeoutMs: 10_000, describe: () => 'on_stop ended' });
    // Like Patroni: only a callback still running is killed (with its children).
    expect(isAlive(left)).toBe(true);
    process.kill(left, 'SIGKILL');
  });

  it('logs a non-zero exit code and a program that cannot be started, and goes on', async () => {
    const { runner: r, events, warnings } = runner();
    r.run('on_stop', [script, 'exit', '3', 'on_stop', 'replica', 'batman']);
    await waitFor(() => events.some((e) => e.type === 'callback_exited'), { timeoutMs: 10_000, describe: () => 'the callback ended' });
    expect(events.find((e) => e.type === 'callback_exited')).toMatchObject({ action: 'on_stop', code: 3 });
    expect(warnings.some((w) => /^callback on_stop \(pid \d+\) exited with code 3$/.test(w))).toBe(true);
    r.run('on_start', [join(dir.path, 'missing.sh'), 'on_start', 'replica', 'batman']);
    await waitFor(() => warnings.some((w) => w.startsWith(`callback on_start could not be started (${join(dir.path, 'missing.sh')}`)), {
      timeoutMs: 10_000,
      describe: () => 'the warning about the missing program',
    });
  });
});

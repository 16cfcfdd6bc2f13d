import { spawn } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { median, percentile } from './stats.js';

/** One start of a command: when its first connection reached the server, and when it exited. */
export interface StartupSample {
  /** From spawn to the first TCP connection accepted in front of the server, ms. */
  firstConnectMs: number;
  /** From spawn to exit (or to the kill, for a command that runs on), ms. */
  exitMs: number;
}

export interface StartupCommand {
  name: string;
  command: string;
  args: string[];
  /** The command runs on (an agent): killed by PID once it has connected. */
  daemon?: boolean;
  uid?: number;
  gid?: number;
  cwd?: string;
}

/**
 * A TCP listener on 127.0.0.1 that forwards each connection to `target` and calls `onConnect` when
 * one is accepted: the command talks to the real server, and the bench sees when it first did.
 */
export async function forwarder(target: { host: string; port: number }, onConnect: () => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    onConnect();
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Starts `cmd` once and times its first connection through the forwarder (`connected` resolves then).
 * Bounded: a command that exits first fails at once; one that neither connects nor exits within
 * `timeoutMs` is killed and fails.
 */
export async function timeStartup(cmd: StartupCommand, connected: () => Promise<void>, timeoutMs = 20_000): Promise<StartupSample> {
  const t0 = performance.now();
  const child = spawn(cmd.command, cmd.args, {
    stdio: 'ignore',
    ...(cmd.cwd ? { cwd: cmd.cwd } : {}),
    ...(cmd.uid !== undefined ? { uid: cmd.uid, gid: cmd.gid ?? cmd.uid } : {}),
  });
  const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(performance.now() - t0)));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${cmd.name} did not connect within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const quitFirst = exited.then(() => {
      throw new Error(`${cmd.name} exited (code ${child.exitCode}) before it connected`);
    });
    const firstConnectMs = await Promise.race([connected().then(() => performance.now() - t0), quitFirst, deadline]);
    if (cmd.daemon && child.pid !== undefined) child.kill('SIGKILL');
    const exitMs = await Promise.race([exited, deadline]);
    return { firstConnectMs, exitMs };
  } catch (err) {
    if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    await exited;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** A command to time: its arguments once the forwarder's port is known, and where that forwards to. */
export type StartupContender = Omit<StartupCommand, 'args'> & { target: { host: string; port: number }; argsFor(port: number): string[] };

export interface StartupRow {
  name: string;
  runs: number;
  firstConnectMedianMs: number;
  firstConnectP90Ms: number;
  exitMedianMs: number;
}

/**
 * Runs each command `runs` times, interleaved (one of each per round, so a slow moment of the
 * machine hits all of them alike), each through its own forwarder to its `target`.
 */
export async function compareStartup(commands: StartupContender[], runs: number): Promise<StartupRow[]> {
  const samples = new Map<string, StartupSample[]>(commands.map((c) => [c.name, []]));
  for (let round = 0; round < runs; round++) {
    for (const c of commands) {
      let signal: (() => void) | undefined;
      const first = new Promise<void>((resolve) => (signal = resolve));
      const fwd = await forwarder(c.target, () => signal?.());
      try {
        samples.get(c.name)!.push(await timeStartup({ ...c, args: c.argsFor(fwd.port) }, () => first));
      } finally {
        await fwd.close();
      }
    }
  }
  return commands.map((c) => {
    const s = samples.get(c.name)!;
    const connects = s.map((x) => x.firstConnectMs);
    return {
      name: c.name,
      runs: s.length,
      firstConnectMedianMs: median(connects) ?? Number.NaN,
      firstConnectP90Ms: percentile(connects, 90) ?? Number.NaN,
      exitMedianMs: median(s.map((x) => x.exitMs)) ?? Number.NaN,
    };
  });
}

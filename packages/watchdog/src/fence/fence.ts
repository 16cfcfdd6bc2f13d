import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PgToolsError, silentLogger, type Logger } from '@pgtools/core';
import { parseFenceLine, type FenceEvent } from './fence-protocol.js';
import { isRunning, memoryOf, processGroupMembers, readProcStat } from './proc-stat.js';

/**
 * How the fence reaches etcd to revoke the leader's lease once it has proven PostgreSQL stopped
 * (it runs `curl` against etcd's JSON gateway: the agent is dead by then). Certificates are file
 * paths; the password goes to the fence over its stdin pipe, never in argv or the environment.
 */
export interface FenceEtcdAccess {
  /** Client URLs, e.g. `https://10.0.0.1:2379`; tried in turn. */
  endpoints: string[];
  cacertFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
}

export interface FenceOptions {
  /**
   * Stop PostgreSQL when no keepalive came for this long while armed. Use
   * `(ttl - safety_margin) * 1000` and keep `safety_margin` above `tickMs + quitGraceMs + 1 s`
   * so PostgreSQL is down before the leader key can expire.
   */
  timeoutMs: number;
  /** Arm right away for this postmaster (same as calling `arm()` after the start). */
  postmasterPid?: number;
  /** When set, `arm()` refuses a PID that is not the first line of `<dataDir>/postmaster.pid`. */
  dataDir?: string;
  /** How long an immediate shutdown (SIGQUIT) may take before SIGKILL of the postmaster and its children. Default 1000. */
  quitGraceMs?: number;
  /** Clock resolution of the fence. Default 100. */
  tickMs?: number;
  /** The fence appends every event to this file: the only trace when the agent is gone. */
  logFile?: string;
  /** Revoke the lease named by `setLease` after a proven stop. Without it, failover waits for the lease. */
  etcd?: FenceEtcdAccess;
  /** Default `/bin/sh`. */
  shell?: string;
  /** How long to wait for the fence to report ready, and for acknowledgements. Default 5000. */
  replyTimeoutMs?: number;
  logger?: Logger;
  onEvent?: (event: FenceEvent) => void;
}

/** A running fence process. */
export interface Fence {
  /** PID of the fence (also its process group: the fence runs in its own session). */
  readonly pid: number;
  /** The postmaster the fence is armed for, as last acknowledged; undefined when disarmed. */
  readonly armedFor: number | undefined;
  /** False once the fence process has exited. */
  readonly isRunning: boolean;
  /** Resolves when the fence process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Arms the fence for a postmaster (on promotion, or again after PostgreSQL was restarted with a
   * new PID); also counts as a keepalive. `startTime` (field 22 of /proc/<pid>/stat) defaults to
   * the one read now. Resolves once the fence acknowledged.
   */
  arm(postmasterPid: number, options?: { startTime?: number }): Promise<void>;
  /**
   * Sends a keepalive: call it after every successful leader lease refresh. With `validForMs` the
   * fence acts that long from now instead of after `timeoutMs` (pass the time left on the lease
   * minus a margin, so a refresh answered late never stretches the fence past the lease).
   * False when the fence is gone.
   */
  keepalive(validForMs?: number): boolean;
  /**
   * The etcd lease (decimal id) that holds the leader key, revoked after a proven stop; undefined
   * forgets it. Only with `etcd` access. False when the fence is gone.
   */
  setLease(leaseId: string | undefined): boolean;
  /** Disarms (demote, pause). Resolves once the fence acknowledged. */
  disarm(): Promise<void>;
  /** Disarms and makes the fence exit (clean agent shutdown); resolves when every fence process is gone. */
  stop(): Promise<void>;
  /**
   * Closes the channel without disarming, exactly as the agent's death does (the fence then acts
   * at once if armed, and exits): for an embedding process that gives up its agent without exiting.
   */
  abandon(): void;
  /** Resident memory of all fence processes (the shells and their current `sleep`), kB. */
  rssKb(): number;
  /** Like `rssKb()`, with the number of processes and PSS (shared pages split between processes). */
  memory(): { processes: number; rssKb: number; pssKb: number | undefined };
}

/**
 * Path of the POSIX sh script the fence runs (shipped next to the bundle as `dist/fence.sh`).
 *
 * @example
 * ```ts
 * import { fenceScriptPath } from '@pgtools/watchdog';
 * console.log(fenceScriptPath()); // .../node_modules/@pgtools/watchdog/dist/fence.sh
 * ```
 */
export function fenceScriptPath(): string {
  return fileURLToPath(new URL('./fence.sh', import.meta.url));
}

/**
 * Starts the software fence: a small `/bin/sh` process (no second Node runtime) that stops
 * PostgreSQL (immediate shutdown, then SIGKILL of the postmaster and its children) when the agent
 * stops sending keepalives while armed, or dies (its stdin pipe closes) without having disarmed it.
 * It runs as the agent's OS user, which must be PostgreSQL's.
 *
 * @example
 * ```ts
 * import { startFence } from '@pgtools/watchdog';
 * const fence = await startFence({ timeoutMs: 25_000, dataDir: '/var/lib/postgresql/15/main' });
 * await fence.arm(postmasterPid);   // when this node becomes primary
 * fence.keepalive();                // after each successful leader lease refresh
 * await fence.disarm();             // demote, pause
 * await fence.stop();               // clean SIGTERM of the agent: PostgreSQL keeps running
 * ```
 */
export async function startFence(options: FenceOptions): Promise<Fence> {
  const logger = options.logger ?? silentLogger;
  const emit = options.onEvent ?? (() => {});
  const quitGraceMs = options.quitGraceMs ?? 1000;
  const tickMs = options.tickMs ?? 100;
  const replyTimeoutMs = options.replyTimeoutMs ?? 5000;
  const positiveInt = (v: number, min: number, max: number): boolean => Number.isInteger(v) && v >= min && v <= max;
  if (!positiveInt(options.timeoutMs, 1, 86_400_000)) throw config(`timeoutMs must be a positive integer, got ${options.timeoutMs}`);
  if (!positiveInt(quitGraceMs, 0, 600_000)) throw config(`quitGraceMs must be an integer in 0..600000, got ${quitGraceMs}`);
  if (!positiveInt(tickMs, 10, 10_000)) throw config(`tickMs must be an integer in 10..10000, got ${tickMs}`);
  if (/[\n\r]/.test(options.logFile ?? '')) throw config('logFile must not contain a newline');
  const etcdLines = options.etcd ? etcdAccessLines(options.etcd) : [];

  const script = fenceScriptPath();
  if (!existsSync(script)) throw new PgToolsError('fence_start_failed', `fence script ${script} is missing (package not built?)`);
  const shell = options.shell ?? '/bin/sh';
  const child = spawn(shell, [script, String(options.timeoutMs), String(quitGraceMs), String(tickMs), options.logFile ?? ''], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own session: a Ctrl-C or hangup meant for the agent's terminal must not reach the fence.
    detached: true,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
  });

  type Waiter = { accept: (e: FenceEvent) => true | PgToolsError | undefined; resolve: () => void; reject: (e: PgToolsError) => void; timer: NodeJS.Timeout };
  const waiters: Waiter[] = [];
  let armedFor: number | undefined;
  let running = true;
  let stopping = false;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      exitInfo = { code, signal };
      if (armedFor !== undefined && !stopping) logger.error(`fence process ${child.pid} exited while armed (code ${code}, signal ${signal})`);
      armedFor = undefined;
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new PgToolsError('fence_not_running', `the fence process exited (code ${code}, signal ${signal})`));
      }
      emit({ type: 'exited', code, signal });
      resolve(exitInfo);
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const handle = (event: FenceEvent): void => {
    switch (event.type) {
      case 'armed':
        armedFor = event.postmasterPid;
        logger.info(`fence armed for postmaster ${event.postmasterPid}, timeout ${options.timeoutMs} ms`);
        break;
      case 'disarmed':
        armedFor = undefined;
        logger.info('fence disarmed');
        break;
      case 'fencing':
        armedFor = undefined;
        logger.error(
          `fence: ${event.reason === 'timeout' ? `no keepalive for ${event.sinceKeepaliveMs} ms` : 'the agent is gone'}; stopping PostgreSQL (postmaster ${event.postmasterPid})`,
        );
        break;
      case 'fenced':
        logger.error(`fence stopped PostgreSQL (postmaster ${event.postmasterPid}) with ${event.signal} in ${event.tookMs} ms`);
        break;
      case 'fence_failed':
        logger.error(`fence could not stop PostgreSQL: processes ${event.survivors.join(', ')} survive`);
        break;
      case 'skipped':
        logger.warn(
          `fence did not signal PID ${event.postmasterPid}: ${event.reason === 'pid_reused' ? 'the PID now belongs to another process' : 'the postmaster is already gone'}`,
        );
        break;
      case 'revoked':
        logger.warn(
          event.endpoint === 'gone'
            ? `fence: the leader lease ${event.lease} was already gone`
            : `fence revoked the leader lease ${event.lease} at ${event.endpoint} in ${event.tookMs} ms: a replica can take over now`,
        );
        break;
      case 'revoke_failed':
        logger.error(
          `fence could not revoke the leader lease ${event.lease} (${REVOKE_FAILURES[event.reason] ?? event.reason}): failover waits for the lease to expire`,
        );
        break;
      case 'revoke_unavailable':
        logger.warn(`fence cannot revoke the leader lease (${event.reason}): after a fence, failover waits for the lease to expire`);
        break;
      case 'error':
        logger.error(`fence: ${event.message}`);
        break;
      default:
        break;
    }
    emit(event);
    const w = waiters[0];
    const verdict = w?.accept(event);
    if (w && verdict !== undefined) {
      waiters.shift();
      clearTimeout(w.timer);
      if (verdict === true) w.resolve();
      else w.reject(verdict);
    }
  };

  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const event = parseFenceLine(line, child.pid ?? 0);
      if (event) handle(event);
      else if (line.trim() !== '') logger.warn(`fence: unexpected output: ${line}`);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim() !== '') logger.warn(`fence: ${line}`);
  });
  // EPIPE once the fence is gone: reported through `exited` and keepalive() returning false.
  child.stdin.on('error', () => {});

  const send = (command: string): boolean => {
    if (!running || child.stdin.destroyed || child.stdin.writableEnded) return false;
    child.stdin.write(`${command}\n`);
    return true;
  };

  const request = (command: string, accept: Waiter['accept']): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (!send(command)) {
        reject(new PgToolsError('fence_not_running', 'the fence process is not running'));
        return;
      }
      const timer = setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        reject(new PgToolsError('fence_unresponsive', `the fence did not acknowledge "${command}" within ${replyTimeoutMs} ms`));
      }, replyTimeoutMs);
      const waiter: Waiter = { accept, resolve, reject, timer };
      waiters.push(waiter);
    });

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new PgToolsError('fence_start_failed', `the fence did not report ready within ${replyTimeoutMs} ms`)),
      replyTimeoutMs,
    );
    waiters.push({ accept: (e) => (e.type === 'ready' ? true : undefined), resolve, reject, timer });
  });
  try {
    await Promise.race([
      ready,
      spawnError.then((err) => {
        throw new PgToolsError('fence_start_failed', `could not start ${shell}: ${err.message}`, { cause: err });
      }),
    ]);
  } catch (err) {
    if (running && child.pid !== undefined) child.kill('SIGKILL');
    throw err;
  }
  const pid = child.pid ?? 0;
  for (const line of etcdLines) send(line);
  let lease: string | undefined;

  const fence: Fence = {
    pid,
    get armedFor() {
      return armedFor;
    },
    get isRunning() {
      return running;
    },
    exited,
    async arm(postmasterPid, armOptions = {}) {
      const st = readProcStat(postmasterPid);
      if (!Number.isInteger(postmasterPid) || postmasterPid <= 0 || !st || st.state === 'Z') {
        throw new PgToolsError('fence_invalid_postmaster', `postmaster PID ${postmasterPid} is not running`);
      }
      if (options.dataDir !== undefined) {
        const owner = postmasterPidOf(options.dataDir);
        if (owner !== postmasterPid) {
          throw new PgToolsError(
            'fence_invalid_postmaster',
            `PID ${postmasterPid} is not the postmaster of ${options.dataDir} (postmaster.pid says ${owner ?? 'nothing'})`,
          );
        }
      }
      const startTime = armOptions.startTime ?? st.startTime;
      await request(`arm ${postmasterPid} ${startTime}`, (e) => {
        if (e.type === 'armed' && e.postmasterPid === postmasterPid) return true;
        if (e.type === 'error') return new PgToolsError('fence_invalid_postmaster', `the fence refused to arm: ${e.message}`);
        return undefined;
      });
    },
    keepalive(validForMs) {
      if (validForMs === undefined) return send('ka');
      return send(`ka ${Math.max(0, Math.floor(validForMs))}`);
    },
    setLease(leaseId) {
      if (!options.etcd) return running;
      if (leaseId !== undefined && !/^[0-9]+$/.test(leaseId)) throw config(`lease id must be decimal digits, got ${JSON.stringify(leaseId)}`);
      if (leaseId === lease) return running;
      lease = leaseId;
      return send(leaseId === undefined ? 'lease' : `lease ${leaseId}`);
    },
    async disarm() {
      await request('disarm', (e) => (e.type === 'disarmed' ? true : undefined));
    },
    async stop() {
      stopping = true;
      if (running) {
        send('exit');
        child.stdin.end();
        const timer = setTimeout(() => {
          logger.warn(`fence ${pid} did not exit after "exit"; killing it`);
          if (running) child.kill('SIGKILL');
        }, replyTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
      // The shell's helpers (stdin reader, clock) leave right after it; bounded wait, then SIGKILL
      // the fence's own process group (never anything else).
      for (let i = 0; i < 50 && processGroupMembers(pid).length > 0; i++) await sleep(20);
      if (processGroupMembers(pid).length > 0) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
    abandon() {
      child.stdin.end();
    },
    rssKb() {
      return memoryOf(processGroupMembers(pid)).rssKb;
    },
    memory() {
      const pids = processGroupMembers(pid);
      return { processes: pids.length, ...memoryOf(pids) };
    },
  };

  if (options.postmasterPid !== undefined) {
    try {
      await fence.arm(options.postmasterPid);
    } catch (err) {
      await fence.stop();
      throw err;
    }
  }
  return fence;
}

/** What each `revoke_failed` reason of the script means, for the operator. */
const REVOKE_FAILURES: Record<string, string> = {
  no_curl: 'curl is not installed',
  no_endpoint: 'no etcd endpoint was given',
  unreachable: 'no etcd endpoint answered within 2 s',
  auth_failed: 'etcd refused the user name or password',
  refused: 'etcd refused the revocation',
  bad_answer: 'etcd answered something unexpected',
  gateway_refuses_cn:
    "etcd's JSON gateway refuses client certificates with a CommonName while authentication is on, and etcdctl is not installed or could not revoke it",
};

/** The commands that give the fence its etcd access (one line each; a value may hold spaces). */
function etcdAccessLines(etcd: FenceEtcdAccess): string[] {
  const bad = etcd.endpoints.find((e) => !/^https?:\/\/[^\s/]+\/?$/.test(e));
  if (etcd.endpoints.length === 0 || bad !== undefined) throw config(`etcd endpoints must be http(s)://host:port URLs, got ${JSON.stringify(bad ?? '')}`);
  const files = { cacert: etcd.cacertFile, cert: etcd.certFile, key: etcd.keyFile };
  const lines = [`etcd ${etcd.endpoints.map((e) => e.replace(/\/$/, '')).join(' ')}`];
  for (const [name, path] of Object.entries(files)) {
    if (path === undefined) continue;
    if (/[\n\r]/.test(path)) throw config(`etcd ${name} file path cannot contain a newline: ${JSON.stringify(path)}`);
    lines.push(`${name} ${path}`);
  }
  if (etcd.username !== undefined) {
    const password = etcd.password ?? '';
    // JSON.stringify escapes newlines, so the gateway's body is one line whatever the password holds.
    lines.push(`auth ${JSON.stringify({ name: etcd.username, password })}`);
    // etcdctl's NAME:PASSWORD (for the one case the gateway refuses) cannot carry these.
    if (!/[\n\r:]/.test(etcd.username) && !/[\n\r]/.test(password)) lines.push(`user ${etcd.username}:${password}`);
  }
  return lines;
}

function config(message: string): PgToolsError {
  return new PgToolsError('invalid_fence_config', message);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** First line of `<dataDir>/postmaster.pid`, when it names a running process. */
function postmasterPidOf(dataDir: string): number | undefined {
  try {
    const first = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(first) && first > 0 && isRunning(first) ? first : undefined;
  } catch {
    return undefined;
  }
}

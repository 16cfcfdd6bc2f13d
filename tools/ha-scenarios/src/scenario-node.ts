import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { isAlive, spawnManaged, startReaper, type ManagedProcess, type NetHost, type OsUser, type Reaper, type TempDir } from '@pgtools/testkit';
import { agentCommand, type AgentKind } from './agent-kind.js';
import { socketQuery, type SocketTarget } from './pg-socket.js';
import { unixHttp, type HttpAnswer } from './unix-http.js';

/**
 * One node of a scenario cluster: a host (network namespace) with its agent, its PostgreSQL
 * (address `host.address:5432`, unix socket in `socketDir`) and its REST API (`host.address:8008`,
 * reached from the test process through HAProxy's forwarding socket `apiSocket`).
 */
export class ScenarioNode implements SocketTarget {
  readonly pgPort = 5432;
  readonly apiPort = 8008;
  /** Start counter, so each agent run gets its own log file. */
  private starts = 0;
  private agentProc: ManagedProcess | undefined;
  private readonly pmReaper: Reaper;

  /**
   * @example
   * ```ts
   * const node = new ScenarioNode({ name: 'node1', host, dir, user, agent: 'ha-agent', configYaml, apiSocket });
   * node.startAgent();
   * ```
   */
  constructor(
    private readonly o: {
      name: string;
      host: NetHost;
      dir: TempDir;
      user: OsUser | undefined;
      agent: AgentKind;
      configYaml: string;
      apiSocket: string;
    },
  ) {
    writeFileSync(this.configFile, o.configYaml, { mode: 0o600 });
    if (o.user) execFileSync('chown', [`${o.user.uid}:${o.user.gid}`, this.configFile]);
    // The agent restarts the postmaster under new PIDs: this reaper follows postmaster.pid.
    this.pmReaper = startReaper({ pidFile: join(this.dataDir, 'postmaster.pid') });
  }

  get name(): string {
    return this.o.name;
  }
  get host(): NetHost {
    return this.o.host;
  }
  get address(): string {
    return this.o.host.address;
  }
  get agentKind(): AgentKind {
    return this.o.agent;
  }
  /** PostgreSQL's unix socket directory (the node's temp dir). */
  get socketDir(): string {
    return this.o.dir.path;
  }
  get port(): number {
    return this.pgPort;
  }
  get dataDir(): string {
    return join(this.o.dir.path, 'data');
  }
  get configFile(): string {
    return join(this.o.dir.path, `${this.o.name}.yml`);
  }
  get apiSocket(): string {
    return this.o.apiSocket;
  }
  /** The current agent process (undefined before the first start). */
  get agent(): ManagedProcess | undefined {
    return this.agentProc;
  }

  /**
   * Starts the agent in the node's namespace as the PostgreSQL OS user (PATRONI_* variables of the
   * test process are not passed on). Refuses while the previous one still runs.
   *
   * @example
   * ```ts
   * node.startAgent();
   * ```
   */
  startAgent(): ManagedProcess {
    if (this.agentProc?.isRunning()) throw new Error(`${this.name}: the agent is already running (pid ${this.agentProc.pid})`);
    const { command, args } = agentCommand(this.o.agent, this.configFile, this.o.user);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATRONI_')));
    env.HOME = this.o.dir.path;
    this.agentProc = spawnManaged(command, args, {
      env,
      cwd: this.o.dir.path,
      netns: this.o.host.netns,
      logFile: join(this.o.dir.path, `agent-${++this.starts}.log`),
      stopSignal: 'SIGTERM',
      ...(this.o.user ? { user: this.o.user } : {}),
    });
    return this.agentProc;
  }

  /**
   * Stops the agent (SIGTERM: it stops PostgreSQL too), SIGKILL after `timeoutMs`.
   *
   * @example
   * ```ts
   * await node.stopAgent();
   * ```
   */
  async stopAgent(timeoutMs = 30_000): Promise<void> {
    await this.agentProc?.stop('SIGTERM', timeoutMs);
  }

  /**
   * The running postmaster's PID (first line of postmaster.pid, alive and a `postgres` process).
   *
   * @example
   * ```ts
   * const pid = node.postmasterPid();
   * ```
   */
  postmasterPid(): number | undefined {
    const file = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    let pid: number;
    try {
      pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return undefined;
    } catch {
      return undefined;
    }
    return pid;
  }

  /**
   * A query on this node's own PostgreSQL through its unix socket (works while it is partitioned).
   *
   * @example
   * ```ts
   * const [r] = await node.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
   * ```
   */
  query<R extends pg.QueryResultRow>(text: string, params: unknown[] = [], timeoutMs = 3000): Promise<R[]> {
    return socketQuery<R>(this, text, params, timeoutMs);
  }

  /**
   * A request to this node's REST API (through HAProxy on the client host, so not while partitioned).
   *
   * @example
   * ```ts
   * const res = await node.rest('GET', '/patroni');
   * ```
   */
  rest(method: string, path: string, body?: unknown, timeoutMs = 2000): Promise<HttpAnswer> {
    return unixHttp(this.o.apiSocket, method, path, body, timeoutMs);
  }

  /**
   * The last lines of the current agent log (error messages, reports).
   *
   * @example
   * ```ts
   * console.log(node.logTail(20));
   * ```
   */
  logTail(lines = 30): string {
    return this.agentProc?.logTail(lines) ?? '';
  }

  /**
   * Everything every agent run of this node wrote, in order.
   *
   * @example
   * ```ts
   * expect(node.fullLog()).toMatch(/pg_rewind/);
   * ```
   */
  fullLog(): string {
    let out = '';
    for (let i = 1; i <= this.starts; i++) {
      try {
        out += readFileSync(join(this.o.dir.path, `agent-${i}.log`), 'utf8');
      } catch {
        // never written
      }
    }
    return out;
  }

  /**
   * Stops the agent and any postmaster left behind (SIGQUIT, then SIGKILL), dismisses the reaper;
   * with `keepLogsIn`, first copies the agent logs there as `<name>.log`.
   *
   * @example
   * ```ts
   * await node.destroy();
   * ```
   */
  async destroy(keepLogsIn?: string): Promise<void> {
    await this.agentProc?.stop('SIGTERM', 20_000).catch(() => undefined);
    if (keepLogsIn) {
      mkdirSync(keepLogsIn, { recursive: true });
      writeFileSync(join(keepLogsIn, `${this.name}.log`), this.fullLog());
    }
    const pid = this.postmasterPid();
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // gone
      }
      for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    this.pmReaper.dismiss();
  }
}

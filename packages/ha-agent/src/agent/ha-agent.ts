import { PgToolsError, silentLogger, type Logger } from '@pgtools/core';
import { EtcdDcs } from '@pgtools/dcs';
import type { ClusterInfo, HealthApi, NodeState } from '@pgtools/health-api';
import type { Watchdog } from '@pgtools/watchdog';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import { effectiveDynamic } from '../config/rewind-config.js';
import { PostgresControl } from '../postgres/postgres-control.js';
import type { RunAs } from '../postgres/run-binary.js';
import { ActionExecutor, type ActionExecutorDeps } from './action-executor.js';
import { stopPrimary } from './bounded-stop.js';
import { createAgentApi, memberApiHosts } from './agent-api.js';
import { fenceFromConfig, watchdogFromConfig, type AgentFence } from './agent-fence.js';
import { debugFailure, debugFailureOr, errCode, errMessage } from './agent-errors.js';
import { AgentRunState } from './agent-state.js';
import { dcsOptionsFromConfig } from './dcs-options.js';
import { MaintenanceQueue } from './agent-maintenance.js';
import { createRestHandlers } from './agent-rest-handlers.js';
import type { AgentRole, HaAgentEvent } from './agent-events.js';
import { Failsafe } from './failsafe.js';
import { HaCycle } from './ha-cycle.js';
import { LEASE_GUARD_PERIOD_MS, LeaderLease } from './leader-lease.js';
import { checkLeaseGuard } from './lease-guard.js';
import { LeaderStream } from './leader-stream.js';
import { PostgresCallbacks } from './postgres-callbacks.js';
import { buildClusterInfo, buildMemberData, buildNodeState, type PublishedFacts } from './published-state.js';
import { SyncReplication } from './sync-replication.js';

/** Options of `HaAgent`. */
export interface HaAgentOptions {
  logger?: Logger;
  onEvent?: (event: HaAgentEvent) => void;
  /** Run PostgreSQL binaries as this OS user (the embedding process is root, e.g. a test runner). */
  runAs?: RunAs;
  /** Append PostgreSQL's output to this file; default: debug lines on the logger. */
  postgresLogFile?: string;
}

/**
 * The HA agent: Patroni's loop over etcd (`@pgtools/dcs`), PostgreSQL (`PostgresControl`), the REST
 * API (`@pgtools/health-api`) and the watchdog. Every `loop_wait` (earlier when the leader, config
 * or failover keys change, or at once when the postmaster dies) it reads the cluster, decides
 * (`decide`) and acts: bootstrap, clone, follow, take the leader key and promote, refresh it,
 * demote, restart a crashed primary in place, hand over on a switchover.
 *
 * @example
 * ```ts
 * import { HaAgent, loadConfig } from '@pgtools/ha-agent';
 * const { config } = await loadConfig('/etc/patroni/node1.yml');
 * const agent = new HaAgent(config, { onEvent: (e) => e.type === 'role_changed' && console.log(e.role) });
 * await agent.start();
 * process.once('SIGTERM', () => void agent.stop());
 * await agent.done;
 * ```
 */
export class HaAgent {
  private readonly state: AgentRunState;
  private readonly logger: Logger;
  private readonly onEventCb: ((event: HaAgentEvent) => void) | undefined;
  readonly pg: PostgresControl;
  readonly dcs: EtcdDcs;
  private readonly api: HealthApi;
  private readonly watchdog: Watchdog;
  private readonly fence: AgentFence | undefined;
  private readonly maintenance: MaintenanceQueue;
  private readonly lease: LeaderLease;
  private readonly executor: ActionExecutor;
  private readonly callbacks: PostgresCallbacks;
  private started = false;
  private loopPromise: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private wakePending = false;
  private unwatch: (() => void) | undefined;
  private leaseGuard: NodeJS.Timeout | undefined;
  private readonly checkLease: () => void;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;
  /** Resolves when the agent has stopped; rejects after a fatal error (system ID mismatch, failed bootstrap). */
  readonly done: Promise<void>;

  private lastLoopAt: number | undefined;
  private liveStatusAt = 0;
  private readonly cycle: HaCycle;
  private readonly failsafe: Failsafe;
  /** The dynamic configuration as read (`state.dynamic` is it with the local `postgresql:` overrides applied). */
  private readDynamic: DynamicConfig;

  constructor(config: HaConfig, options: HaAgentOptions = {}) {
    this.readDynamic = config.bootstrap.dcs;
    const state = new AgentRunState(config, effectiveDynamic(config.bootstrap.dcs, config));
    this.state = state;
    this.logger = options.logger ?? silentLogger;
    this.onEventCb = options.onEvent;
    this.lease = new LeaderLease();
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Whoever awaits `done` sees the error; this only keeps an unawaited rejection from crashing the process.
    this.done.catch(debugFailure(this.logger, 'the agent'));
    this.pg = new PostgresControl({
      config,
      dynamic: state.dynamic,
      runAs: options.runAs,
      logFile: options.postgresLogFile,
      logger: this.logger,
      onStarted: ({ pid, adopted }) => this.emit({ type: 'postmaster_started', pid, adopted }),
      onUnexpectedExit: (info) => this.onPostmasterDeath(info),
      onReloaded: () => this.callbacks.reloaded(),
      onScriptExit: (e) => this.emit({ type: 'script_exited', name: e.script, ...e }),
    });
    this.callbacks = new PostgresCallbacks({ config: () => state.config, logger: this.logger, runAs: options.runAs, onEvent: (e) => this.emit(e) });
    this.dcs = new EtcdDcs(dcsOptionsFromConfig(config, state.dynamic, this.logger));
    this.watchdog = watchdogFromConfig(config, state.dynamic, this.logger);
    this.fence = fenceFromConfig(config, this.logger, (event) => this.emit({ type: 'fence', event }));
    const emit = (event: HaAgentEvent): void => this.emit(event);
    // When each member was last seen in etcd, whatever this node's role: a new leader then keeps a
    // slot for the old primary whose member key expired, so it can rejoin without waiting for one.
    const membersSeenAt = new Map<string, number>();
    const sync = new SyncReplication({ state, dcs: this.dcs, pg: this.pg, logger: this.logger, emit });
    const parts: ActionExecutorDeps = {
      state,
      lease: this.lease,
      pg: this.pg,
      dcs: this.dcs,
      watchdog: this.watchdog,
      fence: this.fence,
      sync,
      callbacks: this.callbacks,
      logger: this.logger,
      membersSeenAt,
      emit,
      setRole: (role, reason) => this.setRole(role, reason),
      wake: () => this.wake(),
      memberData: () => buildMemberData(this.publishedFacts()),
    };
    this.executor = new ActionExecutor(parts);
    this.checkLease = () => checkLeaseGuard(parts);
    this.maintenance = new MaintenanceQueue({
      name: config.name,
      role: () => (this.pg.isRunning && state.pgStatus ? (state.pgStatus.inRecovery ? 'replica' : 'primary') : undefined),
      serverVersion: () => state.pgStatus?.serverVersion,
      pendingRestart: async () => this.pg.pendingRestart().catch(debugFailureOr(this.logger, 'reading pending_restart', false)),
      leader: () => state.view?.leader?.name,
      restartPostgres: (timeoutMs) => this.executor.restartInPlace(timeoutMs),
      wipeDataDir: () => this.executor.wipeDataDir(),
      longAction: () => this.executor.replica.description,
      cancelLongAction: () => this.executor.replica.cancel(),
      wake: () => this.wake(),
      log: (message) => this.logger.info(message),
    });
    const failsafe = (this.failsafe = new Failsafe(parts));
    this.cycle = new HaCycle({
      ...parts,
      failsafe,
      maintenance: this.maintenance,
      leaderStream: new LeaderStream(config.name),
      executor: this.executor,
      applyDynamic: (dynamic) => this.applyDynamic(dynamic),
    });
    this.api = createAgentApi(config.restapi, {
      getState: () => this.liveNodeState(),
      getCluster: () => this.clusterInfo(),
      handlers: {
        ...createRestHandlers({
          dcs: this.dcs,
          loopWaitSeconds: () => state.dynamic.loopWait,
          reload: async () => this.requestReload(),
          wake: () => this.wake(),
        }),
        ...this.maintenance.handlers(),
        failsafe: (body) => failsafe.receive(body),
        getFailsafe: () => failsafe.topologyAnswer(),
      },
      logger: this.logger,
      emit,
      memberApiHosts: () => memberApiHosts(state.view),
    });
  }

  /** The member name. */
  get name(): string {
    return this.state.name;
  }

  /** The role this node has now. */
  get role(): AgentRole {
    return this.state.role;
  }

  /** This node holds the leader key (as of its last refresh). */
  get holdsLeaderKey(): boolean {
    return this.lease.held;
  }

  /**
   * When the leader key's lease can expire at the earliest (ms since epoch), counted from when the last
   * successful refresh was sent; undefined when not the leader. The primary stops writing before then.
   */
  get leaderLeaseExpiresAt(): number | undefined {
    return this.lease.expiresAt;
  }

  /** PID (and process group) of the software fence while it runs: a power loss takes it down too. */
  get fencePid(): number | undefined {
    return this.fence?.process?.pid;
  }

  /** The REST API's base URL once started. */
  get apiUrl(): string | undefined {
    return this.api.url;
  }

  /** Starts the REST API, the etcd watch and the HA loop; resolves once they run. */
  async start(): Promise<void> {
    if (this.started) throw new PgToolsError('agent_already_started', 'HaAgent.start() was already called');
    this.started = true;
    await this.api.start();
    await this.fence?.start();
    if (this.pg.adoptRunning()) this.logger.info('found PostgreSQL already running; adopting it');
    this.unwatch = this.dcs.watch(() => this.wake());
    this.leaseGuard = setInterval(() => this.checkLease(), LEASE_GUARD_PERIOD_MS);
    this.leaseGuard.unref();
    this.emit({ type: 'started', apiUrl: this.api.url ?? '' });
    this.loopPromise = this.loop();
  }

  /**
   * SIGTERM semantics: finish the current cycle, stop PostgreSQL (fast), release the leader key so
   * a replica takes over at once, disarm the watchdog, stop the REST API. The member key stays with
   * `state: stopped` until its lease expires, like Patroni.
   */
  async stop(): Promise<void> {
    if (this.state.stopping) return this.done.catch(debugFailure(this.logger, 'the agent (already stopping)'));
    this.state.stopping = true;
    this.wake();
    await this.loopPromise?.catch(debugFailure(this.logger, 'the HA loop'));
    await this.shutdown(true);
    this.resolveDone();
  }

  /**
   * Simulates the loss of this node's agent (SIGKILL), for tests and chaos drills: the loop, the lease
   * guard, the etcd watch and connections and the REST API stop at once, and nothing is cleaned up.
   * The fence outlives it as it would a SIGKILL (for a power loss, kill `fencePid`'s group and
   * PostgreSQL too). The instance cannot be started again.
   */
  async abandon(): Promise<void> {
    this.state.abandoned = true;
    this.state.stopping = true;
    if (this.leaseGuard) clearInterval(this.leaseGuard);
    this.maintenance.cancelAll();
    // Like a killed agent's process group: no replica creation outlives it.
    void this.executor.replica.cancel();
    this.unwatch?.();
    this.wake();
    this.lease.lost();
    this.fence?.abandon();
    await Promise.all([
      this.api.stop().catch(debugFailure(this.logger, 'stopping the REST API')),
      this.dcs.close().catch(debugFailure(this.logger, 'closing the etcd client')),
    ]);
    await this.loopPromise?.catch(debugFailure(this.logger, 'the HA loop'));
    this.resolveDone();
  }

  /** Applies a new static configuration (SIGHUP); the next cycle uses it. */
  reload(config: HaConfig): void {
    this.state.config = config;
    void this.applyDynamic(this.readDynamic).catch((err) => this.logger.warn(`applying the new configuration: ${errMessage(err)}`));
    this.wake();
  }

  /** Runs a cycle now instead of at the next `loop_wait` tick. */
  wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  private emit(event: HaAgentEvent): void {
    try {
      this.onEventCb?.(event);
    } catch (err) {
      this.logger.warn('onEvent callback threw', { error: errMessage(err) });
    }
  }

  private setRole(role: AgentRole, reason: string): void {
    if (role === this.state.role) return;
    const previous = this.state.role;
    this.state.role = role;
    this.logger.info(`role changed: ${previous} -> ${role} (${reason})`);
    this.emit({ type: 'role_changed', previous, role, reason });
  }

  private async requestReload(): Promise<void> {
    this.pg.setConfig(this.state.config, this.state.dynamic);
    if (this.pg.isRunning) {
      await this.pg.configure({ standby: this.state.role !== 'primary', source: this.executor.currentSource() });
      this.pg.reload();
    }
  }

  private onPostmasterDeath(info: { pid: number; code: number | null; signal: string | null }): void {
    const state = this.state;
    if (state.abandoned) return;
    this.logger.warn(`postmaster (pid ${info.pid}) exited unexpectedly`, { code: info.code, signal: info.signal });
    this.emit({ type: 'postmaster_exited', ...info });
    state.postgresDownSince ??= Date.now();
    state.pgStatus = undefined;
    state.pgState = 'crashed';
    if (state.role === 'primary') state.mayHaveDiverged = true;
    this.wake();
  }

  private async applyDynamic(read: DynamicConfig): Promise<void> {
    const prev = this.state.dynamic;
    this.readDynamic = read;
    const dynamic = effectiveDynamic(read, this.state.config);
    this.state.dynamic = dynamic;
    this.pg.setConfig(this.state.config, dynamic);
    if (dynamic.ttl !== prev.ttl) this.dcs.setTtl(dynamic.ttl);
    if (dynamic.loopWait !== prev.loopWait) this.dcs.setLoopWait(dynamic.loopWait);
    if (await this.pg.syncAuthFiles()) this.logger.info('pg_hba / pg_ident changed: rewrote them and reloaded PostgreSQL');
  }

  private async loop(): Promise<void> {
    while (!this.state.stopping) {
      const began = Date.now();
      this.wakePending = false;
      try {
        await this.cycle.run();
      } catch (err) {
        if (err instanceof PgToolsError && err.code === 'ha_fatal') {
          await this.fatal(err);
          return;
        }
        this.logger.error(`HA loop error: ${errMessage(err)}`);
        this.emit({ type: 'loop_error', message: errMessage(err), code: errCode(err) });
      }
      this.lastLoopAt = Date.now();
      if (this.state.stopping) break;
      if (this.wakePending) continue;
      let wait = Math.max(0, this.state.dynamic.loopWait * 1000 - (Date.now() - began));
      if (this.cycle.retryInMs !== undefined) wait = Math.min(wait, this.cycle.retryInMs);
      // A scheduled switchover runs at its time, not at the next loop_wait tick after it.
      const scheduled = Date.parse(this.state.view?.failover?.value.scheduled_at ?? '');
      if (Number.isFinite(scheduled) && scheduled > Date.now()) wait = Math.min(wait, scheduled - Date.now() + 20);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wakeUp = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private async fatal(err: PgToolsError): Promise<void> {
    this.logger.error(err.message);
    this.emit({ type: 'fatal', message: err.message, code: err.code });
    this.state.stopping = true;
    await this.shutdown(false);
    this.rejectDone(err);
  }

  private async shutdown(stopPostgres: boolean): Promise<void> {
    const state = this.state;
    if (this.leaseGuard) clearInterval(this.leaseGuard);
    this.maintenance.cancelAll();
    await this.executor.cancelReplica('the agent is stopping');
    this.unwatch?.();
    await this.fence?.release();
    if (stopPostgres && this.pg.isRunning) {
      state.pgState = 'stopping';
      // Patroni's shutdown stops a primary within primary_stop_timeout too.
      const stop = await stopPrimary({ state, pg: this.pg, logger: this.logger, emit: (e) => this.emit(e) }, 'shutdown', this.lease.held).catch((err) => {
        this.logger.error(`stopping PostgreSQL: ${errMessage(err)}`);
        return { stopped: false };
      });
      if (stop.stopped) this.callbacks.stopped();
    }
    this.watchdog.disable();
    const leading = this.lease.held || state.view?.leader?.name === this.name;
    // The member key says `stopped` with where our WAL ended before the leader key goes, so the
    // replicas' race can tell who has all of it (Patroni's last_lsn), even one that had not yet
    // noted it streams from us.
    if (stopPostgres) {
      if (leading) state.finalLsn = await this.pg.cleanShutdownLsn().catch(debugFailure(this.logger, 'reading pg_controldata after the stop'));
      state.pgState = 'stopped';
      state.pgStatus = undefined;
      await this.dcs.touchMember(buildMemberData(this.publishedFacts())).catch(debugFailure(this.logger, 'publishing the stopped member key'));
      this.setRole('stopped', 'agent stopped');
    }
    if (leading) {
      try {
        await this.dcs.deleteLeader();
        this.emit({ type: 'leader_released', reason: 'shutdown' });
      } catch (err) {
        this.logger.warn(`could not release the leader key: ${errMessage(err)}`);
      }
      this.lease.lost();
    }
    await this.fence?.stop();
    await this.api.stop().catch(debugFailure(this.logger, 'stopping the REST API'));
    await this.dcs.close().catch(debugFailure(this.logger, 'closing the etcd client'));
    this.emit({ type: 'stopped' });
  }

  private publishedFacts(): PublishedFacts {
    const state = this.state;
    return {
      config: state.config,
      ttl: state.dynamic.ttl,
      maximumLagOnFailover: state.dynamic.maximumLagOnFailover,
      pgStatus: state.pgStatus,
      pgState: state.pgState,
      role: state.role,
      view: state.view,
      isLeader: this.lease.held,
      leaseExpiresAt: this.lease.expiresAt,
      dcsLastSeen: this.cycle.dcsLastSeenAt,
      lastLoopAt: this.lastLoopAt,
      watchdogFailed: state.config.watchdog.mode === 'required' && !this.watchdog.isHealthy,
      failsafeActive: this.failsafe.active,
      systemId: state.systemId,
      scheduledRestart: this.maintenance.scheduledRestart(),
      finalLsn: state.finalLsn,
    };
  }

  /**
   * The REST API's view, with PostgreSQL asked afresh (at most every 250 ms) like Patroni per request:
   * role, timeline and WAL positions must not lag a loop_wait behind (HAProxy, a new timeline).
   */
  private async liveNodeState(): Promise<NodeState> {
    const state = this.state;
    if (this.pg.isRunning && !state.abandoned && state.pgState === 'running' && Date.now() - this.liveStatusAt > 250) {
      this.liveStatusAt = Date.now();
      const s = await this.pg.status(1000);
      if (s && this.pg.isRunning && state.pgState === 'running') state.pgStatus = s;
    }
    return buildNodeState(this.publishedFacts());
  }

  private clusterInfo(): ClusterInfo {
    // The watched cache, not the last cycle's view: it has this agent's own writes (the sync key it just assigned) already.
    return buildClusterInfo(this.dcs.cachedView() ?? this.state.view);
  }
}

import { PgToolsError, silentLogger, type Logger } from '@pgtools/core';
import { EtcdDcs, type ClusterView as DcsView, type HistoryEntry, type MemberData } from '@pgtools/dcs';
import { createHealthApi, DEFAULT_PATRONI_VERSION, type ClusterInfo, type HealthApi, type NodeState } from '@pgtools/health-api';
import { createWatchdog, type Watchdog } from '@pgtools/watchdog';
import { parseDynamicConfig } from '../config/parse-config.js';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import { decide } from '../decision/decide.js';
import type { DecisionInput, LocalState } from '../decision/decision-input.js';
import type { HaAction } from '../decision/ha-action.js';
import { emptyDir } from '../postgres/clone-and-rewind.js';
import { wasPrimary } from '../postgres/controldata.js';
import { withConnection } from '../postgres/pg-connection.js';
import type { PgStatus } from '../postgres/pg-status.js';
import { PostgresControl } from '../postgres/postgres-control.js';
import type { RunAs } from '../postgres/run-binary.js';
import { AgentFence, FENCE_MARGIN_MS } from './agent-fence.js';
import { dcsOptionsFromConfig } from './dcs-options.js';
import { MaintenanceQueue } from './agent-maintenance.js';
import { createRestHandlers } from './agent-rest-handlers.js';
import type { AgentRole, HaAgentEvent } from './agent-events.js';
import { LeaderStream } from './leader-stream.js';
import { probeMembers } from './peer-probes.js';
import { pickSyncStandby, synchronousStandbyNames } from './sync-standby.js';
import { divergedFromHistory, parseTimelineHistory } from './timeline-history.js';
import { memberServer, syncStandbysOf, toDecisionView } from './view-mapping.js';

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
 * The lease guard stops a primary this long before its lease can expire: more than the software
 * fence's own margin, so the agent (when alive) acts first and the fence only backs it up.
 */
const LEASE_GUARD_MARGIN_MS = FENCE_MARGIN_MS + 400;

/**
 * While a replica has not streamed from its restarted leader, the next check comes this soon: the
 * leader accepts writes again ~0.2 s after a crash (issue 14), and every write until a replica
 * streams exists on the leader alone.
 */
const RECONNECT_RETRY_MS = 200;

/** PostgreSQL's state as published in the member key and `GET /patroni` (Patroni's words). */
type PgState = 'stopped' | 'crashed' | 'starting' | 'running' | 'stopping' | 'restarting' | 'restart failed' | 'creating replica' | 'initializing new cluster';

/** Slots of members absent this long are dropped (Patroni 4's `member_slots_ttl` default). */
const MEMBER_SLOTS_TTL_MS = 30 * 60_000;

const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const errCode = (err: unknown): string | undefined => (err instanceof PgToolsError ? err.code : undefined);

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
  private config: HaConfig;
  private dynamic: DynamicConfig;
  private readonly logger: Logger;
  private readonly onEventCb: ((event: HaAgentEvent) => void) | undefined;
  readonly pg: PostgresControl;
  readonly dcs: EtcdDcs;
  private readonly api: HealthApi;
  private readonly watchdog: Watchdog;
  private readonly fence: AgentFence | undefined;
  private readonly maintenance: MaintenanceQueue;
  private stopping = false;
  private abandoned = false;
  private started = false;
  private loopPromise: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private wakePending = false;
  private unwatch: (() => void) | undefined;
  private leaseGuard: NodeJS.Timeout | undefined;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;
  /** Resolves when the agent has stopped; rejects after a fatal error (system ID mismatch, failed bootstrap). */
  readonly done: Promise<void>;

  private view: DcsView | undefined;
  private dcsLastSeen: number | undefined;
  private pgStatus: PgStatus | undefined;
  private pgState: PgState = 'stopped';
  private isLeader = false;
  private leaseExpiresAt: number | undefined;
  private roleNow: AgentRole = 'uninitialized';
  private lastLoopAt: number | undefined;
  private postgresDownSince: number | undefined;
  private lastStartAttempt = 0;
  private systemId: string | undefined;
  /** This data dir may hold WAL the leader never saw (we ran as primary): check pg_rewind before following. */
  private mayHaveDiverged = false;
  private liveStatusAt = 0;
  /**
   * When each member was last seen in etcd, whatever this node's role: a new leader then keeps a
   * slot for the old primary whose member key expired, so it can rejoin without waiting for one.
   */
  private readonly membersSeenAt = new Map<string, number>();
  private divergenceCheckedAt = 0;
  /** The last decision asked for a quick retry: ms to the next cycle at most (etcd blip, a replica reconnecting). */
  private retryInMs: number | undefined;
  /** The leader's PostgreSQL incarnation and what this replica streamed from it. */
  private readonly leaderStream: LeaderStream;

  constructor(config: HaConfig, options: HaAgentOptions = {}) {
    this.config = config;
    this.dynamic = config.bootstrap.dcs;
    this.logger = options.logger ?? silentLogger;
    this.onEventCb = options.onEvent;
    this.leaderStream = new LeaderStream(config.name);
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => undefined);
    this.pg = new PostgresControl({
      config,
      dynamic: this.dynamic,
      runAs: options.runAs,
      logFile: options.postgresLogFile,
      logger: this.logger,
      onStarted: ({ pid, adopted }) => this.emit({ type: 'postmaster_started', pid, adopted }),
      onUnexpectedExit: (info) => this.onPostmasterDeath(info),
    });
    this.dcs = new EtcdDcs(dcsOptionsFromConfig(config, this.dynamic, this.logger));
    this.watchdog = createWatchdog({
      mode: config.watchdog.mode,
      device: config.watchdog.device,
      ttl: this.dynamic.ttl,
      loopWait: this.dynamic.loopWait,
      safetyMargin: config.watchdog.safetyMargin,
      logger: this.logger,
    });
    if (config.watchdog.softwareFence && process.platform === 'linux') {
      const logDir = typeof config.log.dir === 'string' ? config.log.dir : undefined;
      this.fence = new AgentFence({
        dataDir: config.postgresql.dataDir,
        logFile: logDir ? `${logDir}/pgtools-fence.log` : undefined,
        logger: this.logger,
        onEvent: (event) => this.emit({ type: 'fence', event }),
      });
    }
    this.maintenance = new MaintenanceQueue({
      name: config.name,
      role: () => (this.pg.isRunning && this.pgStatus ? (this.pgStatus.inRecovery ? 'replica' : 'primary') : undefined),
      serverVersion: () => this.pgStatus?.serverVersion,
      pendingRestart: async () =>
        withConnection(this.pg.localEndpoint(), async (c) => (await c.query<{ p: boolean }>('SELECT count(*) > 0 AS p FROM pg_settings WHERE pending_restart')).rows[0]?.p === true).catch(
          () => false,
        ),
      leader: () => this.view?.leader?.name,
      restartPostgres: (timeoutMs) => this.restartInPlace(timeoutMs),
      wipeDataDir: () => this.wipeDataDir(),
      wake: () => this.wake(),
      log: (message) => this.logger.info(message),
    });
    const ra = config.restapi;
    this.api = createHealthApi({
      listen: ra.listen,
      getState: () => this.liveNodeState(),
      getCluster: () => this.clusterInfo(),
      handlers: {
        ...createRestHandlers({ dcs: this.dcs, loopWaitSeconds: () => this.dynamic.loopWait, reload: async () => this.requestReload(), wake: () => this.wake() }),
        ...this.maintenance.handlers(),
      },
      logger: this.logger,
      onEvent: (e) => {
        if (e.type === 'request') this.emit({ type: 'api_request', method: e.method, path: e.path, status: e.status });
      },
      ...(ra.authentication ? { auth: { username: ra.authentication.username, password: ra.authentication.password } } : {}),
      ...(ra.allowlist ? { allowlist: ra.allowlist } : {}),
      ...(ra.certfile && ra.keyfile
        ? {
            tls: {
              certfile: ra.certfile,
              keyfile: ra.keyfile,
              ...(ra.keyfilePassword ? { keyfilePassword: ra.keyfilePassword } : {}),
              ...(ra.cafile ? { cafile: ra.cafile } : {}),
              ...(ra.verifyClient ? { verifyClient: ra.verifyClient } : {}),
            },
          }
        : {}),
    });
  }

  /** The member name. */
  get name(): string {
    return this.config.name;
  }

  /** The role this node has now. */
  get role(): AgentRole {
    return this.roleNow;
  }

  /** This node holds the leader key (as of its last refresh). */
  get holdsLeaderKey(): boolean {
    return this.isLeader;
  }

  /**
   * When the leader key's lease can expire at the earliest (ms since epoch), counted from the
   * moment the last successful refresh was sent; undefined when not the leader. The primary stops
   * accepting writes before this moment if it cannot refresh.
   */
  get leaderLeaseExpiresAt(): number | undefined {
    return this.isLeader ? this.leaseExpiresAt : undefined;
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
    this.leaseGuard = setInterval(() => this.checkLease(), 250);
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
    if (this.stopping) return this.done.catch(() => undefined);
    this.stopping = true;
    this.wake();
    await this.loopPromise?.catch(() => undefined);
    await this.shutdown(true);
    this.resolveDone();
  }

  /**
   * Simulates the loss of this node's agent (power cut, SIGKILL), for tests and chaos drills: the
   * loop, the lease guard, the etcd watch and connections and the REST API stop at once, and nothing
   * is cleaned up: the leader key and member key stay until their lease expires, PostgreSQL is left
   * as it is (kill it too to simulate a power loss). The instance cannot be started again.
   */
  async abandon(): Promise<void> {
    this.abandoned = true;
    this.stopping = true;
    if (this.leaseGuard) clearInterval(this.leaseGuard);
    this.maintenance.cancelAll();
    this.unwatch?.();
    this.wake();
    this.isLeader = false;
    this.fence?.abandon();
    await Promise.all([this.api.stop().catch(() => undefined), this.dcs.close().catch(() => undefined)]);
    await this.loopPromise?.catch(() => undefined);
    this.resolveDone();
  }

  /** Applies a new static configuration (SIGHUP); the next cycle uses it. */
  reload(config: HaConfig): void {
    this.config = config;
    this.applyDynamic(this.dynamic);
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
    if (role === this.roleNow) return;
    const previous = this.roleNow;
    this.roleNow = role;
    this.logger.info(`role changed: ${previous} -> ${role} (${reason})`);
    this.emit({ type: 'role_changed', previous, role, reason });
  }

  private async requestReload(): Promise<void> {
    this.pg.setConfig(this.config, this.dynamic);
    if (this.pg.isRunning) {
      await this.pg.configure({ standby: this.roleNow !== 'primary', source: this.currentSource() });
      this.pg.reload();
    }
  }

  private onPostmasterDeath(info: { pid: number; code: number | null; signal: string | null }): void {
    if (this.abandoned) return;
    this.logger.warn(`postmaster (pid ${info.pid}) exited unexpectedly`, { code: info.code, signal: info.signal });
    this.emit({ type: 'postmaster_exited', ...info });
    this.postgresDownSince ??= Date.now();
    this.pgStatus = undefined;
    this.pgState = 'crashed';
    if (this.roleNow === 'primary') this.mayHaveDiverged = true;
    this.wake();
  }

  /** The primary must not outlive its lease: if the loop could not refresh it in time, stop PostgreSQL now. */
  private checkLease(): void {
    if (!this.isLeader || this.leaseExpiresAt === undefined || this.stopping) return;
    // The margin covers this timer's period, a busy event loop and the immediate stop itself.
    if (Date.now() < this.leaseExpiresAt - LEASE_GUARD_MARGIN_MS) return;
    this.isLeader = false;
    this.logger.error('leader lease about to expire without a refresh: stopping PostgreSQL');
    this.emit({ type: 'leader_released', reason: 'lease expired before it could be refreshed' });
    if (this.pg.isRunning && this.roleNow === 'primary') {
      this.mayHaveDiverged = true;
      this.emit({ type: 'demoted', reason: 'leader lease expired', mode: 'immediate' });
      void this.pg.stop('immediate').then(() => this.setRole('replica', 'leader lease expired'));
    }
  }

  private applyDynamic(dynamic: DynamicConfig): void {
    const prev = this.dynamic;
    this.dynamic = dynamic;
    this.pg.setConfig(this.config, dynamic);
    if (dynamic.ttl !== prev.ttl) this.dcs.setTtl(dynamic.ttl);
    if (dynamic.loopWait !== prev.loopWait) this.dcs.setLoopWait(dynamic.loopWait);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const began = Date.now();
      this.wakePending = false;
      try {
        await this.cycle();
      } catch (err) {
        if (err instanceof PgToolsError && err.code === 'ha_fatal') {
          await this.fatal(err);
          return;
        }
        this.logger.error(`HA loop error: ${errMessage(err)}`);
        this.emit({ type: 'loop_error', message: errMessage(err), code: errCode(err) });
      }
      this.lastLoopAt = Date.now();
      if (this.stopping) break;
      if (this.wakePending) continue;
      let wait = Math.max(0, this.dynamic.loopWait * 1000 - (Date.now() - began));
      if (this.retryInMs !== undefined) wait = Math.min(wait, this.retryInMs);
      // A scheduled switchover runs at its time, not at the next loop_wait tick after it.
      const scheduled = Date.parse(this.view?.failover?.value.scheduled_at ?? '');
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
    this.stopping = true;
    await this.shutdown(false);
    this.rejectDone(err);
  }

  private async shutdown(stopPostgres: boolean): Promise<void> {
    if (this.leaseGuard) clearInterval(this.leaseGuard);
    this.maintenance.cancelAll();
    this.unwatch?.();
    await this.fence?.release();
    if (stopPostgres && this.pg.isRunning) {
      this.pgState = 'stopping';
      await this.pg.stop('fast').catch((err) => this.logger.error(`stopping PostgreSQL: ${errMessage(err)}`));
    }
    this.watchdog.disable();
    if (this.isLeader || this.view?.leader?.name === this.name) {
      try {
        await this.dcs.deleteLeader();
        this.emit({ type: 'leader_released', reason: 'shutdown' });
      } catch (err) {
        this.logger.warn(`could not release the leader key: ${errMessage(err)}`);
      }
      this.isLeader = false;
    }
    if (stopPostgres) {
      this.pgState = 'stopped';
      this.pgStatus = undefined;
      await this.dcs.touchMember(this.memberData()).catch(() => undefined);
      this.setRole('stopped', 'agent stopped');
    }
    await this.fence?.stop();
    await this.api.stop().catch(() => undefined);
    await this.dcs.close().catch(() => undefined);
    this.emit({ type: 'stopped' });
  }

  // ---- one HA cycle ----

  private async cycle(): Promise<void> {
    let dcsReachable = true;
    try {
      this.view = await this.dcs.currentView();
      this.dcsLastSeen = Date.now();
    } catch (err) {
      dcsReachable = false;
      this.logger.warn(`DCS is not accessible: ${errMessage(err)}`);
    }
    const view = this.view;
    if (dcsReachable && view) for (const m of view.members) this.membersSeenAt.set(m.name, Date.now());
    if (view?.config) {
      try {
        this.applyDynamic(parseDynamicConfig(view.config.value, 'config'));
      } catch (err) {
        this.logger.warn(`ignoring invalid dynamic configuration in etcd: ${errMessage(err)}`);
      }
    }
    const paused = view?.config?.value.pause === true;
    const cluster = view ? toDecisionView(view) : { members: [] };
    if (dcsReachable) this.leaderStream.observeView(cluster, Date.now());

    if (dcsReachable && !this.stopping) await this.maintenance.runDue();
    const local = await this.observeLocal();
    if (dcsReachable && view && !view.members.some((m) => m.name === this.name)) {
      await this.dcs.touchMember(this.memberData()).catch(() => undefined);
    }

    let leaderRefreshOk: boolean | undefined;
    if (dcsReachable && view?.leader?.name === this.name) {
      leaderRefreshOk = await this.refreshLeader();
    } else if (this.isLeader && view?.leader?.name !== this.name) {
      this.isLeader = false;
    }

    const input: DecisionInput = {
      cluster,
      local,
      config: {
        name: this.name,
        ttl: this.dynamic.ttl,
        loopWait: this.dynamic.loopWait,
        maximumLagOnFailover: this.dynamic.maximumLagOnFailover,
        primaryStartTimeout: this.dynamic.primaryStartTimeout,
        synchronousMode: this.dynamic.synchronousMode,
        tags: this.config.tags,
        watchdogUnusable: this.config.watchdog.mode === 'required' && !this.watchdog.isHealthy,
      },
      paused,
      dcsReachable: dcsReachable && view !== undefined,
      now: Date.now(),
    };
    if (leaderRefreshOk !== undefined) input.leaderRefreshOk = leaderRefreshOk;
    const lastLeader = this.leaderStream.lastLeader;
    if (lastLeader) input.lastLeader = lastLeader;
    if (this.isLeader && this.leaseExpiresAt !== undefined) input.leaseValidForMs = this.leaseExpiresAt - LEASE_GUARD_MARGIN_MS - Date.now();
    let action = decide(input);
    if (action.kind === 'probe_members') {
      const members = input.cluster.members.filter((m) => action.kind === 'probe_members' && action.members.includes(m.name));
      input.peerProbes = await probeMembers(members);
      action = decide(input);
    }
    this.logger.info(action.message);
    this.emit({ type: 'action', action });
    this.retryInMs = action.kind === 'wait' && action.retrySoon === true ? 500 : action.kind === 'follow' && action.reconnect === true ? RECONNECT_RETRY_MS : undefined;
    // A primary restarted in place must wait for its synchronous standby from its first commit on.
    const syncKey = view?.sync?.value;
    if (this.dynamic.synchronousMode && syncKey?.leader === this.name && this.pg.synchronousStandbyNames === undefined) {
      await this.pg.setSynchronousStandbyNames(synchronousStandbyNames(syncStandbysOf(syncKey)[0], this.dynamic.synchronousModeStrict));
    }
    await this.execute(action, view);
    await this.afterAction(dcsReachable);
  }

  private async observeLocal(): Promise<LocalState> {
    const local: LocalState = { postgresRunning: false, role: 'replica', dataDirEmpty: false };
    if (this.pg.isRunning) {
      const status = await this.pg.status();
      if (status) {
        this.pgStatus = status;
        this.pgState = 'running';
        this.postgresDownSince = undefined;
        local.postgresRunning = true;
        local.role = status.inRecovery ? 'replica' : 'primary';
        local.timeline = status.timeline;
        if (status.walPosition !== undefined) local.walPosition = status.walPosition;
        if (status.receivedLsn !== undefined) local.receivedLsn = status.receivedLsn;
        if (status.replayedLsn !== undefined) local.replayedLsn = status.replayedLsn;
        local.systemId = status.systemId;
        this.systemId = status.systemId;
        const leader = this.leaderStream.lastLeader?.name;
        this.leaderStream.observeReceiver(status, this.leaderServer(leader, this.view));
        const streamed = this.leaderStream.streamedAt;
        if (streamed !== undefined) local.streamedFromLeaderAt = streamed;
        this.setRole(status.inRecovery ? 'replica' : 'primary', 'observed');
      } else {
        this.pgStatus = undefined;
        this.pgState = 'starting';
        local.postgresRunning = true;
        local.postgresStarting = true;
      }
    } else {
      this.pgStatus = undefined;
      local.dataDirEmpty = await this.pg.dataDirEmpty();
      if (!local.dataDirEmpty) {
        if (this.pgState === 'running' || this.pgState === 'starting') this.pgState = 'stopped';
        this.postgresDownSince ??= Date.now();
        local.postgresDownSince = this.postgresDownSince;
        if (!this.systemId) {
          const cd = await this.pg.controlData().catch(() => undefined);
          if (cd?.systemId) this.systemId = cd.systemId;
        }
        if (this.systemId) local.systemId = this.systemId;
      } else {
        this.pgState = 'stopped';
        this.setRole('uninitialized', 'empty data directory');
      }
    }
    return local;
  }

  private async refreshLeader(): Promise<boolean> {
    const t0 = Date.now();
    try {
      const ok = await this.dcs.updateLeader();
      if (ok) {
        if (!this.isLeader) this.emit({ type: 'leader_acquired' });
        this.isLeader = true;
        this.leaseExpiresAt = t0 + this.dynamic.ttl * 1000;
        this.watchdog.keepalive();
        this.fence?.keepalive(this.leaseExpiresAt - Date.now());
      } else {
        this.isLeader = false;
      }
      return ok;
    } catch (err) {
      this.logger.error(`failed to update leader lock: ${errMessage(err)}`);
      return false;
    }
  }

  private async takeLeader(how: 'race' | 'bootstrap'): Promise<boolean> {
    const t0 = Date.now();
    const won = how === 'bootstrap' ? await this.dcs.takeLeader() : await this.dcs.attemptToAcquireLeader();
    if (won) {
      this.isLeader = true;
      this.leaseExpiresAt = t0 + this.dynamic.ttl * 1000;
      this.emit({ type: 'leader_acquired' });
    }
    return won;
  }

  private currentSource(): ReturnType<PostgresControl['standbySource']> {
    const leader = this.view?.leader;
    if (!leader || leader.name === this.name) return undefined;
    return this.pg.standbySource(memberServer(this.view?.members.find((m) => m.name === leader.name)));
  }

  private leaderServer(name: string | undefined, view: DcsView | undefined): { host: string; port: number } | undefined {
    if (!name || name === this.name) return undefined;
    return memberServer(view?.members.find((m) => m.name === name));
  }

  private async execute(action: HaAction, view: DcsView | undefined): Promise<void> {
    if (this.abandoned) return;
    switch (action.kind) {
      case 'bootstrap':
        return this.bootstrap();
      case 'clone': {
        const source = this.leaderServer(action.from, view);
        if (!source) return;
        this.pgState = 'creating replica';
        await this.dcs.touchMember(this.memberData()).catch(() => undefined);
        await this.pg.clone(source);
        this.emit({ type: 'cloned', from: action.from });
        this.systemId = undefined;
        const leaderName = view?.leader?.name;
        await this.startReplica(this.leaderServer(leaderName, view), false);
        return;
      }
      case 'exit_system_id_mismatch':
        throw new PgToolsError('ha_fatal', action.message);
      case 'acquire_leader_and_promote':
      case 'acquire_leader': {
        if (!(await this.takeLeader('race'))) {
          this.logger.info('lost the leader race');
          return;
        }
        if (action.clearFailoverKey) await this.dcs.clearFailover().catch(() => undefined);
        if (action.kind === 'acquire_leader_and_promote') await this.promote('acquired the leader key');
        return;
      }
      case 'refresh_leader':
        if (action.clearFailoverKey) await this.dcs.clearFailover().catch(() => undefined);
        return;
      case 'refresh_leader_and_promote':
        if (action.clearFailoverKey) await this.dcs.clearFailover().catch(() => undefined);
        await this.promote('holding the leader key');
        return;
      case 'release_leader':
        await this.dcs.deleteLeader().catch(() => undefined);
        this.isLeader = false;
        this.emit({ type: 'leader_released', reason: action.reason });
        return;
      case 'follow': {
        const leader = action.leader ?? view?.leader?.name;
        const server = this.leaderServer(leader, view);
        if (!server) return;
        if (this.dynamic.postgresql.usePgRewind && !this.mayHaveDiverged && leader && (await this.replicaDiverged(leader, server, view))) {
          this.logger.warn(`this replica replayed WAL that ${leader}'s timeline history does not contain (it streamed from a primary that kept writing): rewinding`);
          this.pgState = 'stopping';
          await this.pg.stop('fast');
          await this.startReplica(server, true, true);
          return;
        }
        if (this.mayHaveDiverged && this.dynamic.postgresql.usePgRewind) {
          // A former primary must be rewound before it can stream from the new timeline.
          this.pgState = 'stopping';
          await this.pg.stop('fast');
          await this.startReplica(server, true);
          return;
        }
        // A reload also wakes the startup process out of its wal_retrieve_retry_interval wait.
        if (!(await this.pg.follow(server)) && action.reconnect) this.pg.reload();
        return;
      }
      case 'demote':
        return this.demote(action.mode, action.reason, action.releaseLeader, view);
      case 'do_switchover':
        return this.demote('graceful', `switchover to ${action.candidate ?? 'any healthy member'}`, true, view);
      case 'restart_postgres_as_primary': {
        if (Date.now() - this.lastStartAttempt < 500) return;
        this.lastStartAttempt = Date.now();
        this.pgState = 'starting';
        const ready = await this.pg.start({ standby: false }, Math.max(2000, (this.dynamic.ttl - this.dynamic.loopWait) * 500));
        if (ready) {
          this.postgresDownSince = undefined;
          this.mayHaveDiverged = false;
          this.setRole('primary', 'restarted in place after a crash');
        }
        return;
      }
      case 'start_postgres_as_replica': {
        if (Date.now() - this.lastStartAttempt < 500) return;
        const cd = await this.pg.controlData().catch(() => undefined);
        if (cd && wasPrimary(cd.clusterState)) this.mayHaveDiverged = true;
        await this.startReplica(this.leaderServer(action.leader, view), this.mayHaveDiverged);
        return;
      }
      case 'probe_members':
      case 'wait':
      case 'wait_for_bootstrap':
      case 'paused_noop':
        return;
      default: {
        const unhandled: never = action;
        throw new PgToolsError('ha_unknown_action', `no executor for action ${JSON.stringify(unhandled)}`);
      }
    }
  }

  /**
   * A replica on an older timeline than the leader's (at most every 5 s): is it past the point
   * where the leader's timeline forked from its own? Read from the leader's history file.
   */
  private async replicaDiverged(leader: string, server: { host: string; port: number }, view: DcsView | undefined): Promise<boolean> {
    const s = this.pgStatus;
    const leaderTimeline = view?.members.find((m) => m.name === leader)?.data.timeline;
    if (!s?.inRecovery || typeof leaderTimeline !== 'number' || leaderTimeline <= s.timeline) return false;
    if (Date.now() - this.divergenceCheckedAt < 5000) return false;
    this.divergenceCheckedAt = Date.now();
    const a = this.config.postgresql.authentication;
    const user = a.rewind ?? a.superuser;
    const file = `pg_wal/${leaderTimeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
    try {
      const text = await withConnection({ host: server.host, port: server.port, user: user.username, password: user.password }, async (c) => (await c.query<{ t: string }>('SELECT pg_read_file($1) AS t', [file])).rows[0]?.t ?? '');
      // PostgreSQL checks the replay position against the fork: WAL received past it but not replayed is simply discarded.
      return divergedFromHistory(s.timeline, s.replayedLsn ?? s.receivedLsn ?? 0, parseTimelineHistory(text));
    } catch (err) {
      this.logger.debug(`timeline history of ${leader}: ${errMessage(err)}`);
      return false;
    }
  }

  /** `POST /restart`: stop (fast) and start again in the role PostgreSQL has now, holding the leader key if it holds it. */
  private async restartInPlace(timeoutMs: number): Promise<boolean> {
    const standby = this.pgStatus ? this.pgStatus.inRecovery : this.roleNow !== 'primary';
    this.logger.info(`restarting PostgreSQL as ${standby ? 'a replica' : 'primary'} (REST request)`);
    this.pgState = 'restarting';
    await this.pg.stop('fast');
    this.pgStatus = undefined;
    this.lastStartAttempt = Date.now();
    const ready = await this.pg.start({ standby, source: standby ? this.currentSource() : undefined }, timeoutMs);
    this.pgState = ready ? 'running' : 'restart failed';
    if (ready) this.postgresDownSince = undefined;
    return ready;
  }

  /** `POST /reinitialize`: the data dir is emptied; the next decision clones it from the leader. */
  private async wipeDataDir(): Promise<void> {
    this.logger.warn('reinitializing: removing the data directory to clone it again from the leader');
    this.pgState = 'stopping';
    await this.pg.stop('immediate');
    await emptyDir(this.pg.dataDir);
    this.pgStatus = undefined;
    this.systemId = undefined;
    this.mayHaveDiverged = false;
    this.postgresDownSince = undefined;
    this.pgState = 'stopped';
    this.setRole('uninitialized', 'reinitialize requested');
  }

  /** `wasReplica`: the rewind was a precaution for a replica; if it fails, start it as it was (never worse than before). */
  private async startReplica(leader: { host: string; port: number } | undefined, checkRewind: boolean, wasReplica = false): Promise<void> {
    if (checkRewind && leader && this.dynamic.postgresql.usePgRewind) {
      try {
        const changed = await this.pg.rewind(leader);
        this.mayHaveDiverged = false;
        this.emit({ type: 'rewound', from: `${leader.host}:${leader.port}`, changed });
      } catch (err) {
        this.logger.error(`pg_rewind failed: ${errMessage(err)}`);
        this.emit({ type: 'rewind_failed', message: errMessage(err) });
        if (wasReplica) return this.startReplica(leader, false);
        // Starting the diverged data dir as a standby cannot work (its timeline is not in the leader's history).
        this.pgState = 'stopped';
        if (this.dynamic.postgresql.removeDataDirectoryOnRewindFailure) {
          this.logger.warn('remove_data_directory_on_rewind_failure: emptying the data directory to clone it again');
          await emptyDir(this.pg.dataDir);
          this.systemId = undefined;
          this.mayHaveDiverged = false;
          this.wake();
        } else {
          this.logger.error('not starting PostgreSQL: it would diverge from the leader (set remove_data_directory_on_rewind_failure to re-clone)');
        }
        return;
      }
    }
    // A crashed primary started read-only (no leader yet, or no rewind) first ends its crash recovery
    // in single-user mode: recovered in standby mode instead, its WAL ends in a torn record that a
    // later pg_rewind cannot read past ("could not find previous WAL record").
    if (this.mayHaveDiverged) await this.pg.finishCrashRecovery();
    this.lastStartAttempt = Date.now();
    this.pgState = 'starting';
    const ready = await this.pg.start({ standby: true, source: this.pg.standbySource(leader) }, 30_000);
    if (ready) {
      this.postgresDownSince = undefined;
      this.setRole('replica', leader ? 'following the leader' : 'started read-only');
    }
  }

  private async bootstrap(): Promise<void> {
    if (!(await this.dcs.initialize(true, ''))) {
      this.logger.info('another member is bootstrapping the cluster');
      return;
    }
    this.pgState = 'initializing new cluster';
    try {
      await this.pg.initdb();
      if (!(await this.pg.start({ standby: false }, 120_000))) throw new PgToolsError('postgres_start_failed', 'PostgreSQL did not start after initdb');
      await this.pg.createUsers();
      const status = await this.pg.status();
      const cd = await this.pg.controlData();
      const sysid = status?.systemId || cd?.systemId || '';
      if (this.config.watchdog.mode !== 'off') await this.watchdog.activate();
      await this.dcs.initialize(false, sysid);
      await this.dcs.setConfig(this.config.bootstrap.dcsDocument, 0);
      await this.takeLeader('bootstrap');
      if (this.dynamic.synchronousMode) await this.dcs.setSync({ leader: this.name, sync_standby: null });
      this.systemId = sysid;
      this.mayHaveDiverged = false;
      this.setRole('primary', 'bootstrapped a new cluster');
      this.emit({ type: 'bootstrapped', systemId: sysid });
    } catch (err) {
      this.logger.error(`bootstrap failed: ${errMessage(err)}`);
      await this.pg.stop('immediate').catch(() => undefined);
      await this.dcs.cancelInitialization().catch(() => undefined);
      await this.pg.moveAsideFailed().catch(() => undefined);
      throw new PgToolsError('ha_fatal', `bootstrap failed: ${errMessage(err)}`, { cause: err });
    }
  }

  private async promote(reason: string): Promise<void> {
    if (this.config.watchdog.mode !== 'off' && !(await this.watchdog.activate()) && this.config.watchdog.mode === 'required') {
      await this.dcs.deleteLeader().catch(() => undefined);
      this.isLeader = false;
      return;
    }
    if (this.dynamic.synchronousMode && !(await this.claimSyncKey())) return;
    const before = this.pgStatus?.timeline;
    await this.pg.promote();
    this.mayHaveDiverged = false;
    // Before the replicas point at us: a standby whose slot is missing retries only after
    // wal_retrieve_retry_interval (5 s).
    await this.maintainSlots();
    const status = await this.pg.status();
    if (status) this.pgStatus = status;
    this.setRole('primary', reason);
    this.emit({ type: 'promoted', timeline: status?.timeline });
    if (status && before !== undefined && status.timeline > before) await this.writeHistory(status.timeline).catch((err) => this.logger.warn(`history: ${errMessage(err)}`));
  }

  private async writeHistory(timeline: number): Promise<void> {
    const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
    const text = await withConnection(this.pg.localEndpoint(), async (c) => (await c.query<{ t: string }>('SELECT pg_read_file($1) AS t', [file])).rows[0]?.t ?? '');
    const switches = parseTimelineHistory(text);
    const view = await this.dcs.loadCluster();
    const existing: HistoryEntry[] = view.history?.value ?? [];
    const known = new Set(existing.map((e) => e[0]));
    const lines = [...existing];
    const ts = new Date().toISOString().replace('Z', '+00:00');
    for (const s of switches) if (!known.has(s.timeline)) lines.push([s.timeline, s.lsn, s.reason, ts, this.name]);
    if (lines.length > existing.length) await this.dcs.setHistory(lines);
  }

  private async demote(mode: 'immediate' | 'graceful', reason: string, releaseLeader: boolean, view: DcsView | undefined): Promise<void> {
    this.logger.warn(`demoting: ${reason}`);
    this.pgState = 'stopping';
    if (mode === 'graceful') {
      await this.pg.checkpoint().catch((err) => this.logger.warn(`checkpoint before demote failed: ${errMessage(err)}`));
      await this.fence?.release();
      await this.pg.stop('fast');
    } else {
      await this.fence?.release();
      await this.pg.stop('immediate');
      this.mayHaveDiverged = true;
    }
    this.watchdog.disable();
    await this.pg.setSynchronousStandbyNames(undefined);
    if (releaseLeader) {
      await this.dcs.deleteLeader().catch((err) => this.logger.warn(`could not release the leader key: ${errMessage(err)}`));
      this.emit({ type: 'leader_released', reason });
    }
    this.isLeader = false;
    this.leaseExpiresAt = undefined;
    this.emit({ type: 'demoted', reason, mode });
    const leader = view?.leader?.name;
    const server = leader !== undefined && leader !== this.name ? this.leaderServer(leader, view) : undefined;
    await this.startReplica(server, mode === 'immediate' && server !== undefined);
    this.setRole('replica', reason);
  }

  /** After the action: refresh the local status, publish the member key, and as leader the status key and slots. */
  private async afterAction(dcsReachable: boolean): Promise<void> {
    if (this.abandoned) return;
    if (this.pg.isRunning) {
      const s = await this.pg.status();
      if (s) {
        this.pgStatus = s;
        this.pgState = 'running';
      }
    }
    await this.holdOrReleaseFence();
    if (!dcsReachable) return;
    // These writes only inform others. Each may hang up to retry_timeout when etcd degrades right
    // after a successful refresh; waiting for both would push the next refresh attempt (and so the
    // demotion) past loop_wait + 2 * retry_timeout, the bound ttl is validated against. So the loop
    // waits for them at most retry_timeout in all; a late one finishes (or fails) on its own.
    const budgetEnds = Date.now() + this.dynamic.retryTimeout * 1000;
    const bounded = async (p: Promise<unknown>): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, budgetEnds - Date.now()))))]);
      clearTimeout(timer);
    };
    await bounded(this.dcs.touchMember(this.memberData()).catch((err) => this.logger.warn(`member key: ${errMessage(err)}`)));
    const s = this.pgStatus;
    if (this.isLeader && s && !s.inRecovery) {
      if (this.view?.config?.value.pause !== true) {
        await this.manageSyncReplication().catch((err) => this.logger.warn(`synchronous replication: ${errMessage(err)}`));
      }
      if (s.walPosition !== undefined && Date.now() < budgetEnds) await bounded(this.dcs.setStatus({ optime: s.walPosition }));
      await this.maintainSlots();
    }
  }

  /**
   * Before promoting in synchronous mode: make the `sync` key name this node as leader with no
   * standby, by compare-and-swap on the key that made it eligible, so no other member (nor the old
   * leader coming back) may promote over commits only this node has. False = not now.
   */
  private async claimSyncKey(): Promise<boolean> {
    let sync = this.view?.sync;
    for (let attempt = 0; attempt < 2; attempt++) {
      const v = sync?.value;
      const listed = v === undefined || v.leader === this.name || syncStandbysOf(v).includes(this.name);
      if (!listed) break;
      if (await this.dcs.setSync({ leader: this.name, sync_standby: null }, sync?.modRevision ?? 0)) {
        await this.pg.setSynchronousStandbyNames(synchronousStandbyNames(undefined, this.dynamic.synchronousModeStrict));
        return true;
      }
      sync = (await this.dcs.loadCluster()).sync;
    }
    this.logger.warn('not promoting: this node is no longer the synchronous standby in the sync key');
    return false;
  }

  /**
   * Synchronous mode on the leader (Patroni's `process_sync_replication`): keep one streaming
   * member as the synchronous standby. The `sync` key only names a standby PostgreSQL already waits
   * for; a standby loses the privilege in the key before PostgreSQL stops waiting for it. So any
   * member the key names has every acknowledged commit and may take over. Off: hand
   * `synchronous_standby_names` back to the configuration and remove the key.
   */
  private async manageSyncReplication(): Promise<void> {
    const view = this.view;
    const s = this.pgStatus;
    if (!view || !s) return;
    const primary = { standby: false };
    const key = view.sync;
    if (!this.dynamic.synchronousMode) {
      if (this.pg.synchronousStandbyNames !== undefined) await this.pg.setSynchronousStandbyNames(undefined, primary);
      if (key?.value.leader === this.name) await this.dcs.deleteSync(key.modRevision);
      return;
    }
    const strict = this.dynamic.synchronousModeStrict;
    const mine = key?.value.leader === this.name;
    const current = mine ? syncStandbysOf(key.value)[0] : undefined;
    const members = view.members.map((m) => ({ name: m.name, nosync: m.data.tags?.nosync === true }));
    const choice = pickSyncStandby({ me: this.name, current, members, replication: s.replication });
    if (mine && choice.picked === current) {
      await this.pg.setSynchronousStandbyNames(synchronousStandbyNames(current, strict), primary);
      return;
    }
    let revision = key?.modRevision ?? 0;
    if (!mine || current !== undefined) {
      if (current !== undefined) this.logger.info(`Removing synchronous privilege from ${current}`);
      if (!(await this.dcs.setSync({ leader: this.name, sync_standby: null }, revision))) return;
      revision = (await this.dcs.loadCluster()).sync?.modRevision ?? 0;
    }
    await this.pg.setSynchronousStandbyNames(synchronousStandbyNames(choice.picked, strict), primary);
    const picked = choice.picked;
    if (picked === undefined) return;
    let confirmed = choice.confirmed === picked;
    for (let i = 0; i < 15 && !confirmed && !this.stopping; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await this.pg.status(1000);
      confirmed = now?.replication.some((r) => r.application_name === picked && r.sync_state === 'sync') ?? false;
    }
    if (!confirmed) {
      this.logger.info(`Assigning synchronous standby status to ${picked}`);
      return;
    }
    if (await this.dcs.setSync({ leader: this.name, sync_standby: picked }, revision)) {
      this.logger.info(`Synchronous standby status assigned to ${picked}`);
      this.emit({ type: 'sync_standby_changed', standby: picked });
    }
  }

  /** On the leader: a slot for every member seen lately, none for members gone for good. */
  private async maintainSlots(): Promise<void> {
    const now = Date.now();
    const recent: string[] = [];
    const gone: string[] = [];
    for (const [name, seenAt] of this.membersSeenAt) {
      if (name === this.name) continue;
      (now - seenAt < MEMBER_SLOTS_TTL_MS ? recent : gone).push(name);
    }
    await this.pg.ensureSlots(recent).catch((err) => this.logger.warn(`replication slots: ${errMessage(err)}`));
    if (gone.length === 0) return;
    const dropped = await this.pg.dropSlots(gone).catch((err) => {
      this.logger.warn(`replication slots: ${errMessage(err)}`);
      return [];
    });
    for (const name of gone) this.membersSeenAt.delete(name);
    if (dropped.length > 0) this.logger.info(`dropped the replication slots of members gone for ${MEMBER_SLOTS_TTL_MS / 60_000} min: ${dropped.join(', ')}`);
  }

  /** Armed exactly while this node runs the primary under a live lease, outside pause. */
  private async holdOrReleaseFence(): Promise<void> {
    if (!this.fence) return;
    const pm = this.pg.postmaster;
    const s = this.pgStatus;
    const paused = this.view?.config?.value.pause === true;
    if (this.isLeader && !this.stopping && !paused && pm?.isRunning && s && !s.inRecovery && this.leaseExpiresAt !== undefined) {
      await this.fence.hold({ postmasterPid: pm.pid, leaseValidForMs: this.leaseExpiresAt - Date.now() });
    } else {
      await this.fence.release();
    }
  }

  // ---- what others see ----

  private memberData(): MemberData {
    const s = this.pgStatus;
    const data: MemberData = {
      conn_url: `postgres://${this.config.postgresql.connectAddress}/postgres`,
      api_url: `${this.config.restapi.certfile ? 'https' : 'http'}://${this.config.restapi.connectAddress}/patroni`,
      state: this.pgState,
      role: s ? (s.inRecovery ? 'replica' : 'master') : this.roleNow === 'uninitialized' ? 'uninitialized' : this.roleNow === 'primary' ? 'master' : 'replica',
      version: DEFAULT_PATRONI_VERSION,
    };
    if (s) {
      const xlog = s.inRecovery ? Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0) : s.walPosition;
      if (xlog !== undefined) data.xlog_location = xlog;
      data.timeline = s.timeline;
      if (s.postmasterStartTime) data.postmaster_start_time = s.postmasterStartTime.toISOString();
    }
    if (this.view?.config?.value.pause === true) data.pause = true;
    const sr = this.maintenance.scheduledRestart();
    if (sr) data.scheduled_restart = sr;
    const tags: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.config.tags)) if (v !== false && v !== undefined) tags[k] = v;
    if (Object.keys(tags).length > 0) data.tags = tags;
    return data;
  }

  /**
   * The REST API's view, with PostgreSQL asked afresh (at most every 250 ms) like Patroni does per
   * request: role, timeline and WAL positions must not lag a loop_wait behind (HAProxy checks, a
   * replica that just switched timeline).
   */
  private async liveNodeState(): Promise<NodeState> {
    if (this.pg.isRunning && !this.abandoned && this.pgState === 'running' && Date.now() - this.liveStatusAt > 250) {
      this.liveStatusAt = Date.now();
      const s = await this.pg.status(1000);
      if (s && this.pg.isRunning && this.pgState === 'running') this.pgStatus = s;
    }
    return this.nodeState();
  }

  private nodeState(): NodeState {
    const s = this.pgStatus;
    const view = this.view;
    const state: NodeState = {
      name: this.name,
      scope: this.config.scope,
      postgres: { state: this.pgState, role: s ? (s.inRecovery ? 'replica' : 'primary') : this.roleNow === 'uninitialized' ? 'uninitialized' : 'replica' },
      isLeader: this.isLeader,
      dcsAvailable: view !== undefined,
      tags: Object.fromEntries(Object.entries(this.config.tags).filter(([, v]) => v !== false)),
      paused: view?.config?.value.pause === true,
      clusterUnlocked: view !== undefined && view.leader === undefined,
      ttl: this.dynamic.ttl,
    };
    if (this.leaseExpiresAt !== undefined && this.isLeader) state.leaderLeaseExpiresAt = this.leaseExpiresAt;
    if (this.dcsLastSeen !== undefined) state.dcsLastSeen = Math.floor(this.dcsLastSeen / 1000);
    if (view?.status) state.clusterOptime = view.status.value.optime;
    if (this.lastLoopAt !== undefined) state.lastLoopAt = this.lastLoopAt;
    if (this.config.watchdog.mode === 'required' && !this.watchdog.isHealthy) state.watchdogFailed = true;
    const sync = view?.sync?.value;
    if (sync && sync.leader !== this.name && syncStandbysOf(sync).includes(this.name)) state.isSyncStandby = true;
    if (this.systemId) state.postgres.systemIdentifier = this.systemId;
    const sr = this.maintenance.scheduledRestart();
    if (sr) state.scheduledRestart = sr;
    if (s) {
      state.postgres.serverVersion = s.serverVersion;
      state.postgres.timeline = s.timeline;
      if (s.postmasterStartTime) state.postgres.postmasterStartTime = s.postmasterStartTime;
      state.postgres.xlog = s.inRecovery
        ? {
            ...(s.receivedLsn !== undefined ? { receivedLocation: s.receivedLsn } : {}),
            ...(s.replayedLsn !== undefined ? { replayedLocation: s.replayedLsn } : {}),
            replayedTimestamp: s.replayedTimestamp ?? null,
            paused: s.replayPaused ?? false,
          }
        : s.walPosition !== undefined
          ? { location: s.walPosition }
          : {};
      if (!s.inRecovery && s.replication.length > 0) state.postgres.replication = s.replication;
    }
    return state;
  }

  private clusterInfo(): ClusterInfo {
    // The watched cache, not the last cycle's view: it already has this agent's own writes (the
    // sync key it just assigned), which the loop's view only gets at the next cycle.
    const view = this.dcs.cachedView() ?? this.view;
    if (!view) return { members: [] };
    const optime = view.status?.value.optime ?? view.leader?.member?.data.xlog_location;
    const sync = syncStandbysOf(view.sync?.value);
    const info: ClusterInfo = {
      members: view.members.map((m) => {
        const d = m.data;
        const server = memberServer(m);
        const isLeader = view.leader?.name === m.name;
        const row: ClusterInfo['members'][number] = {
          name: m.name,
          role: isLeader ? 'leader' : sync.includes(m.name) ? 'sync_standby' : 'replica',
          state: d.state ?? 'unknown',
        };
        if (d.api_url) row.api_url = d.api_url;
        if (server) {
          row.host = server.host;
          row.port = server.port;
        }
        if (typeof d.timeline === 'number') row.timeline = d.timeline;
        if (d.tags) row.tags = d.tags;
        if (!isLeader) row.lag = typeof optime === 'number' && typeof d.xlog_location === 'number' ? Math.max(0, optime - d.xlog_location) : 'unknown';
        return row;
      }),
    };
    if (view.config?.value.pause === true) info.pause = true;
    if (view.history) info.history = view.history.value as ClusterInfo['history'];
    const fo = view.failover?.value;
    if (fo?.scheduled_at) info.scheduled_switchover = { at: fo.scheduled_at, from: fo.leader ?? '', ...(fo.member ? { to: fo.member } : {}) };
    return info;
  }
}

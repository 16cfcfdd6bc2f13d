import { PgToolsError, type Logger } from '@pgtools/core';
import type { ClusterView as DcsView, EtcdDcs, HistoryEntry, MemberData } from '@pgtools/dcs';
import type { Watchdog } from '@pgtools/watchdog';
import type { HaAction } from '../decision/ha-action.js';
import { primaryStopTimeoutMs } from '../config/rewind-config.js';
import { emptyDir } from '../postgres/clone-and-rewind.js';
import { withConnection } from '../postgres/pg-connection.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { AgentFence } from './agent-fence.js';
import type { AgentRole, HaAgentEvent } from './agent-events.js';
import { debugFailure, errMessage } from './agent-errors.js';
import type { AgentRunState } from './agent-state.js';
import type { LeaderLease } from './leader-lease.js';
import type { PostgresCallbacks } from './postgres-callbacks.js';
import { slotRetention, MEMBER_SLOTS_TTL_MS } from './slot-retention.js';
import type { SyncReplication } from './sync-replication.js';
import { parseTimelineHistory } from './timeline-history.js';
import { memberServer, serverOf } from './view-mapping.js';

/** What the executor acts on. */
export interface ActionExecutorDeps {
  state: AgentRunState;
  lease: LeaderLease;
  pg: PostgresControl;
  dcs: EtcdDcs;
  watchdog: Watchdog;
  fence: AgentFence | undefined;
  sync: SyncReplication;
  /** Patroni's `postgresql.callbacks`, told what was done to PostgreSQL. */
  callbacks: PostgresCallbacks;
  logger: Logger;
  /** When each member was last seen in etcd (see `slotRetention`). */
  membersSeenAt: Map<string, number>;
  emit(event: HaAgentEvent): void;
  setRole(role: AgentRole, reason: string): void;
  wake(): void;
  memberData(): MemberData;
}

/**
 * Carries out the action `decide()` chose (and the REST API's restart and reinitialize): etcd
 * writes, PostgreSQL start/stop/promote, clone, rewind. It decides nothing of its own.
 */
export class ActionExecutor {
  constructor(private readonly d: ActionExecutorDeps) {}

  private get name(): string {
    return this.d.state.name;
  }

  async execute(action: HaAction, view: DcsView | undefined): Promise<void> {
    const { state, dcs, pg, logger } = this.d;
    if (state.abandoned) return;
    switch (action.kind) {
      case 'bootstrap':
        return this.bootstrap();
      case 'clone': {
        const source = serverOf(action.from, this.name, view);
        if (!source) return;
        state.pgState = 'creating replica';
        await dcs.touchMember(this.d.memberData()).catch(debugFailure(logger, 'publishing the member key before cloning'));
        await pg.clone(source);
        this.d.emit({ type: 'cloned', from: action.from });
        state.systemId = undefined;
        const leaderName = view?.leader?.name;
        await this.startReplica(serverOf(leaderName, this.name, view));
        return;
      }
      case 'exit_system_id_mismatch':
        throw new PgToolsError('ha_fatal', action.message);
      case 'acquire_leader_and_promote':
      case 'acquire_leader': {
        if (!(await this.takeLeader('race'))) {
          logger.info('lost the leader race');
          return;
        }
        if (action.clearFailoverKey) await dcs.clearFailover().catch(debugFailure(logger, 'clearing the failover key'));
        if (action.kind === 'acquire_leader_and_promote') await this.promote('acquired the leader key');
        return;
      }
      case 'refresh_leader':
        if (action.clearFailoverKey) await dcs.clearFailover().catch(debugFailure(logger, 'clearing the failover key'));
        return;
      case 'refresh_leader_and_promote':
        if (action.clearFailoverKey) await dcs.clearFailover().catch(debugFailure(logger, 'clearing the failover key'));
        await this.promote('holding the leader key');
        return;
      case 'release_leader':
        await dcs.deleteLeader().catch(debugFailure(logger, 'releasing the leader key'));
        if (!pg.isRunning) this.d.callbacks.gaveUpLeaderKey();
        this.d.lease.lost();
        this.d.emit({ type: 'leader_released', reason: action.reason });
        return;
      case 'follow': {
        const server = serverOf(action.leader ?? view?.leader?.name, this.name, view);
        if (!server) return;
        // A SIGHUP also wakes the startup process out of its wal_retrieve_retry_interval wait.
        if (!(await pg.follow(server)) && action.reconnect) pg.wakeStartup();
        return;
      }
      case 'rewind_then_follow': {
        const server = serverOf(action.leader, this.name, view);
        if (!server) return;
        if (pg.isRunning) {
          state.pgState = 'stopping';
          if (await pg.stop('fast')) this.d.callbacks.stopped();
        }
        if (await this.rewind(action.leader, server)) await this.startReplica(server);
        return;
      }
      case 'reinitialize':
        return this.wipeDataDir(action.message, 'diverged from the leader: cloning again');
      case 'demote':
        return this.demote(action.mode, action.reason, action.releaseLeader, view);
      case 'do_switchover':
        return this.demote('graceful', `switchover to ${action.candidate ?? 'any healthy member'}`, true, view);
      case 'restart_postgres_as_primary': {
        state.lastStartAttempt = Date.now();
        state.pgState = 'starting';
        const ready = await pg.start({ standby: false }, Math.max(2000, (state.dynamic.ttl - state.dynamic.loopWait) * 500));
        this.d.callbacks.started('primary', ready);
        if (ready) {
          state.postgresDownSince = undefined;
          state.mayHaveDiverged = false;
          state.rewindFailedAt = undefined;
          this.d.setRole('primary', 'restarted in place after a crash');
        }
        return;
      }
      case 'start_postgres_as_replica':
        return this.startReplica(serverOf(action.leader, this.name, view));
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

  /** The leader's server as a standby source, when another member holds the key. */
  currentSource(): ReturnType<PostgresControl['standbySource']> {
    const leader = this.d.state.view?.leader;
    if (!leader || leader.name === this.name) return undefined;
    return this.d.pg.standbySource(memberServer(this.d.state.view?.members.find((m) => m.name === leader.name)));
  }

  /** `POST /restart`: stop (fast) and start again in the role PostgreSQL has now, holding the leader key if it holds it. */
  async restartInPlace(timeoutMs: number): Promise<boolean> {
    const { state, pg } = this.d;
    const standby = state.pgStatus ? state.pgStatus.inRecovery : state.role !== 'primary';
    this.d.logger.info(`restarting PostgreSQL as ${standby ? 'a replica' : 'primary'} (REST request)`);
    state.pgState = 'restarting';
    await pg.stop('fast');
    state.pgStatus = undefined;
    state.lastStartAttempt = Date.now();
    const ready = await pg.start({ standby, source: standby ? this.currentSource() : undefined }, timeoutMs);
    this.d.callbacks.started(standby ? 'replica' : 'primary', ready, 'restart');
    state.pgState = ready ? 'running' : 'restart failed';
    if (ready) state.postgresDownSince = undefined;
    return ready;
  }

  /**
   * `POST /reinitialize` and the `reinitialize` action: the data dir is emptied; the next decision
   * clones it from the leader (at once: the loop is woken).
   */
  async wipeDataDir(
    why = 'reinitializing: removing the data directory to clone it again from the leader',
    roleReason = 'reinitialize requested',
  ): Promise<void> {
    const { state, pg } = this.d;
    this.d.logger.warn(why);
    state.pgState = 'stopping';
    if (await pg.stop('immediate')) this.d.callbacks.stopped();
    this.d.callbacks.wiped();
    await emptyDir(pg.dataDir);
    state.pgStatus = undefined;
    state.systemId = undefined;
    state.mayHaveDiverged = false;
    state.rewindFailedAt = undefined;
    state.postgresDownSince = undefined;
    state.pgState = 'stopped';
    this.d.setRole('uninitialized', roleReason);
    this.d.wake();
  }

  /**
   * pg_rewind from `leader` (PostgreSQL is stopped). On failure the data dir is left as it is and
   * the loop woken: the next decision starts a replica that was rewound as a precaution, or
   * re-clones / keeps a diverged former primary stopped (see `decide`).
   */
  private async rewind(leader: string, server: { host: string; port: number }): Promise<boolean> {
    const { state, pg, logger } = this.d;
    logger.info(`running pg_rewind from ${leader}`);
    try {
      const changed = await pg.rewind(server);
      state.mayHaveDiverged = false;
      state.rewindFailedAt = undefined;
      this.d.emit({ type: 'rewound', from: `${server.host}:${server.port}`, changed });
      return true;
    } catch (err) {
      logger.error(`pg_rewind failed: ${errMessage(err)}`);
      this.d.emit({ type: 'rewind_failed', message: errMessage(err) });
      state.pgState = 'stopped';
      state.rewindFailedAt = Date.now();
      this.d.wake();
      return false;
    }
  }

  /** Starts PostgreSQL as a standby of `leader` (read-only without one). */
  private async startReplica(leader: { host: string; port: number } | undefined): Promise<void> {
    const { state, pg } = this.d;
    // A crashed primary started read-only (no leader yet, or no rewind) first ends its crash recovery
    // in single-user mode: recovered in standby mode instead, its WAL ends in a torn record that a
    // later pg_rewind cannot read past ("could not find previous WAL record").
    if (state.mayHaveDiverged) await pg.finishCrashRecovery();
    state.lastStartAttempt = Date.now();
    state.pgState = 'starting';
    const ready = await pg.start({ standby: true, source: pg.standbySource(leader) }, 30_000);
    this.d.callbacks.started('replica', ready);
    if (ready) {
      state.postgresDownSince = undefined;
      state.rewindFailedAt = undefined;
      this.d.setRole('replica', leader ? 'following the leader' : 'started read-only');
    }
  }

  private async takeLeader(how: 'race' | 'bootstrap'): Promise<boolean> {
    const { dcs, lease } = this.d;
    const t0 = lease.now();
    const won = how === 'bootstrap' ? await dcs.takeLeader() : await dcs.attemptToAcquireLeader();
    if (won) {
      lease.granted(t0, this.d.state.dynamic.ttl);
      this.d.emit({ type: 'leader_acquired' });
    }
    return won;
  }

  private async bootstrap(): Promise<void> {
    const { state, dcs, pg, logger, watchdog } = this.d;
    if (!(await dcs.initialize(true, ''))) {
      logger.info('another member is bootstrapping the cluster');
      return;
    }
    state.pgState = 'initializing new cluster';
    try {
      await pg.initdb();
      if (!(await pg.start({ standby: false }, 120_000))) throw new PgToolsError('postgres_start_failed', 'PostgreSQL did not start after initdb');
      await pg.createUsers();
      const status = await pg.status();
      const cd = await pg.controlData();
      const sysid = status?.systemId || cd?.systemId || '';
      if (state.config.watchdog.mode !== 'off') await watchdog.activate();
      await dcs.initialize(false, sysid);
      await dcs.setConfig(state.config.bootstrap.dcsDocument, 0);
      await this.takeLeader('bootstrap');
      if (state.dynamic.synchronousMode) await dcs.setSync({ leader: this.name, sync_standby: null });
      state.systemId = sysid;
      state.mayHaveDiverged = false;
      this.d.setRole('primary', 'bootstrapped a new cluster');
      // Patroni's post_bootstrap: the callbacks start with the bootstrapped cluster, not with initdb's start.
      this.d.callbacks.started('primary', true);
      this.d.emit({ type: 'bootstrapped', systemId: sysid });
    } catch (err) {
      logger.error(`bootstrap failed: ${errMessage(err)}`);
      await pg.stop('immediate').catch(debugFailure(logger, 'stopping PostgreSQL after the failed bootstrap'));
      await dcs.cancelInitialization().catch(debugFailure(logger, 'removing the initialize key after the failed bootstrap'));
      await pg.moveAsideFailed().catch(debugFailure(logger, 'moving the failed data directory aside'));
      throw new PgToolsError('ha_fatal', `bootstrap failed: ${errMessage(err)}`, { cause: err });
    }
  }

  private async promote(reason: string): Promise<void> {
    const { state, dcs, pg, logger, watchdog } = this.d;
    if (state.config.watchdog.mode !== 'off' && !(await watchdog.activate()) && state.config.watchdog.mode === 'required') {
      await dcs.deleteLeader().catch(debugFailure(logger, 'releasing the leader key (watchdog required but not activated)'));
      this.d.lease.lost();
      return;
    }
    if (state.dynamic.synchronousMode && !(await this.d.sync.claimSyncKey())) return;
    const before = state.pgStatus?.timeline;
    await pg.promote();
    this.d.callbacks.promoted();
    state.mayHaveDiverged = false;
    // Before the replicas point at us: a standby whose slot is missing retries only after
    // wal_retrieve_retry_interval (5 s).
    await this.maintainSlots();
    const status = await pg.status();
    if (status) state.pgStatus = status;
    this.d.setRole('primary', reason);
    this.d.emit({ type: 'promoted', timeline: status?.timeline });
    if (status && before !== undefined && status.timeline > before)
      await this.writeHistory(status.timeline).catch((err) => logger.warn(`history: ${errMessage(err)}`));
  }

  private async writeHistory(timeline: number): Promise<void> {
    const { dcs, pg } = this.d;
    const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
    const text = await withConnection(pg.localEndpoint(), async (c) => (await c.query<{ t: string }>('SELECT pg_read_file($1) AS t', [file])).rows[0]?.t ?? '');
    const switches = parseTimelineHistory(text);
    const view = await dcs.loadCluster();
    const existing: HistoryEntry[] = view.history?.value ?? [];
    const known = new Set(existing.map((e) => e[0]));
    const lines = [...existing];
    const ts = new Date().toISOString().replace('Z', '+00:00');
    for (const s of switches) if (!known.has(s.timeline)) lines.push([s.timeline, s.lsn, s.reason, ts, this.name]);
    if (lines.length > existing.length) await dcs.setHistory(lines);
  }

  private async demote(mode: 'immediate' | 'graceful', reason: string, releaseLeader: boolean, view: DcsView | undefined): Promise<void> {
    const { state, dcs, pg, logger, fence } = this.d;
    logger.warn(`demoting: ${reason}`);
    state.pgState = 'stopping';
    let forced = false;
    if (mode === 'graceful') {
      const stopTimeoutMs = primaryStopTimeoutMs(state.dynamic);
      await pg.checkpoint(stopTimeoutMs).catch((err) => logger.warn(`checkpoint before demote failed: ${errMessage(err)}`));
      await fence?.release();
      const onForced = (): void => {
        forced = true;
        this.stopForced(reason);
      };
      if (await pg.stop('fast', stopTimeoutMs, stopTimeoutMs === undefined ? undefined : onForced)) this.d.callbacks.stopped();
    } else {
      await fence?.release();
      if (await pg.stop('immediate')) this.d.callbacks.stopped();
      state.mayHaveDiverged = true;
    }
    this.d.watchdog.disable();
    await pg.setSynchronousStandbyNames(undefined);
    if (releaseLeader) {
      await dcs.deleteLeader().catch((err) => logger.warn(`could not release the leader key: ${errMessage(err)}`));
      this.d.emit({ type: 'leader_released', reason });
    }
    this.d.lease.dropped();
    this.d.emit({ type: 'demoted', reason, mode });
    const leader = view?.leader?.name;
    const server = serverOf(leader, this.name, view);
    // A primary stopped at once (or forced) may hold WAL the new leader never saw: rewound before it starts.
    const rewindFirst = (mode === 'immediate' || forced) && leader !== undefined && server !== undefined && state.dynamic.postgresql.usePgRewind;
    if (!rewindFirst || (await this.rewind(leader, server))) await this.startReplica(server);
    this.d.setRole('replica', reason);
  }

  /** `primary_stop_timeout` ran out: the stop was forced, so the data dir may hold WAL no standby has. */
  stopForced(reason: string): void {
    const timeoutSeconds = this.d.state.dynamic.primaryStopTimeout;
    this.d.logger.warn(`PostgreSQL did not stop within primary_stop_timeout (${timeoutSeconds} s): aborting it (immediate stop, then SIGKILL)`);
    this.d.state.mayHaveDiverged = true;
    this.d.emit({ type: 'postgres_stop_forced', timeoutSeconds, reason });
  }

  /** The lease guard: the primary stops at once, its lease about to expire without a refresh. */
  async stopAsLeaseExpired(): Promise<void> {
    this.d.state.mayHaveDiverged = true;
    this.d.emit({ type: 'demoted', reason: 'leader lease expired', mode: 'immediate' });
    if (await this.d.pg.stop('immediate')) this.d.callbacks.stopped();
    this.d.setRole('replica', 'leader lease expired');
  }

  /** On the leader: a slot for every member seen lately, none for members gone for good. */
  async maintainSlots(): Promise<void> {
    const { pg, logger, membersSeenAt } = this.d;
    const { keep, drop } = slotRetention(membersSeenAt, this.name, Date.now());
    await pg.ensureSlots(keep).catch((err) => logger.warn(`replication slots: ${errMessage(err)}`));
    if (drop.length === 0) return;
    const dropped = await pg.dropSlots(drop).catch((err) => {
      logger.warn(`replication slots: ${errMessage(err)}`);
      return [];
    });
    for (const name of drop) membersSeenAt.delete(name);
    if (dropped.length > 0) logger.info(`dropped the replication slots of members gone for ${MEMBER_SLOTS_TTL_MS / 60_000} min: ${dropped.join(', ')}`);
  }
}

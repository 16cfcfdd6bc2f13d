import { PgToolsError, type Logger } from '@pgtools/core';
import type { ClusterView as DcsView, EtcdDcs, MemberData } from '@pgtools/dcs';
import type { Watchdog } from '@pgtools/watchdog';
import type { HaAction } from '../decision/ha-action.js';
import { emptyDataDir } from '../postgres/clone-and-rewind.js';
import { primaryStopTimeoutMs } from '../config/rewind-config.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { AgentFence } from './agent-fence.js';
import type { AgentRole, HaAgentEvent } from './agent-events.js';
import { debugFailure, errMessage } from './agent-errors.js';
import { stopPrimary } from './bounded-stop.js';
import { createNewCluster } from './cluster-bootstrap.js';
import { prePromote } from './pre-promote.js';
import { ReplicaJob, type ReplicaJobOutcome } from './replica-job.js';
import type { AgentRunState } from './agent-state.js';
import type { LeaderLease } from './leader-lease.js';
import type { PostgresCallbacks } from './postgres-callbacks.js';
import { SlotKeeper } from './slot-keeper.js';
import { upstreamOf } from '../decision/upstream.js';
import type { SyncReplication } from './sync-replication.js';
import { writeHistory } from './history-key.js';
import { bootstrapStandbyLeader, demoteCluster, leadStandby } from './standby-leader.js';
import { remoteSource } from '../postgres/standby-source.js';
import { serverOf, upstreamMembers } from './view-mapping.js';

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
  /** The member this replica last streamed from (or was told to); see `upstream`. */
  private lastUpstream: string | undefined;
  /** This node's replication slots (members' and permanent ones). */
  readonly slots: SlotKeeper;

  /** The replica creation running off the loop, if any. */
  readonly replica: ReplicaJob;

  constructor(private readonly d: ActionExecutorDeps) {
    this.replica = new ReplicaJob(() => d.wake());
    this.slots = new SlotKeeper({ ...d, restartReplicaAround: (between) => this.restartReplicaAround(between) });
  }

  /** Kills a replica being made and empties its data dir: a half copy must never be started. */
  async cancelReplica(why: string): Promise<void> {
    if (this.replica.description === undefined) return;
    this.d.logger.warn(`cancelling ${this.replica.description}: ${why}`);
    await this.replica.cancel();
    this.d.state.pgState = 'stopped';
  }

  /**
   * The loop's part of a finished replica creation: start the new replica following the leader,
   * or, when every method failed, report it (the data dir is empty: the next cycle tries again).
   */
  async finishReplica(outcome: ReplicaJobOutcome, view: DcsView | undefined): Promise<void> {
    const { state, logger } = this.d;
    if (outcome.method === undefined) {
      logger.error(`failed to ${outcome.description}: ${outcome.error ?? 'unknown error'}`);
      state.pgState = 'stopped';
      return;
    }
    logger.info(`${outcome.description.replace(/^bootstrap/, 'bootstrapped')} using ${outcome.method}`);
    this.d.emit({ type: 'cloned', from: outcome.from ?? '', method: outcome.method });
    state.systemId = undefined;
    state.pgState = 'stopped';
    await this.startReplica(this.upstream(view, view?.leader?.name));
  }

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
        const source = action.from === undefined ? undefined : serverOf(action.from, this.name, view);
        if (action.from !== undefined && !source) return;
        state.pgState = 'creating replica';
        await dcs.touchMember(this.d.memberData()).catch(debugFailure(logger, 'publishing the member key before cloning'));
        // Off the loop: the member key keeps saying "creating replica" and a stop can cancel it.
        this.replica.start(action.from, action.message.replace(/^trying to /, ''), (signal) =>
          pg.clone(source, { signal, basebackupOnly: action.basebackupOnly === true, onEvent: (e) => this.d.emit(e) }),
        );
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
        const server = this.upstream(view, action.leader ?? view?.leader?.name);
        // nostream: following means having no primary_conninfo.
        if (!server && state.config.tags.nostream !== true) return;
        if (state.role === 'standby_leader') {
          this.d.setRole('replica', `following the new standby leader ${action.leader ?? ''}`);
          this.d.callbacks.roleChanged('replica');
        }
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
        if (await this.rewind(action.leader, server)) await this.startReplica(this.upstream(view, action.leader));
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
        return this.startReplica(this.upstream(view, action.leader));
      case 'lead_standby':
        return leadStandby(this.d, action, () => this.takeLeader('race'));
      case 'demote_cluster':
        return demoteCluster(this.d);
      case 'probe_members':
      case 'failsafe_check':
      case 'failsafe_keep':
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

  /** The standby source of this replica (its upstream, see `upstream`), when another member holds the key. */
  currentSource(): ReturnType<PostgresControl['standbySource']> {
    const view = this.d.state.view;
    const leader = view?.leader;
    // The standby leader of a standby cluster streams from the remote primary.
    if (leader?.name === this.name) return remoteSource(this.d.state.config, this.d.state.dynamic);
    if (!leader) return undefined;
    return this.d.pg.standbySource(this.upstream(view, leader.name));
  }

  /**
   * The server this replica streams from when `leader` holds the key: the leader, the member its
   * `replicatefrom` tag names while that one runs as a replica, or none with `nostream`
   * (`upstreamOf`). A change is logged and reported (`upstream_changed`).
   */
  private upstream(view: DcsView | undefined, leader: string | undefined): { host: string; port: number } | undefined {
    const members = upstreamMembers(view);
    const name = upstreamOf(members, leader, this.name, this.d.state.config.tags);
    if (name !== this.lastUpstream) {
      this.lastUpstream = name;
      const { tags } = this.d.state.config;
      if (tags.nostream === true) this.d.logger.info('nostream is set: not streaming, WAL comes from restore_command only');
      else if (name !== undefined && name !== leader) this.d.logger.info(`replicatefrom: streaming from ${name} instead of the leader (${leader ?? 'none'})`);
      else if (tags.replicatefrom !== undefined && tags.replicatefrom !== this.name && name !== undefined)
        this.d.logger.info(`replicatefrom: ${tags.replicatefrom} is not a running replica in the DCS; streaming from the leader (${name})`);
      this.d.emit({ type: 'upstream_changed', upstream: name, leader });
    }
    return serverOf(name, this.name, view);
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
    this.d.callbacks.started(standby ? (state.role === 'standby_leader' ? 'standby_leader' : 'replica') : 'primary', ready, 'restart');
    state.pgState = ready ? 'running' : 'restart failed';
    if (ready) state.postgresDownSince = undefined;
    return ready;
  }

  /** `POST /reinitialize` and the `reinitialize` action: empty the data dir; the next decision clones it (the loop is woken). */
  async wipeDataDir(
    why = 'reinitializing: removing the data directory to clone it again from the leader',
    roleReason = 'reinitialize requested',
  ): Promise<void> {
    const { state, pg } = this.d;
    this.d.logger.warn(why);
    state.pgState = 'stopping';
    if (await pg.stop('immediate')) this.d.callbacks.stopped();
    this.d.callbacks.wiped();
    await emptyDataDir(pg.dataDir);
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
    if (state.dynamic.standbyCluster) return bootstrapStandbyLeader(this.d, () => this.takeLeader('bootstrap'));
    if (!(await dcs.initialize(true, ''))) {
      logger.info('another member is bootstrapping the cluster');
      return;
    }
    state.pgState = 'initializing new cluster';
    try {
      await createNewCluster(this.d);
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
      pg.setBootstrapHba(undefined);
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
    if (!(await prePromote(this.d))) return;
    const before = state.pgStatus?.timeline;
    this.slots.warnUnsafe();
    await pg.promote();
    this.d.callbacks.promoted();
    state.mayHaveDiverged = false;
    // Before the replicas point at us: a standby whose slot is missing retries only after
    // wal_retrieve_retry_interval (5 s).
    await this.slots.maintain(true);
    const status = await pg.status();
    if (status) state.pgStatus = status;
    this.d.setRole('primary', reason);
    this.d.emit({ type: 'promoted', timeline: status?.timeline });
    if (status && before !== undefined && status.timeline > before)
      await writeHistory(this.d, status.timeline).catch((err) => logger.warn(`history: ${errMessage(err)}`));
  }

  private async demote(mode: 'immediate' | 'graceful', reason: string, releaseLeader: boolean, view: DcsView | undefined): Promise<void> {
    const { state, dcs, pg, logger, fence } = this.d;
    logger.warn(`demoting: ${reason}`);
    state.pgState = 'stopping';
    let forced = false;
    if (mode === 'graceful') {
      await pg.checkpoint(primaryStopTimeoutMs(state.dynamic)).catch((err) => logger.warn(`checkpoint before demote failed: ${errMessage(err)}`));
      await fence?.release();
      const stop = await stopPrimary(this.d, reason, true);
      forced = stop.forced;
      if (stop.stopped) this.d.callbacks.stopped();
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
    if (!rewindFirst || (await this.rewind(leader, server))) await this.startReplica(this.upstream(view, leader));
    this.d.setRole('replica', reason);
  }

  /** Stops this replica, runs `between` while PostgreSQL is down, and starts it again following its upstream. */
  async restartReplicaAround(between: () => Promise<void>): Promise<void> {
    const { state, pg } = this.d;
    state.pgState = 'restarting';
    if (await pg.stop('fast')) this.d.callbacks.stopped();
    state.pgStatus = undefined;
    try {
      await between();
    } finally {
      await this.startReplica(this.upstream(state.view, state.view?.leader?.name));
    }
  }
}

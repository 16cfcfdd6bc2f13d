import type { Logger } from '@pgtools/core';
import type { EtcdDcs } from '@pgtools/dcs';
import { parseDynamicConfig } from '../config/parse-config.js';
import type { DynamicConfig } from '../config/config-types.js';
import { decide } from '../decision/decide.js';
import type { DecisionInput } from '../decision/decision-input.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { ActionExecutor, ActionExecutorDeps } from './action-executor.js';
import type { AgentRole } from './agent-events.js';
import { debugFailure, errMessage } from './agent-errors.js';
import type { Failsafe } from './failsafe.js';
import type { MaintenanceQueue } from './agent-maintenance.js';
import type { AgentRunState } from './agent-state.js';
import { LEASE_GUARD_MARGIN_MS, type LeaderLease } from './leader-lease.js';
import type { LeaderStream } from './leader-stream.js';
import { observeLocal, observeStreaming, replayedPastFork } from './local-facts.js';
import { probeMembers } from './peer-probes.js';
import { namesForSyncKey } from './quorum-replication.js';
import { serverOf, toDecisionView } from './view-mapping.js';

/**
 * While a replica has not streamed from its restarted leader, the next check comes this soon: the
 * leader accepts writes again ~0.2 s after a crash (issue 14), and every write until a replica
 * streams exists on the leader alone.
 */
const RECONNECT_RETRY_MS = 200;

/**
 * After a `wait` with `retrySoon` (etcd unreachable or the refresh failed while the lease is still
 * valid), the next cycle comes this soon (`HaAction`'s "within half a second"): an etcd blip of a
 * second or two (an etcd leader election) is retried several times before the lease guard's
 * margin (`LEASE_GUARD_MARGIN_MS`, 2 s) is reached, without hammering an etcd that is down.
 */
const RETRY_SOON_MS = 500;

/** What a cycle reads, decides with and acts on (owned by `HaAgent`): the executor's parts and more. */
export interface HaCycleDeps extends ActionExecutorDeps {
  maintenance: MaintenanceQueue;
  leaderStream: LeaderStream;
  executor: ActionExecutor;
  failsafe: Failsafe;
  /** Takes the etcd `config` key's settings (and rewrites pg_hba / pg_ident when they changed). */
  applyDynamic(dynamic: DynamicConfig): Promise<void>;
}

/**
 * One HA cycle (Patroni's `run_cycle`): read etcd and the local PostgreSQL, refresh the leader
 * lease, gather the facts into `DecisionInput`, let `decide()` choose, have the executor act, then
 * publish the member key (and as leader the status key, synchronous standby and slots).
 */
export class HaCycle {
  private readonly state: AgentRunState;
  private readonly lease: LeaderLease;
  private readonly pg: PostgresControl;
  private readonly dcs: EtcdDcs;
  private readonly logger: Logger;
  /** When etcd last answered (ms since epoch). */
  dcsLastSeenAt: number | undefined;
  /** The `config` key revision whose refusal or warnings were last logged. */
  private configRevisionLogged: number | undefined;
  /** The last decision asked for a quick retry: ms to the next cycle at most (etcd blip, a replica reconnecting). */
  retryInMs: number | undefined;
  /** This cycle's leader refresh failed without an answer from etcd (for failsafe mode). */
  private refreshUnanswered = false;

  constructor(private readonly d: HaCycleDeps) {
    this.state = d.state;
    this.lease = d.lease;
    this.pg = d.pg;
    this.dcs = d.dcs;
    this.logger = d.logger;
  }

  /**
   * Applies the etcd `config` key. A refused key keeps the previous dynamic configuration; that
   * and the warnings are logged once per revision of the key, not every cycle.
   */
  private async readDynamic(value: unknown, revision: number): Promise<void> {
    const warnings: string[] = [];
    let dynamic: DynamicConfig | undefined;
    let problem: string | undefined;
    try {
      dynamic = parseDynamicConfig(value, 'config', warnings);
    } catch (err) {
      problem = errMessage(err);
    }
    if (revision !== this.configRevisionLogged) {
      this.configRevisionLogged = revision;
      if (problem) this.logger.error(`keeping the previous dynamic configuration: the config key in etcd is refused: ${problem}`);
      for (const w of warnings) this.logger.warn(`dynamic configuration: ${w}`);
    }
    if (dynamic) await this.d.applyDynamic(dynamic).catch((err) => this.logger.warn(`applying the dynamic configuration: ${errMessage(err)}`));
  }

  /** One cycle: read etcd and PostgreSQL, refresh the lease, decide, act, publish. */
  async run(): Promise<void> {
    const state = this.state;
    let dcsReachable = true;
    try {
      state.view = await this.dcs.currentView();
      this.dcsLastSeenAt = Date.now();
    } catch (err) {
      dcsReachable = false;
      this.logger.warn(`DCS is not accessible: ${errMessage(err)}`);
    }
    const view = state.view;
    if (dcsReachable && view) for (const m of view.members) this.d.membersSeenAt.set(m.name, Date.now());
    if (view?.config) await this.readDynamic(view.config.value, view.config.modRevision);
    const cluster = view ? toDecisionView(view) : { members: [] };
    // Before anything reads PostgreSQL this cycle: a replica just made (below) publishes `streaming`
    // from its first status, and that streaming must count for the failover rule too.
    if (dcsReachable) this.d.leaderStream.observeView(cluster, Date.now());
    // A replica being made off the loop: only the member key is kept fresh ("creating replica").
    const replicaJob = this.d.executor.replica.description;
    if (replicaJob !== undefined) {
      this.logger.info(`${replicaJob} in progress`);
      this.d.emit({ type: 'action', action: { kind: 'wait', message: `${replicaJob} in progress` } });
      this.retryInMs = undefined;
      return this.afterAction(dcsReachable);
    }
    const cloned = this.d.executor.replica.takeOutcome();
    if (cloned) {
      await this.d.executor.finishReplica(cloned, view);
      return this.afterAction(dcsReachable);
    }
    const paused = view?.config?.value.pause === true;

    if (dcsReachable && !state.stopping) await this.d.maintenance.runDue();
    const facts = {
      state,
      pg: this.pg,
      leaderStream: this.d.leaderStream,
      logger: this.logger,
      setRole: (r: AgentRole, why: string) => this.d.setRole(r, why),
    };
    const local = await observeLocal(facts);
    if (this.d.maintenance.reinitFromLeader) local.reinitFromLeader = true;
    if (state.role === 'standby_leader' && local.postgresRunning) local.standbyLeader = true;
    const leaderName = view?.leader?.name;
    const leaderAt = serverOf(leaderName, state.name, view);
    if (
      dcsReachable &&
      !paused &&
      // With pg_rewind a data dir that may have diverged is rewound anyway; without it only a seen
      // divergence re-clones (remove_data_directory_on_diverged_timelines).
      (state.dynamic.postgresql.usePgRewind ? !state.mayHaveDiverged : state.dynamic.postgresql.removeDataDirectoryOnDivergedTimelines) &&
      local.postgresRunning &&
      local.role === 'replica' &&
      leaderName &&
      leaderAt
    ) {
      if (await replayedPastFork(facts, leaderName, leaderAt)) local.replayedPastFork = true;
    }
    if (dcsReachable && !paused && state.dynamic.checkTimeline && local.postgresRunning && local.role === 'replica' && !leaderName) {
      // check_timeline in the race: the timeline replay reached, as Patroni reads it.
      const replayTimeline = await this.pg.replayTimeline();
      if (replayTimeline === undefined) {
        this.logger.warn('check_timeline: cannot read my timeline (IDENTIFY_SYSTEM over a local replication connection as the replication user failed)');
        delete local.timeline;
      } else local.timeline = replayTimeline;
    }
    if (dcsReachable && view && !view.members.some((m) => m.name === state.name)) {
      await this.dcs.touchMember(this.d.memberData()).catch(debugFailure(this.logger, 'publishing the member key'));
    }

    let leaderRefreshOk: boolean | undefined;
    if (dcsReachable && view?.leader?.name === state.name) {
      leaderRefreshOk = await this.refreshLeader();
    } else if (this.lease.held && view?.leader?.name !== state.name) {
      this.lease.lost();
    }

    const dynamic = state.dynamic;
    const input: DecisionInput = {
      cluster,
      local,
      config: {
        name: state.name,
        ttl: dynamic.ttl,
        loopWait: dynamic.loopWait,
        maximumLagOnFailover: dynamic.maximumLagOnFailover,
        primaryStartTimeout: dynamic.primaryStartTimeout,
        synchronousMode: dynamic.synchronousMode,
        synchronousQuorum: dynamic.synchronousQuorum,
        // Patroni's backoff after a failed pre_promote: no race for ttl seconds.
        tags: Date.now() < state.raceBackoffUntil ? { ...state.config.tags, nofailover: true } : state.config.tags,
        watchdogUnusable: state.config.watchdog.mode === 'required' && !this.d.watchdog.isHealthy,
        usePgRewind: dynamic.postgresql.usePgRewind,
        removeDataDirectoryOnRewindFailure: dynamic.postgresql.removeDataDirectoryOnRewindFailure,
        canCloneWithoutLeader: this.pg.canCloneWithoutLeader,
        removeDataDirectoryOnDivergedTimelines: dynamic.postgresql.removeDataDirectoryOnDivergedTimelines,
        checkTimeline: dynamic.checkTimeline,
        failsafeMode: dynamic.failsafeMode,
        standbyCluster: dynamic.standbyCluster !== undefined,
      },
      paused,
      dcsReachable: dcsReachable && view !== undefined,
      now: Date.now(),
    };
    if (leaderRefreshOk !== undefined) input.leaderRefreshOk = leaderRefreshOk;
    if (leaderRefreshOk === false && this.refreshUnanswered) input.leaderRefreshUnanswered = true;
    const lastLeader = this.d.leaderStream.lastLeader;
    if (lastLeader) input.lastLeader = lastLeader;
    const leaseValidForMs = this.lease.validForMs(LEASE_GUARD_MARGIN_MS);
    if (leaseValidForMs !== undefined) input.leaseValidForMs = leaseValidForMs;
    if (dynamic.failsafeMode) input.failsafe = this.d.failsafe.facts(dcsReachable ? view : undefined);
    // Before any POST /failsafe: a kept primary's new deadline counts from here (Failsafe.settle).
    const failsafeSentAt = this.lease.now();
    let action = decide(input);
    if (action.kind === 'probe_members') {
      const members = input.cluster.members.filter((m) => action.kind === 'probe_members' && action.members.includes(m.name));
      input.peerProbes = await probeMembers(members);
      action = decide(input);
    }
    if (action.kind === 'failsafe_check') {
      input.failsafe = { ...input.failsafe, acks: await this.d.failsafe.ask(action.members) };
      action = decide(input);
    }
    this.d.failsafe.settle(action, failsafeSentAt);
    this.logger.info(action.message);
    this.d.emit({ type: 'action', action });
    // reinit --from-leader gets one try; a failed copy is made again the ordinary way, as in Patroni.
    if (action.kind === 'clone') this.d.maintenance.reinitFromLeader = false;
    this.retryInMs =
      action.kind === 'wait' && action.retrySoon === true
        ? RETRY_SOON_MS
        : action.kind === 'follow' && action.reconnect === true
          ? RECONNECT_RETRY_MS
          : undefined;
    // A primary restarted in place must wait for its synchronous standby from its first commit on.
    const syncKey = view?.sync?.value;
    if (dynamic.synchronousMode && syncKey?.leader === state.name && this.pg.synchronousStandbyNames === undefined) {
      await this.pg.setSynchronousStandbyNames(namesForSyncKey(dynamic, syncKey));
    }
    await this.d.executor.execute(action, view);
    await this.afterAction(dcsReachable);
  }

  private async refreshLeader(): Promise<boolean> {
    const t0 = this.lease.now();
    this.refreshUnanswered = false;
    try {
      const ok = await this.dcs.updateLeader();
      if (ok) {
        if (!this.lease.held) this.d.emit({ type: 'leader_acquired' });
        this.lease.granted(t0, this.state.dynamic.ttl);
        this.d.watchdog.keepalive();
        this.d.fence?.keepalive(this.lease.validForMs(0) ?? 0, this.dcs.leaseId);
      } else {
        this.lease.lost();
      }
      return ok;
    } catch (err) {
      this.logger.error(`failed to update leader lock: ${errMessage(err)}`);
      this.refreshUnanswered = true;
      return false;
    }
  }

  /** After the action: refresh the local status, publish the member key, and as leader the status key and slots. */
  private async afterAction(dcsReachable: boolean): Promise<void> {
    const state = this.state;
    if (state.abandoned) return;
    if (this.pg.isRunning) {
      const s = await this.pg.status();
      if (s) {
        state.pgStatus = s;
        observeStreaming(this.d.leaderStream, s, state);
        state.pgState = 'running';
        this.d.callbacks.answering(s.inRecovery ? 'replica' : 'primary');
      }
    }
    await this.holdOrReleaseFence();
    if (!dcsReachable) return;
    // These writes only inform others. Each may hang up to retry_timeout when etcd degrades right
    // after a successful refresh; waiting for both would push the next refresh attempt (and so the
    // demotion) past loop_wait + 2 * retry_timeout, the bound ttl is validated against. So the loop
    // waits for them at most retry_timeout in all; a late one finishes (or fails) on its own.
    const budgetEnds = Date.now() + state.dynamic.retryTimeout * 1000;
    const bounded = async (p: Promise<unknown>, what: string): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([p.catch(debugFailure(this.logger, what)), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, budgetEnds - Date.now()))))]);
      clearTimeout(timer);
    };
    await bounded(
      this.dcs.touchMember(this.d.memberData()).catch((err) => this.logger.warn(`member key: ${errMessage(err)}`)),
      'publishing the member key',
    );
    const s = state.pgStatus;
    const view = state.view;
    if (this.lease.held && s && !s.inRecovery) {
      if (view && view.config?.value.pause !== true) {
        await this.d.sync.manage(view, s).catch((err) => this.logger.warn(`synchronous replication: ${errMessage(err)}`));
      }
      // The slots first: their positions go into the status key (Patroni's `slots`, `retain_slots`).
      const slots = await this.d.executor.slots.maintain(true);
      if (s.walPosition !== undefined && Date.now() < budgetEnds)
        await bounded(this.dcs.setStatus({ optime: s.walPosition, ...slots }), 'publishing the status key');
      if (state.dynamic.failsafeMode && view && Date.now() < budgetEnds) await bounded(this.d.failsafe.publish(view), 'publishing the failsafe key');
    } else if (s?.inRecovery && !state.stopping) {
      // Members that cascade from this replica (replicatefrom), and the permanent slots, need their
      // slots here; a standby leader keeps every member's slot, as a leader does, and publishes how
      // far it got (Patroni's update_lock: the race's lag check and `hactl list` read it).
      const slots = await this.d.executor.slots.maintain(this.lease.held);
      const got = Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0);
      if (this.lease.held && got > 0 && Date.now() < budgetEnds) await bounded(this.dcs.setStatus({ optime: got, ...slots }), 'publishing the status key');
    }
  }

  /** Armed exactly while this node runs the primary under a live lease, outside pause. */
  private async holdOrReleaseFence(): Promise<void> {
    if (!this.d.fence) return;
    const pm = this.pg.postmaster;
    const s = this.state.pgStatus;
    const paused = this.state.view?.config?.value.pause === true;
    const validFor = this.lease.validForMs(0);
    if (!this.state.stopping && !paused && pm?.isRunning && s && !s.inRecovery && validFor !== undefined) {
      await this.d.fence.hold({ postmasterPid: pm.pid, leaseValidForMs: validFor, leaseId: this.dcs.leaseId });
    } else {
      await this.d.fence.release();
    }
  }
}

import type { Logger } from '@pgtools/core';
import type { ClusterView as DcsView, EtcdDcs } from '@pgtools/dcs';
import type { PgStatus } from '../postgres/pg-status.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { HaAgentEvent } from './agent-events.js';
import type { AgentRunState } from './agent-state.js';
import { planSyncReplication, synchronousStandbyNames } from './sync-standby.js';
import { QuorumReplication, RELOAD_SETTLE_MS } from './quorum-replication.js';
import { syncStandbysOf } from './view-mapping.js';
import { syncTags } from '../decision/failover-tags.js';

/** How often and how many times the leader polls for its new standby to be reported `sync`: 1.5 s in all, within one loop. */
const CONFIRM_POLL_MS = 100;
const CONFIRM_POLLS = 15;

/** What `SyncReplication` works with. */
export interface SyncReplicationDeps {
  state: AgentRunState;
  dcs: EtcdDcs;
  pg: PostgresControl;
  logger: Logger;
  emit(event: HaAgentEvent): void;
}

/**
 * Carries out synchronous replication on the leader: the `sync` key and
 * `synchronous_standby_names`, as `planSyncReplication` decides.
 */
export class SyncReplication {
  private readonly quorum: QuorumReplication;
  /**
   * The standby `synchronous_standby_names` was last changed to, and the primary's WAL position once
   * the change took effect: commits acknowledged before it may be missing there, so the key names it
   * only when it has flushed that far (as the quorum path's `changeLsn`).
   */
  private awaiting: { standby: string; lsn: number } | undefined;

  constructor(private readonly d: SyncReplicationDeps) {
    this.quorum = new QuorumReplication(d);
  }

  /** Several synchronous standbys (`synchronous_node_count` > 1 or quorum mode) take the step-by-step plan. */
  private get several(): boolean {
    const dyn = this.d.state.dynamic;
    return dyn.synchronousMode && (dyn.synchronousQuorum || dyn.synchronousNodeCount > 1);
  }

  /**
   * Before promoting in synchronous mode: make the `sync` key name this node as leader with no
   * standby, by compare-and-swap on the key that made it eligible, so no other member (nor the old
   * leader coming back) may promote over commits only this node has. False = not now. In quorum
   * mode a member outside the voters may have won the race with enough votes (Patroni), but only
   * against the key it was counted on: no second attempt then.
   */
  async claimSyncKey(): Promise<boolean> {
    const { state, dcs, pg } = this.d;
    const me = state.name;
    const quorumMode = state.dynamic.synchronousQuorum;
    let sync = state.view?.sync;
    for (let attempt = 0; attempt < (quorumMode ? 1 : 2); attempt++) {
      const v = sync?.value;
      const listed = quorumMode || v === undefined || v.leader === me || syncStandbysOf(v).includes(me);
      if (!listed) break;
      if (await dcs.setSync({ leader: me, sync_standby: null, ...(this.several ? { quorum: 0 } : {}) }, sync?.modRevision ?? 0)) {
        await pg.setSynchronousStandbyNames(synchronousStandbyNames(undefined, state.dynamic.synchronousModeStrict));
        this.quorum.reset();
        return true;
      }
      sync = (await dcs.loadCluster()).sync;
    }
    this.d.logger.warn('not promoting: this node is no longer the synchronous standby in the sync key');
    return false;
  }

  /**
   * Synchronous mode on the leader (Patroni's `process_sync_replication`): keep one streaming
   * member as the synchronous standby. The `sync` key only names a standby PostgreSQL already waits
   * for; a standby loses the privilege in the key before PostgreSQL stops waiting for it. So any
   * member the key names has every acknowledged commit and may take over. Off: hand
   * `synchronous_standby_names` back to the configuration and remove the key.
   */
  async manage(view: DcsView, s: PgStatus): Promise<void> {
    const { state, dcs, pg, logger } = this.d;
    if (this.several) return this.quorum.manage(view, s);
    const me = state.name;
    const primary = { standby: false };
    const key = view.sync;
    const plan = planSyncReplication({
      me,
      synchronousMode: state.dynamic.synchronousMode,
      strict: state.dynamic.synchronousModeStrict,
      namesSet: pg.synchronousStandbyNames !== undefined,
      key: key ? { leader: key.value.leader, standbys: syncStandbysOf(key.value), modRevision: key.modRevision } : undefined,
      members: view.members.map((m) => ({ name: m.name, ...syncTags(m.data.tags) })),
      replication: s.replication,
      maximumLagOnSyncnode: state.dynamic.maximumLagOnSyncnode,
      primaryLsn: s.walPosition,
    });
    if (plan.kind === 'disable') {
      if (plan.resetNames) await pg.setSynchronousStandbyNames(undefined, primary);
      if (plan.deleteKeyAt !== undefined) await dcs.deleteSync(plan.deleteKeyAt);
      return;
    }
    if (plan.kind === 'keep') {
      await pg.setSynchronousStandbyNames(plan.names, primary);
      return;
    }
    let revision = plan.keyRevision;
    if (plan.clearKeyFirst) {
      if (plan.revokeFrom !== undefined && plan.lagging.includes(plan.revokeFrom)) {
        logger.warn(
          `${plan.revokeFrom} lags more than maximum_lag_on_syncnode (${state.dynamic.maximumLagOnSyncnode} bytes): swapping the synchronous standby`,
        );
      }
      if (plan.revokeFrom !== undefined) logger.info(`Removing synchronous privilege from ${plan.revokeFrom}`);
      if (!(await dcs.setSync({ leader: me, sync_standby: null }, revision))) return;
      revision = (await dcs.loadCluster()).sync?.modRevision ?? 0;
    }
    const changed = await pg.setSynchronousStandbyNames(plan.names, primary);
    const picked = plan.picked;
    if (picked === undefined) return;
    if (changed) {
      await new Promise((r) => setTimeout(r, RELOAD_SETTLE_MS));
      this.awaiting = { standby: picked, lsn: (await pg.status(1000))?.walPosition ?? Number.MAX_SAFE_INTEGER };
    }
    const caughtUp = (status: PgStatus | undefined): boolean => {
      const lsn = this.awaiting?.standby === picked ? this.awaiting.lsn : undefined;
      return status?.replication.some((r) => r.application_name === picked && r.sync_state === 'sync' && (lsn === undefined || (r.lsn ?? -1) >= lsn)) ?? false;
    };
    let confirmed = !changed && plan.confirmed && caughtUp(s);
    for (let i = 0; i < CONFIRM_POLLS && !confirmed && !state.stopping; i++) {
      await new Promise((r) => setTimeout(r, CONFIRM_POLL_MS));
      confirmed = caughtUp(await pg.status(1000));
    }
    if (!confirmed) {
      logger.info(`Assigning synchronous standby status to ${picked}`);
      return;
    }
    if (await dcs.setSync({ leader: me, sync_standby: picked }, revision)) {
      logger.info(`Synchronous standby status assigned to ${picked}`);
      this.d.emit({ type: 'sync_standby_changed', standby: picked });
    }
  }
}

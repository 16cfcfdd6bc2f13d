import type { Logger } from '@pgtools/core';
import type { ClusterView as DcsView, EtcdDcs, SyncState } from '@pgtools/dcs';
import type { PgStatus } from '../postgres/pg-status.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { HaAgentEvent } from './agent-events.js';
import type { AgentRunState } from './agent-state.js';
import { formatSsn, planQuorumStep, ssnForKey, type QuorumKey, type Ssn } from './quorum-plan.js';
import { rankSyncCandidates, synchronousStandbyNames } from './sync-standby.js';
import type { DynamicConfig } from '../config/config-types.js';
import { syncKeyQuorum, syncStandbysOf } from './view-mapping.js';
import { failoverTags, syncTags } from '../decision/failover-tags.js';

/**
 * Writes per HA loop at most: Patroni's resolver goes through at most four transitions for one
 * change (its `_generate_transitions`); the rest waits for the next loop.
 */
const MAX_STEPS = 4;
/** PostgreSQL applies a reload within milliseconds; Patroni gives it 100 ms, we give it 200 ms. */
export const RELOAD_SETTLE_MS = 200;

/** What the leader remembers of the `synchronous_standby_names` it set (see `QuorumPlanInput`). */
interface Tracked {
  quorumMode: boolean;
  ssn: Ssn;
  pending: Ssn[] | undefined;
  /** The primary's WAL position right after the last change: `num` names at or past it confirm it. */
  changeLsn: number;
  confirmed: boolean;
}

/** What `QuorumReplication` works with. */
export interface QuorumReplicationDeps {
  state: AgentRunState;
  dcs: EtcdDcs;
  pg: PostgresControl;
  logger: Logger;
  emit(event: HaAgentEvent): void;
}

/**
 * The `synchronous_standby_names` a leader restarted in place starts with, from the `sync` key
 * naming it: every commit waits from the first one on, as the key promises.
 */
export function namesForSyncKey(dynamic: Pick<DynamicConfig, 'synchronousQuorum' | 'synchronousNodeCount' | 'synchronousModeStrict'>, sync: SyncState): string {
  const several = dynamic.synchronousQuorum || dynamic.synchronousNodeCount > 1;
  if (!several) return synchronousStandbyNames(syncStandbysOf(sync)[0], dynamic.synchronousModeStrict);
  const key = { voters: syncStandbysOf(sync), quorum: syncKeyQuorum(sync) };
  return formatSsn(ssnForKey(key, dynamic.synchronousQuorum), dynamic.synchronousQuorum, dynamic.synchronousModeStrict);
}

/**
 * Several synchronous standbys on the leader (`synchronous_node_count` > 1, or
 * `synchronous_mode: quorum`): carries out `planQuorumStep` one write at a time, the `sync` key by
 * compare-and-swap, and tracks which `synchronous_standby_names` values still count.
 */
export class QuorumReplication {
  private tracked: Tracked | undefined;

  constructor(private readonly d: QuorumReplicationDeps) {}

  /** After promotion the leader starts over from the key it claimed (no standby, nothing pending). */
  reset(ssn: Ssn = { names: [], num: 0 }): void {
    const quorumMode = this.d.state.dynamic.synchronousQuorum;
    this.tracked = { quorumMode, ssn, pending: [], changeLsn: 0, confirmed: true };
  }

  async manage(view: DcsView, s: PgStatus): Promise<void> {
    const { state, dcs, logger } = this.d;
    const me = state.name;
    const { synchronousQuorum: quorumMode, synchronousModeStrict: strict } = state.dynamic;
    let sync = view.sync;
    if (sync?.value.leader !== me) {
      // Patroni's `_maybe_enable_synchronous_mode`: the key names this leader with no standby first.
      if (!(await dcs.setSync({ leader: me, sync_standby: null, quorum: 0 }, sync?.modRevision ?? 0))) return;
      logger.info('Enabled synchronous replication');
      sync = (await dcs.loadCluster()).sync;
      this.tracked = undefined;
    }
    let revision = sync?.modRevision ?? 0;
    let key: QuorumKey = { voters: syncStandbysOf(sync?.value), quorum: syncKeyQuorum(sync?.value) };
    let tracked = this.tracked;
    let status = s;
    const names = tracked && formatSsn(tracked.ssn, quorumMode, strict);
    if (!tracked || tracked.quorumMode !== quorumMode || this.d.pg.synchronousStandbyNames !== names) {
      // Unknown history (agent restart, mode change, names set elsewhere: a demotion, the single
      // standby's plan): what the key vouches for, confirmed afresh.
      const ssn = ssnForKey(key, quorumMode);
      logger.info(`Setting synchronous replication to ${ssn.num} of ${ssn.names.length} (${ssn.names.join(', ')}) as the sync key promises`);
      const now = await this.setNames(ssn);
      if (!now) return;
      status = now;
      tracked = { quorumMode, ssn, pending: undefined, changeLsn: now.walPosition ?? 0, confirmed: false };
    }
    this.tracked = tracked;
    for (let i = 0; i < MAX_STEPS && !state.stopping; i++) {
      if (!tracked.confirmed && confirmedBy(tracked, status)) {
        tracked.confirmed = true;
        tracked.pending = [];
      }
      const active = this.activeMembers(view, status);
      const step = planQuorumStep({
        quorumMode,
        nodeCount: state.dynamic.synchronousNodeCount,
        active,
        key,
        ssn: tracked.ssn,
        confirmed: tracked.confirmed,
        pending: tracked.pending,
      });
      if (step.kind === 'none') return;
      if (step.kind === 'key') {
        const value = { leader: me, sync_standby: step.key.voters.length > 0 ? [...step.key.voters].sort().join(',') : null, quorum: step.key.quorum };
        if (!(await dcs.setSync(value, revision))) {
          logger.info('Synchronous replication key updated by someone else.');
          return;
        }
        logger.info(`Setting leader to ${me}, quorum to ${step.key.quorum} of ${step.key.voters.length} (${[...step.key.voters].sort().join(', ')})`);
        this.d.emit({ type: 'sync_quorum_changed', voters: [...step.key.voters].sort(), quorum: step.key.quorum });
        key = step.key;
        revision = (await dcs.loadCluster()).sync?.modRevision ?? 0;
        continue;
      }
      logger.info(`Setting synchronous replication to ${step.ssn.num} of ${step.ssn.names.length} (${[...step.ssn.names].sort().join(', ')})`);
      if (strict && step.ssn.num === 0) logger.warn('No standbys available!');
      const now = await this.setNames(step.ssn);
      if (!now) return;
      status = now;
      const pending: Ssn[] | undefined = tracked.confirmed ? [tracked.ssn] : tracked.pending && [...tracked.pending, tracked.ssn];
      tracked = { quorumMode, ssn: step.ssn, pending, changeLsn: now.walPosition ?? 0, confirmed: step.ssn.num === 0 };
      this.tracked = tracked;
    }
  }

  /**
   * Sets `synchronous_standby_names` and reads the primary's status once the reload took effect:
   * its WAL position then bounds every commit acknowledged under the previous value.
   */
  private async setNames(ssn: Ssn): Promise<PgStatus | undefined> {
    const { synchronousQuorum, synchronousModeStrict } = this.d.state.dynamic;
    await this.d.pg.setSynchronousStandbyNames(formatSsn(ssn, synchronousQuorum, synchronousModeStrict), { standby: false });
    await new Promise((r) => setTimeout(r, RELOAD_SETTLE_MS));
    return this.d.pg.status(1000);
  }

  /**
   * Streaming members that may be synchronous, best first. In quorum mode a `nofailover` member
   * only fills up to `synchronous_node_count` (Patroni: it could be ahead of every promotable one).
   */
  private activeMembers(view: DcsView, s: PgStatus): string[] {
    const { state } = this.d;
    const members = view.members.map((m) => ({ name: m.name, ...syncTags(m.data.tags), nofailover: failoverTags(m.data.tags).nofailover }));
    const { ordered } = rankSyncCandidates({
      me: state.name,
      members,
      replication: s.replication,
      maximumLagOnSyncnode: state.dynamic.maximumLagOnSyncnode,
      primaryLsn: s.walPosition,
    });
    const names = ordered.map((r) => r.application_name);
    if (!state.dynamic.synchronousQuorum) return names;
    const noFailover = new Set(members.filter((m) => m.nofailover).map((m) => m.name));
    const active: string[] = [];
    for (const n of [...names.filter((x) => !noFailover.has(x)), ...names.filter((x) => noFailover.has(x))]) {
      if (!noFailover.has(n) || active.length < state.dynamic.synchronousNodeCount) active.push(n);
    }
    return active;
  }
}

/** `num` of the names report a synchronous state and have the WAL up to the change. */
function confirmedBy(tracked: Tracked, s: PgStatus): boolean {
  const names = new Set(tracked.ssn.names);
  const caughtUp = s.replication.filter(
    (r) => names.has(r.application_name) && (r.sync_state === 'sync' || r.sync_state === 'quorum') && (r.lsn ?? -1) >= tracked.changeLsn,
  );
  return caughtUp.length >= tracked.ssn.num;
}

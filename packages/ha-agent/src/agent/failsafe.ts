import type { Logger } from '@pgtools/core';
import type { ClusterView as DcsView, EtcdDcs, FailsafeValue, MemberData } from '@pgtools/dcs';
import type { HandlerResult } from '@pgtools/health-api';
import type { Watchdog } from '@pgtools/watchdog';
import type { FailsafeAck, FailsafeFacts } from '../decision/decision-input.js';
import type { HaAction } from '../decision/ha-action.js';
import type { AgentFence } from './agent-fence.js';
import type { HaAgentEvent } from './agent-events.js';
import type { AgentRunState } from './agent-state.js';
import type { LeaderLease } from './leader-lease.js';
import { postFailsafe } from './peer-probes.js';

/** What failsafe mode needs from the agent. */
export interface FailsafeDeps {
  state: AgentRunState;
  lease: LeaderLease;
  dcs: EtcdDcs;
  watchdog: Watchdog;
  fence: AgentFence | undefined;
  logger: Logger;
  emit(event: HaAgentEvent): void;
  /** This node's member key as it publishes it (for its `api_url` and `conn_url`). */
  memberData(): MemberData;
  /** ms since epoch; default `Date.now`. */
  now?: () => number;
}

/**
 * The agent's side of failsafe mode (Patroni's `Failsafe` and the REST handler `do_POST_failsafe`;
 * the decisions are in decision/failsafe.ts).
 * - As leader with etcd reachable: publishes the members it sees (name -> `api_url`) in the
 *   `failsafe` key (`publish`).
 * - As primary with etcd unreachable: posts to every other member listed there (`ask`); when all
 *   accepted, `keep` carries on as the primary.
 * - As replica: answers those posts (`receive`) and remembers who posted and when (`facts`), so
 *   that for `ttl` seconds it follows that primary instead of racing for the leader key.
 *
 * @example
 * ```ts
 * import { Failsafe } from '@pgtools/ha-agent/internals';
 * const failsafe = new Failsafe({ state, lease, dcs, watchdog, fence, logger, emit, memberData });
 * const handlers = { failsafe: (body) => failsafe.receive(body) };
 * ```
 */
export class Failsafe {
  /** Replica: the primary that last posted to `/failsafe`, and when (ms, our clock). */
  private posted: { name: string; at: number } | undefined;
  /** Primary: this node runs on failsafe mode's word now (etcd unreachable, every member accepted). */
  private keeping = false;
  /**
   * The `failsafe` key as last read or written by us, whichever came last (Patroni's
   * `AbstractDCS.failsafe`): the view of the cycle before an outage may predate our own last write.
   */
  private topology: FailsafeValue | undefined;

  private readonly now: () => number;

  constructor(private readonly d: FailsafeDeps) {
    this.now = d.now ?? Date.now;
  }

  /**
   * Failsafe mode holds right now: this primary keeps running on the members' word, or (replica)
   * a primary posted to `/failsafe` within `ttl` (Patroni's `failsafe_is_active`).
   */
  get active(): boolean {
    return this.keeping || (this.posted !== undefined && this.now() - this.posted.at < this.d.state.dynamic.ttl * 1000);
  }

  /**
   * The decision's facts: the `failsafe` key (from `freshView` when etcd was read this cycle, else
   * as last known), and who last posted to us.
   */
  facts(freshView: DcsView | undefined): FailsafeFacts {
    const facts: FailsafeFacts = {};
    if (freshView) this.topology = freshView.failsafe?.value;
    if (this.topology) facts.topology = Object.keys(this.topology);
    if (this.posted) facts.leader = { ...this.posted };
    return facts;
  }

  /** Leader, etcd reachable, failsafe mode on: writes the `failsafe` key (when it changed). */
  async publish(view: DcsView): Promise<void> {
    const topology: FailsafeValue = {};
    for (const m of view.members) if (m.data.api_url) topology[m.name] = m.data.api_url;
    const apiUrl = this.d.memberData().api_url;
    if (apiUrl) topology[this.d.state.name] ??= apiUrl;
    if (await this.d.dcs.setFailsafe(topology)) this.topology = topology;
  }

  /** Primary, etcd unreachable: `POST /failsafe` to `members` (their URLs from the last known `failsafe` key). */
  async ask(members: string[]): Promise<FailsafeAck[]> {
    const topology = this.topology ?? {};
    const targets = members.flatMap((name) => (topology[name] ? [{ name, apiUrl: topology[name] }] : []));
    const me = this.d.memberData();
    const answers = await postFailsafe(
      targets,
      { name: this.d.state.name, conn_url: me.conn_url, api_url: me.api_url },
      { auth: this.d.state.config.restapi.authentication },
    );
    for (const a of answers) if (!a.accepted) this.d.logger.warn(`failsafe: ${a.name} did not accept POST /failsafe: ${a.reason ?? 'no answer'}`);
    return members.map((name) => {
      const a = answers.find((x) => x.name === name);
      return a ? { name, accepted: a.accepted, ...(a.reason !== undefined ? { reason: a.reason } : {}) } : { name, accepted: false, reason: 'no api_url' };
    });
  }

  /**
   * After the cycle's decision. On `failsafe_keep` the primary goes on without a leader lease, so
   * what would stop it is fed here, deliberately: the lease guard (which stops PostgreSQL when the
   * lease runs out), the software fence and the watchdog. Patroni does the same (`set_is_leader`
   * extends its leader expiry by ttl, then `watchdog.keepalive()`). The new deadline is
   * `sentAt + ttl`, `sentAt` taken before the posts: each member accepted after `sentAt` and stays
   * out of the race for ttl after its answer, so this primary stops (guard, then fence, then
   * watchdog) before any member could take over. Posts that stop being accepted stop feeding them.
   */
  settle(action: HaAction, sentAt: number): void {
    if (action.kind === 'failsafe_keep') {
      this.d.lease.granted(sentAt, this.d.state.dynamic.ttl);
      this.d.watchdog.keepalive();
      this.d.fence?.keepalive(this.d.lease.validForMs(0) ?? 0, this.d.dcs.leaseId);
      if (!this.keeping) this.d.emit({ type: 'failsafe', active: true, reason: action.message });
      this.keeping = true;
    } else if (this.keeping) {
      this.keeping = false;
      this.d.emit({ type: 'failsafe', active: false, reason: action.message });
    }
  }

  /** `GET /failsafe`: the `failsafe` key as last read or written; 502 without one or with failsafe mode off. */
  async topologyAnswer(): Promise<HandlerResult> {
    if (!this.d.state.dynamic.failsafeMode || !this.topology) return { status: 502, body: 'failsafe mode is not enabled' };
    return { status: 200, body: { ...this.topology } };
  }

  /** `POST /failsafe` (Patroni's `do_POST_failsafe` / `update_failsafe`). */
  async receive(body: Record<string, unknown>): Promise<HandlerResult> {
    const state = this.d.state;
    if (!state.dynamic.failsafeMode) return { status: 502, body: 'failsafe mode is not enabled' };
    if (typeof body.name !== 'string' || body.name === '') return { status: 400, body: 'name is required' };
    const s = state.pgStatus;
    if (state.pgState === 'running' && s && !s.inRecovery) return { status: 500, body: 'Running as a leader' };
    this.posted = { name: body.name, at: this.now() };
    const lsn = s ? Math.max(s.receivedLsn ?? 0, s.replayedLsn ?? 0) : 0;
    return { status: 200, body: 'Accepted', ...(lsn > 0 ? { headers: { lsn: String(lsn) } } : {}) };
  }
}

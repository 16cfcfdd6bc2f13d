import type { EtcdDcs } from '@pgtools/dcs';
import type { HandlerResult, HealthApiHandlers, SwitchoverRequest } from '@pgtools/health-api';
import { probeMembers } from './peer-probes.js';
import { syncStandbysOf } from './view-mapping.js';

/** What the REST handlers need from the agent. */
export interface RestHandlerContext {
  dcs: EtcdDcs;
  loopWaitSeconds(): number;
  /** `POST /reload`: re-read the configuration. */
  reload(): Promise<void>;
  /** Milliseconds to sleep between polls (tests may shorten). */
  pollMs?: number;
  /**
   * Runs the HA loop now. Needed after this node's own writes: EtcdDcs caches them at once, so the
   * watch event that follows is no change and wakes nobody here (a switchover posted to the leader
   * would otherwise wait for its next loop_wait tick).
   */
  wake?(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The agent's REST actions: switchover/failover through the `failover` key (with Patroni's
 * checks and answers), scheduled switchover cancel, `/config` reads and compare-and-swap writes,
 * and reload.
 *
 * @example
 * ```ts
 * import { createRestHandlers } from '@pgtools/ha-agent/internals';
 * const handlers = createRestHandlers({ dcs, loopWaitSeconds: () => 10, reload: async () => {} });
 * ```
 */
export function createRestHandlers(ctx: RestHandlerContext): HealthApiHandlers {
  const { dcs } = ctx;

  async function manual(action: 'switchover' | 'failover', req: SwitchoverRequest): Promise<HandlerResult> {
    const view = await dcs.loadCluster();
    const leader = view.leader?.name;
    if (action === 'switchover') {
      if (!leader) return { status: 412, body: 'Cluster has no leader' };
      if (req.leader !== leader) return { status: 412, body: 'leader name does not match' };
    }
    // Synchronous mode: only a listed synchronous standby has every acknowledged commit (Patroni's is_failover_possible).
    const syncStandbys = view.config?.value.synchronous_mode === true ? syncStandbysOf(view.sync?.value) : undefined;
    if (req.candidate !== undefined) {
      if (req.candidate === leader && action === 'switchover') return { status: 412, body: 'Switchover target and source are the same' };
      if (action === 'switchover' && syncStandbys && !syncStandbys.includes(req.candidate)) {
        return { status: 412, body: 'candidate name does not match with sync_standby' };
      }
      if (!view.members.some((m) => m.name === req.candidate)) return { status: 412, body: 'candidate does not exists' };
    } else if (syncStandbys && syncStandbys.length === 0) {
      return { status: 412, body: `${action} is not possible: can not find sync_standby` };
    }
    const names = req.candidate !== undefined ? [req.candidate] : (syncStandbys ?? view.members.map((m) => m.name).filter((n) => n !== leader));
    const members = view.members.filter((m) => names.includes(m.name)).map((m) => ({ name: m.name, apiUrl: m.data.api_url }));
    const probes = await probeMembers(members);
    const healthy = probes.filter((p) => p.reachable && p.state === 'running' && !p.nofailover);
    if (healthy.length === 0) return { status: 412, body: 'no good candidates have been found' };

    const value: Record<string, string> = {};
    if (req.leader) value.leader = req.leader;
    if (req.candidate) value.member = req.candidate;
    if (req.scheduledAt) {
      value.scheduled_at = req.scheduledAt.toISOString().replace('Z', '+00:00');
      await dcs.setFailover(value);
      ctx.wake?.();
      return { status: 202, body: `${action === 'switchover' ? 'Switchover' : 'Failover'} scheduled` };
    }
    await dcs.setFailover(value);
    ctx.wake?.();
    const timeoutMs = 2 * Math.max(10, ctx.loopWaitSeconds()) * 1000;
    const deadline = Date.now() + timeoutMs;
    const verb = action === 'switchover' ? 'switched over' : 'failed over';
    while (Date.now() < deadline) {
      await sleep(ctx.pollMs ?? 500);
      let now;
      try {
        now = await dcs.loadCluster();
      } catch {
        continue;
      }
      // Like Patroni's poll_failover_result: a new leader is success at once (the failover key may
      // be cleared a moment later); the key gone with the same leader means it was refused.
      const newLeader = now.leader?.name;
      if (newLeader && newLeader !== leader) {
        if (!req.candidate || req.candidate === newLeader) return { status: 200, body: `Successfully ${verb} to "${newLeader}"` };
        return { status: 200, body: `${action === 'switchover' ? 'Switched' : 'Failed'} over to "${newLeader}" instead of "${req.candidate}"` };
      }
      const fo = now.failover?.value;
      if (fo && (fo.leader || fo.member)) continue;
      if (!newLeader) continue;
      return { status: 503, body: `${action === 'switchover' ? 'Switchover' : 'Failover'} failed` };
    }
    return { status: 503, body: `${action === 'switchover' ? 'Switchover' : 'Failover'} status unknown` };
  }

  return {
    switchover: (req) => manual('switchover', req),
    failover: (req) => manual('failover', req),
    async cancelSwitchover() {
      const view = await dcs.loadCluster();
      const fo = view.failover;
      if (!fo?.value.scheduled_at) return { status: 404, body: 'no switchover is scheduled' };
      const ok = await dcs.clearFailover(fo.modRevision);
      ctx.wake?.();
      return ok ? { status: 200, body: 'scheduled switchover deleted' } : { status: 409, body: 'Conflict' };
    },
    async getConfig() {
      const view = await dcs.loadCluster();
      if (!view.config) return undefined;
      return { config: view.config.value as Record<string, unknown>, version: view.config.modRevision };
    },
    async patchConfig({ merged, version, changed }) {
      if (!changed) return { status: 200, body: merged };
      const ok = await dcs.setConfig(merged, typeof version === 'number' ? version : Number(version ?? 0));
      if (ok) ctx.wake?.();
      return ok ? { status: 200, body: merged } : { status: 409, body: 'Conflict' };
    },
    async putConfig({ config }) {
      await dcs.setConfig(config);
      ctx.wake?.();
      return { status: 200, body: config };
    },
    async reload() {
      await ctx.reload();
      return { status: 202, body: 'reload scheduled' };
    },
  };
}

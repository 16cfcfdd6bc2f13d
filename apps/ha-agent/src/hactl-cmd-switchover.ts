import type { Member } from '@pgtools/dcs';
import { callMember, ctlError, parseScheduled, pyList, withDcs, type CtlContext } from './hactl-context.js';
import { failoverTags, isStandbyClusterValue } from '@pgtools/ha-agent/internals';
import { isPaused } from './hactl-members.js';
import { formatMembers } from './hactl-output.js';
import { ctlTimestamp, nextHourExample } from './hactl-pyfmt.js';

/**
 * Options of `switchover` and `failover`.
 *
 * @example
 * ```ts
 * import type { SwitchoverOptions } from './hactl-cmd-switchover.js';
 * const o: SwitchoverOptions = { action: 'switchover', cluster: 'demo', leader: 'pg1', candidate: 'pg2', force: true };
 * ```
 */
export interface SwitchoverOptions {
  action: 'switchover' | 'failover';
  cluster: string;
  leader?: string;
  candidate?: string;
  scheduled?: string;
  force: boolean;
}

/**
 * `hactl switchover` / `hactl failover`, following patronictl 3.0.2 step by step: show the
 * topology, check (or ask for) the leader, the candidate and the time, confirm, then
 * `POST /switchover` (or `/failover`) to the leader's REST API with
 * `{"leader", "candidate", "scheduled_at"}` and print the answer. Unlike patronictl, a failed
 * REST call is reported and exits 1: hactl never falls back to writing the failover key itself.
 *
 * @example
 * ```ts
 * await switchoverCommand(ctx, { action: 'switchover', cluster: 'demo', leader: 'pg1', candidate: 'pg2', force: true });
 * ```
 */
export async function switchoverCommand(ctx: CtlContext, options: SwitchoverOptions): Promise<number> {
  const { action, cluster: name, force } = options;
  return withDcs(ctx, name, async (dcs) => {
    let view = await dcs.loadCluster();
    ctx.out('Current cluster topology\n');
    ctx.out(formatMembers(view, name));

    const leaderKey = view.leader?.name;
    if (action === 'switchover' && !leaderKey) throw ctlError('This cluster has no leader');

    let leader = options.leader;
    if (leader === undefined) {
      if (force || action === 'failover') {
        leader = leaderKey;
      } else {
        const standby = isStandbyClusterValue(view.config?.value.standby_cluster);
        leader = await ctx.prompter.prompt(standby ? 'Standby Leader' : 'Primary', leaderKey ?? '');
      }
    }
    if (leader !== undefined && leaderKey && leaderKey !== leader) throw ctlError(`Member ${leader} is not the leader of cluster ${name}`);

    const candidates = view.members
      // patronictl 4's `Member.nofailover`: `failover_priority: 0` alone also rules a member out.
      .filter((m) => m.name !== leader && !failoverTags(m.data.tags).nofailover)
      .map((m) => m.name)
      .sort();
    if (candidates.length === 0) throw ctlError(`No candidates found to ${action} to`);

    let candidate = options.candidate;
    if (candidate === undefined && !force) candidate = await ctx.prompter.prompt(`Candidate ${pyList(candidates)}`, '');
    if (action === 'failover' && !candidate) throw ctlError('Failover could be performed only to a specific candidate');
    if (candidate === leader) throw ctlError(`${action === 'failover' ? 'Failover' : 'Switchover'} target and source are the same.`);
    if (candidate && !candidates.includes(candidate)) throw ctlError(`Member ${candidate} does not exist in cluster ${name}`);

    let scheduledAt: string | undefined;
    if (action === 'switchover') {
      let scheduled = options.scheduled;
      if (scheduled === undefined && !force) {
        scheduled = await ctx.prompter.prompt(`When should the switchover take place (e.g. ${nextHourExample(ctx.now())} ) `, 'now');
      }
      scheduledAt = parseScheduled(scheduled);
      if (scheduledAt && isPaused(view)) throw ctlError("Can't schedule switchover in the paused state");
    }

    const body = { leader: leader ?? null, candidate: candidate ?? null, scheduled_at: scheduledAt ?? null };

    if (!force) {
      const demote = leader ? `, demoting current leader ${leader}` : '';
      if (scheduledAt) {
        if (!(await ctx.prompter.confirm(`Are you sure you want to schedule ${action} of cluster ${name} at ${scheduledAt}${demote}?`))) {
          throw ctlError(`Aborting scheduled ${action}`);
        }
      } else if (!(await ctx.prompter.confirm(`Are you sure you want to ${action} cluster ${name}${demote}?`))) {
        throw ctlError(`Aborting ${action}`);
      }
    }

    const target: Member | undefined = view.leader ? view.leader.member : view.members.find((m) => m.name === candidate);
    if (!target) {
      ctx.out(
        `${ctlTimestamp(ctx.now())} Could not ${action}: member ${view.leader?.name ?? candidate ?? '?'} has no member key, so its REST API is unknown; nothing was changed\n`,
      );
      return 1;
    }
    let response;
    try {
      response = await callMember(ctx, target, 'POST', action, body);
      // Patroni before 1.5 knew only /failover.
      if (response.status === 501 && action === 'switchover' && response.body.includes('Server does not support this operation')) {
        response = await callMember(ctx, target, 'POST', 'failover', body);
      }
    } catch (err) {
      ctx.out(`${ctlTimestamp(ctx.now())} Could not ${action} using the REST API of ${target.name} (${(err as Error).message}); nothing was changed\n`);
      return 1;
    }
    if (response.status !== 200 && response.status !== 202) {
      ctx.out(`${action === 'failover' ? 'Failover' : 'Switchover'} failed, details: ${response.status}, ${response.body}\n`);
      return 1;
    }
    ctx.out(`${ctlTimestamp(ctx.now())} ${response.body}\n`);
    view = await dcs.loadCluster();
    ctx.out(formatMembers(view, name));
    return 0;
  });
}

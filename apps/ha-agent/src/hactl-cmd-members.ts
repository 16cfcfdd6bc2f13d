import type { ClusterView, Member } from '@pgtools/dcs';
import { callMember, ctlError, membersWithRole, parseScheduled, withDcs, type CtlContext } from './hactl-context.js';
import { isPaused } from './hactl-members.js';
import { formatMembers } from './hactl-output.js';
import { nextHourExample } from './hactl-pyfmt.js';

/**
 * patronictl's `get_members`: show the cluster, keep the named members that have `role`
 * (all of them when none is named, except for reinitialize, which asks), confirm unless forced.
 *
 * @example
 * ```ts
 * const members = await selectMembers(ctx, view, 'demo', ['pg2'], 'any', false, 'flush', true);
 * ```
 */
export async function selectMembers(
  ctx: CtlContext,
  view: ClusterView,
  cluster: string,
  names: string[],
  role: string,
  force: boolean,
  action: string,
  askConfirmation: boolean,
): Promise<Member[]> {
  const members = membersWithRole(view, role);
  const candidates = members.map((m) => m.name);
  if (names.length === 0 && candidates.length === 0) throw ctlError(`${cluster} cluster doesn't have any members`);
  ctx.out(formatMembers(view, cluster));

  let selected = names;
  if (selected.length > 0) {
    selected = candidates.filter((c) => selected.includes(c));
    if (selected.length === 0) throw ctlError(`No ${role} among provided members`);
  } else if (action !== 'reinitialize') {
    selected = candidates;
  }
  if (selected.length === 0 && !force) {
    selected = [await ctx.prompter.prompt(`Which member do you want to ${action} [${candidates.join(', ')}]?`, '')];
  }
  for (const n of selected) if (!candidates.includes(n)) throw ctlError(`${n} is not a member of cluster`);
  const chosen = members.filter((m) => selected.includes(m.name));
  if (askConfirmation) await confirmMembers(ctx, chosen, force, action);
  return chosen;
}

async function confirmMembers(ctx: CtlContext, members: Member[], force: boolean, action: string, scheduledAt?: string): Promise<void> {
  if (force) return;
  const list = members.map((m) => m.name).join(', ');
  if (scheduledAt) {
    if (!(await ctx.prompter.confirm(`Are you sure you want to schedule ${action} of members ${list} at ${scheduledAt}?`)))
      throw ctlError(`Aborted scheduled ${action}`);
  } else if (!(await ctx.prompter.confirm(`Are you sure you want to ${action} members ${list}?`))) {
    throw ctlError(`Aborted ${action}`);
  }
}

function postgresVersionValid(version: string): boolean {
  const parts = version.split('.');
  if (!parts.every((p) => /^\d+$/.test(p))) throw ctlError(`Invalid PostgreSQL version: ${version}`);
  const major = Number(parts[0]);
  if (!((major >= 10 && parts.length === 2) || (major < 10 && parts.length === 3))) {
    throw ctlError(`Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${version}`);
  }
  return true;
}

/**
 * Options of `restart`.
 *
 * @example
 * ```ts
 * import type { RestartOptions } from './hactl-cmd-members.js';
 * const o: RestartOptions = { cluster: 'demo', members: ['pg2'], role: 'any', any: false, pending: false, force: true };
 * ```
 */
export interface RestartOptions {
  cluster: string;
  members: string[];
  role: string;
  any: boolean;
  scheduled?: string;
  pgVersion?: string;
  pending: boolean;
  timeout?: string;
  force: boolean;
}

/**
 * `hactl restart CLUSTER [MEMBER...]`: `POST /restart` on each member (body `restart_pending`,
 * `postgres_version`, `schedule`, `timeout` as patronictl sends them). Exit 1 when any member failed.
 *
 * @example
 * ```ts
 * await restartCommand(ctx, { cluster: 'demo', members: ['pg2'], role: 'any', any: false, pending: false, force: true });
 * ```
 */
export async function restartCommand(ctx: CtlContext, o: RestartOptions): Promise<number> {
  return withDcs(ctx, o.cluster, async (dcs) => {
    const view = await dcs.loadCluster();
    let members = await selectMembers(ctx, view, o.cluster, o.members, o.role, o.force, 'restart', false);
    let scheduled = o.scheduled;
    if (scheduled === undefined && !o.force)
      scheduled = await ctx.prompter.prompt(`When should the restart take place (e.g. ${nextHourExample(ctx.now())}) `, 'now');
    const scheduledAt = parseScheduled(scheduled);
    await confirmMembers(ctx, members, o.force, 'restart', scheduledAt);
    if (o.any && members.length > 1) members = [members[Math.floor(Math.random() * members.length)] as Member];
    let version = o.pgVersion;
    if (version === undefined && !o.force) version = await ctx.prompter.prompt('Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ', '');

    const content: Record<string, unknown> = {};
    if (o.pending) content.restart_pending = true;
    if (version && postgresVersionValid(version)) content.postgres_version = version;
    if (scheduledAt) {
      if (isPaused(view)) throw ctlError("Can't schedule restart in the paused state");
      content.schedule = scheduledAt;
    }
    if (o.timeout !== undefined) content.timeout = o.timeout;

    let failed = false;
    for (const m of members) {
      try {
        if ('schedule' in content && o.force && m.data.scheduled_restart) {
          const r = await callMember(ctx, m, 'DELETE', 'restart');
          if (r.status >= 400) ctx.out(`Failed: flush scheduled restart for member ${m.name}, status code=${r.status}, (${r.body})\n`);
        }
        const r = await callMember(ctx, m, 'POST', 'restart', content);
        if (r.status === 200) ctx.out(`Success: restart on member ${m.name}\n`);
        else if (r.status === 202) ctx.out(`Success: restart scheduled on member ${m.name}\n`);
        else {
          failed = true;
          if (r.status === 409) ctx.out(`Failed: another restart is already scheduled on member ${m.name}\n`);
          else ctx.out(`Failed: restart for member ${m.name}, status code=${r.status}, (${r.body})\n`);
        }
      } catch (err) {
        failed = true;
        ctx.out(`Failed: restart for member ${m.name}: ${(err as Error).message}\n`);
      }
    }
    return failed ? 1 : 0;
  });
}

/**
 * `hactl reinit CLUSTER [MEMBER...]`: `POST /reinitialize` (`{"force": <--force>}`, plus
 * `"from_leader": true` with `--from-leader`, as patronictl 4.1 sends it) on replicas; with
 * `--wait`, polls `GET /patroni` until the member stops "creating replica".
 *
 * @example
 * ```ts
 * await reinitCommand(ctx, { cluster: 'demo', members: ['pg3'], force: true, wait: false, fromLeader: true });
 * ```
 */
export async function reinitCommand(
  ctx: CtlContext,
  o: { cluster: string; members: string[]; force: boolean; wait: boolean; fromLeader?: boolean },
): Promise<number> {
  return withDcs(ctx, o.cluster, async (dcs) => {
    const view = await dcs.loadCluster();
    const members = await selectMembers(ctx, view, o.cluster, o.members, 'replica', o.force, 'reinitialize', true);
    let failed = false;
    const waitOn: Member[] = [];
    for (const m of members) {
      // Sent only when asked: agents older than Patroni 4.1 do not know the key.
      const body: { force: boolean; from_leader?: true } = { force: o.force, ...(o.fromLeader ? { from_leader: true as const } : {}) };
      for (;;) {
        let started = false;
        let text = '';
        try {
          const r = await callMember(ctx, m, 'POST', 'reinitialize', body);
          text = r.body;
          started = r.status < 400;
          ctx.out(
            started ? `Success: reinitialize for member ${m.name}\n` : `Failed: reinitialize for member ${m.name}, status code=${r.status}, (${r.body})\n`,
          );
        } catch (err) {
          ctx.out(`Failed: reinitialize for member ${m.name}: ${(err as Error).message}\n`);
        }
        if (
          !started &&
          text.endsWith(' already in progress') &&
          !body.force &&
          (await ctx.prompter.confirm('Do you want to cancel it and reinitialize anyway?'))
        ) {
          body.force = true;
          continue;
        }
        if (!started) failed = true;
        else if (o.wait) waitOn.push(m);
        break;
      }
    }
    let shown = '';
    while (waitOn.length > 0) {
      const names = waitOn.map((m) => m.name).join(', ');
      if (names !== shown) ctx.out(`Waiting for reinitialize to complete on: ${names}\n`);
      shown = names;
      await ctx.sleep(2);
      for (const m of [...waitOn]) {
        try {
          const r = await callMember(ctx, m, 'GET', 'patroni');
          if ((JSON.parse(r.body) as { state?: string }).state !== 'creating replica') {
            ctx.out(`Reinitialize is completed on: ${m.name}\n`);
            waitOn.splice(waitOn.indexOf(m), 1);
          }
        } catch {
          // Still cloning or restarting: ask again next round.
        }
      }
    }
    return failed ? 1 : 0;
  });
}

/**
 * `hactl reload CLUSTER [MEMBER...]`: `POST /reload` on members (re-read their configuration).
 *
 * @example
 * ```ts
 * await reloadCommand(ctx, { cluster: 'demo', members: [], role: 'any', force: true });
 * ```
 */
export async function reloadCommand(ctx: CtlContext, o: { cluster: string; members: string[]; role: string; force: boolean }): Promise<number> {
  return withDcs(ctx, o.cluster, async (dcs) => {
    const view = await dcs.loadCluster();
    const members = await selectMembers(ctx, view, o.cluster, o.members, o.role, o.force, 'reload', true);
    let failed = false;
    for (const m of members) {
      try {
        const r = await callMember(ctx, m, 'POST', 'reload');
        if (r.status === 200) ctx.out(`No changes to apply on member ${m.name}\n`);
        else if (r.status === 202)
          ctx.out(`Reload request received for member ${m.name} and will be processed within ${String(view.config?.value.loop_wait ?? 'None')} seconds\n`);
        else {
          failed = true;
          ctx.out(`Failed: reload for member ${m.name}, status code=${r.status}, (${r.body})\n`);
        }
      } catch (err) {
        failed = true;
        ctx.out(`Failed: reload for member ${m.name}: ${(err as Error).message}\n`);
      }
    }
    return failed ? 1 : 0;
  });
}

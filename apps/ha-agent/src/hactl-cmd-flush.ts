import { callMember, ctlError, membersLeaderFirst, withDcs, type CtlContext } from './hactl-context.js';
import { selectMembers } from './hactl-cmd-members.js';
import { ctlTimestamp } from './hactl-pyfmt.js';

/**
 * Options of `flush`.
 *
 * @example
 * ```ts
 * import type { FlushOptions } from './hactl-cmd-flush.js';
 * const o: FlushOptions = { cluster: 'demo', members: ['pg2'], target: 'restart', role: 'any', force: true };
 * ```
 */
export interface FlushOptions {
  cluster: string;
  members: string[];
  target: 'restart' | 'switchover';
  role: string;
  force: boolean;
}

/**
 * `hactl flush CLUSTER [MEMBER...] restart|switchover`: patronictl's `flush`.
 * - `restart`: shows the members, confirms (unless `--force`), then `DELETE /restart` on each
 *   selected member that publishes a `scheduled_restart`.
 * - `switchover`: when the `failover` key holds a `scheduled_at`, `DELETE /switchover` on the
 *   leader, then on the other members, until one answers 200 or 404; when none is reachable, it
 *   clears the key itself as patronictl does (writes `{}`, compare-and-swap on the key's revision).
 *
 * Exit 1 when a member refused or could not be reached (patronictl exits 0 after printing `Failed`).
 *
 * @example
 * ```ts
 * await flushCommand(ctx, { cluster: 'demo', members: [], target: 'switchover', role: 'any', force: false });
 * ```
 */
export async function flushCommand(ctx: CtlContext, o: FlushOptions): Promise<number> {
  return withDcs(ctx, o.cluster, async (dcs) => {
    const view = await dcs.loadCluster();
    if (o.target === 'restart') {
      let failed = false;
      for (const m of await selectMembers(ctx, view, o.cluster, o.members, o.role, o.force, 'flush', true)) {
        if (!m.data.scheduled_restart) {
          ctx.out(`No scheduled restart for member ${m.name}\n`);
          continue;
        }
        try {
          const r = await callMember(ctx, m, 'DELETE', 'restart');
          if (r.status < 400) ctx.out(`Success: flush scheduled restart for member ${m.name}\n`);
          else {
            failed = true;
            ctx.out(`Failed: flush scheduled restart for member ${m.name}, status code=${r.status}, (${r.body})\n`);
          }
        } catch (err) {
          failed = true;
          ctx.out(`Failed: flush scheduled restart for member ${m.name}: ${(err as Error).message}\n`);
        }
      }
      return failed ? 1 : 0;
    }

    const failover = view.failover;
    if (!failover?.value.scheduled_at) {
      ctx.out('No pending scheduled switchover\n');
      return 0;
    }
    for (const m of membersLeaderFirst(view)) {
      try {
        const r = await callMember(ctx, m, 'DELETE', 'switchover');
        if (r.status === 200 || r.status === 404) {
          ctx.out(`${r.status === 200 ? 'Success' : 'Failed'}: ${r.body}\n`);
          return r.status === 200 ? 0 : 1;
        }
        ctx.out(`Failed: member=${m.name}, status_code=${r.status}, (${r.body})\n`);
      } catch (err) {
        ctx.err(`WARNING: Member ${m.name} is not accessible: ${(err as Error).message}\n`);
      }
    }
    ctx.err('WARNING: Failing over to DCS\n');
    ctx.out(`${ctlTimestamp(ctx.now())} Could not find any accessible member of cluster ${o.cluster}\n`);
    if (!(await dcs.clearFailover(failover.modRevision)))
      throw ctlError('the failover key changed meanwhile: the scheduled switchover was not removed; run flush again');
    return 0;
  });
}

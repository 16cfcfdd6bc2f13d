import { ctlError, withDcs, type CtlContext } from './hactl-context.js';
import { formatMembers, type OutputFormat } from './hactl-output.js';

/** The text patronictl makes the user type before it wipes a cluster out of the DCS. */
export const REMOVE_CONFIRMATION = 'Yes I am aware';

/**
 * `hactl remove CLUSTER`: patronictl's `remove`. Shows the members, then asks for the cluster
 * name, for "Yes I am aware" and, while a member holds the leader key, for that leader's name;
 * any other answer aborts (exit 1) before anything is deleted. Then deletes every key under the
 * cluster's prefix in etcd. There is no `--force`, as in patronictl: the answers can be piped in.
 *
 * @example
 * ```ts
 * await removeCommand(ctx, { cluster: 'demo', fmt: 'pretty' }); // asks three questions, then deletes /service/demo/
 * ```
 */
export async function removeCommand(ctx: CtlContext, o: { cluster: string; fmt: OutputFormat | 'yml' }): Promise<number> {
  return withDcs(ctx, o.cluster, async (dcs) => {
    const view = await dcs.loadCluster();
    ctx.out(formatMembers(view, o.cluster, { fmt: o.fmt }));
    if ((await ctx.prompter.prompt('Please confirm the cluster name to remove')) !== o.cluster) throw ctlError('Cluster names specified do not match');
    const typed = await ctx.prompter.prompt(`You are about to remove all information in DCS for ${o.cluster}, please type: "${REMOVE_CONFIRMATION}"`);
    if (typed !== REMOVE_CONFIRMATION) throw ctlError(`You did not exactly type "${REMOVE_CONFIRMATION}"`);
    const leader = view.leader?.name;
    if (leader) {
      const named = await ctx.prompter.prompt('This cluster currently is healthy. Please specify the leader name to continue');
      if (named !== leader) throw ctlError('You did not specify the current leader of the cluster');
    }
    await dcs.deleteCluster();
    return 0;
  });
}

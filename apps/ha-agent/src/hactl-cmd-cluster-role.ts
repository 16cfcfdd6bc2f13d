import type { ClusterView } from '@pgtools/dcs';
import { callMember, ctlError, withDcs, type CtlContext } from './hactl-context.js';
import { formatMembers } from './hactl-output.js';
import { ctlTimestamp } from './hactl-pyfmt.js';

/**
 * Options of `demote-cluster` (patronictl 4.1's `--host`, `--port`, `--restore-command`,
 * `--primary-slot-name`, `--force`).
 *
 * @example
 * ```ts
 * import type { DemoteClusterOptions } from './hactl-cmd-cluster-role.js';
 * const o: DemoteClusterOptions = { cluster: 'dr', force: true, host: '10.0.0.1', port: 5432 };
 * ```
 */
export interface DemoteClusterOptions {
  cluster: string;
  force: boolean;
  host?: string | undefined;
  port?: number | undefined;
  restoreCommand?: string | undefined;
  primarySlotName?: string | undefined;
}

/** Python's `repr`/`str` of what the watch prints: `None`, `True`/`False`, `'text'` (repr) or text. */
function py(value: unknown, repr = false): string {
  if (value === undefined || value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return repr ? `'${String(value)}'` : String(value);
}

/** The leader's published role, with Patroni 3's `master` read as Patroni 4's `primary`. */
function leaderRole(view: ClusterView): string | undefined {
  const role = view.leader?.member?.data.role;
  return role === 'master' ? 'primary' : role;
}

/**
 * patronictl 4.1's `change_cluster_role`: refuses without a leader or when the leader already has
 * the target role (`standby_leader` to demote, `primary` to promote), shows the topology, asks
 * unless `force`, sends `PATCH /config` with `{"standby_cluster": ...}` (null to promote) to the
 * leader, then polls etcd every second, printing the leader's role and state, until the cluster
 * has a leader in the target role that runs (and, demoting, the old leader runs again), and shows
 * the topology again. Like patronictl it polls until then (interrupt it to stop).
 */
async function changeClusterRole(ctx: CtlContext, name: string, force: boolean, standbyConfig: Record<string, string | number> | null): Promise<number> {
  const demote = standbyConfig !== null;
  const action = demote ? 'demot' : 'promot';
  const target = demote ? 'standby_leader' : 'primary';
  return withDcs(ctx, name, async (dcs) => {
    let view = await dcs.loadCluster();
    const leaderName = view.leader?.name;
    if (!leaderName || !view.leader) throw ctlError(`Cluster has no leader, ${action}ion is not possible`);
    if (leaderRole(view) === target) throw ctlError('Cluster is already in the required state');
    ctx.out('Current cluster topology\n');
    ctx.out(formatMembers(view, name));
    if (!force && !(await ctx.prompter.confirm(`Are you sure you want to ${action}e ${name} cluster?`))) throw ctlError(`Aborted cluster ${action}ion`);

    const leader = view.leader.member ?? view.members.find((m) => m.name === leaderName);
    if (!leader) throw ctlError(`Failed to ${action}e ${name} cluster: the leader ${leaderName} has no member key`);
    let failure: string | undefined;
    try {
      const r = await callMember(ctx, leader, 'PATCH', 'config', { standby_cluster: standbyConfig });
      if (r.status !== 200) failure = `Failed to ${action}e ${name} cluster: /config PATCH status code=${r.status}, (${r.body})`;
    } catch (err) {
      failure = (err as Error).message;
    }
    // patronictl wraps its own status message in the same prefix again (its `except Exception`).
    if (failure !== undefined) throw ctlError(`Failed to ${action}e ${name} cluster: ${failure}`);

    for (let first = true; ; first = false) {
      if (!first) await ctx.sleep(1);
      view = await dcs.loadCluster();
      const unlocked = view.leader === undefined;
      const role = view.leader?.member?.data.role;
      const state = view.leader?.member?.data.state;
      const oldState = view.members.find((m) => m.name === leaderName)?.data.state;
      const now = ctlTimestamp(ctx.now(), 0);
      if (!unlocked && leaderRole(view) === target && state === 'running' && (!demote || oldState === 'running')) {
        ctx.out(`${now} cluster is successfully ${action}ed\n`);
        break;
      }
      const parts = [`${now} cluster is unlocked: ${py(unlocked)}`, `leader role: ${py(role)}`, `leader state: ${py(state)}`];
      if (demote && view.leader && view.leader.name !== leaderName && oldState !== undefined) parts.push(`previous leader state: ${py(oldState, true)}`);
      ctx.out(`${parts.join(', ')}\n`);
    }
    ctx.out(formatMembers(view, name));
    return 0;
  });
}

/**
 * `hactl demote-cluster`: makes a running cluster a standby cluster of the given remote (writes
 * `standby_cluster` into the dynamic configuration through the leader's `PATCH /config`); the
 * primary restarts as the standby leader. At least `--host`, `--port` or `--restore-command`.
 *
 * @example
 * ```ts
 * await demoteClusterCommand(ctx, { cluster: 'dc2', force: true, host: '10.0.1.5', port: 5432, primarySlotName: 'dc2' });
 * ```
 */
export async function demoteClusterCommand(ctx: CtlContext, o: DemoteClusterOptions): Promise<number> {
  if (!o.host && !o.port && !o.restoreCommand) throw ctlError('At least --host, --port or --restore-command should be specified');
  const data: Record<string, string | number> = {};
  if (o.host) data.host = o.host;
  if (o.port) data.port = o.port;
  if (o.primarySlotName) data.primary_slot_name = o.primarySlotName;
  if (o.restoreCommand) data.restore_command = o.restoreCommand;
  return changeClusterRole(ctx, o.cluster, o.force, data);
}

/**
 * `hactl promote-cluster`: removes `standby_cluster` from the dynamic configuration (`PATCH
 * /config` with `{"standby_cluster": null}`); the standby leader promotes and the cluster runs on its own.
 *
 * @example
 * ```ts
 * await promoteClusterCommand(ctx, { cluster: 'dc2', force: true });
 * ```
 */
export async function promoteClusterCommand(ctx: CtlContext, o: { cluster: string; force: boolean }): Promise<number> {
  return changeClusterRole(ctx, o.cluster, o.force, null);
}

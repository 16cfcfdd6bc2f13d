import { ctlError, pickedAddress, withDcs, type CtlContext } from './hactl-context.js';

/**
 * `hactl dsn [CLUSTER] [-r ROLE | -m MEMBER]`: `host=H port=P` of a member, the leader by default
 * (patronictl's `dsn`: the first member with the role, or the named one; its `conn_kwargs`, else
 * its `conn_url`).
 *
 * @example
 * ```ts
 * await dsnCommand(ctx, { cluster: 'demo', role: 'replica', member: undefined }); // prints host=10.0.0.2 port=5432
 * ```
 */
export async function dsnCommand(ctx: CtlContext, o: { cluster: string; role: string | undefined; member: string | undefined }): Promise<number> {
  if (o.role !== undefined && o.member !== undefined) throw ctlError('--role and --member are mutually exclusive options');
  const view = await withDcs(ctx, o.cluster, (dcs) => dcs.loadCluster());
  const address = pickedAddress(view, o);
  if (address.host === undefined) throw ctlError('Can not find a suitable member');
  ctx.out(`host=${address.host} port=${address.port ?? 5432}\n`);
  return 0;
}

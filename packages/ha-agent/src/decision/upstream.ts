/** What `upstreamOf` reads of a member: its name, what it runs as, and its tags. */
export interface UpstreamMember {
  name: string;
  role?: string | undefined;
  state?: string | undefined;
  tags?: Readonly<Record<string, unknown>> | undefined;
}

/** Roles of a member key that may feed a cascading replica (a standby). */
const STANDBY_ROLES = new Set(['replica', 'sync_standby']);

/**
 * The member `name` streams WAL from (Patroni's `_get_node_to_follow`): none with `nostream`;
 * the member its `replicatefrom` tag names when that member is the leader or a running replica
 * (per its member key); otherwise the leader. Undefined = no streaming (nostream, or no leader
 * and no usable `replicatefrom` member). Patroni falls back to the leader only when the named
 * member's key is gone; pgtools also does when the key says it is stopped or not a standby, so
 * a replica does not point its WAL receiver at a server that is down until that key expires.
 *
 * @example
 * ```ts
 * import { upstreamOf } from '@pgtools/ha-agent/internals';
 * const members = [{ name: 'node1', role: 'master', state: 'running' }, { name: 'node2', role: 'replica', state: 'running' }];
 * upstreamOf(members, 'node1', 'node3', { replicatefrom: 'node2' }); // 'node2'
 * upstreamOf(members, 'node1', 'node3', { replicatefrom: 'node4' }); // 'node1'
 * upstreamOf(members, 'node1', 'node3', { nostream: true }); // undefined
 * ```
 */
export function upstreamOf(
  members: readonly UpstreamMember[],
  leader: string | undefined,
  name: string,
  tags: Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  if (tags?.nostream === true || tags?.nostream === 'true') return undefined;
  const from = tags?.replicatefrom;
  if (typeof from === 'string' && from !== '' && from !== name) {
    const m = members.find((x) => x.name === from);
    if (m && (m.name === leader || (m.state === 'running' && STANDBY_ROLES.has(m.role ?? '')))) return m.name;
  }
  return leader !== undefined && leader !== name ? leader : undefined;
}

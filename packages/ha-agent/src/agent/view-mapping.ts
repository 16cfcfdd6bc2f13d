import type { ClusterView as DcsView, Member } from '@pgtools/dcs';
import type { ClusterView, FailoverRequest } from '../decision/decision-input.js';
import { failoverTags } from '../decision/failover-tags.js';
import type { UpstreamMember } from '../decision/upstream.js';

/**
 * Host and port of a member's PostgreSQL from its `conn_url` (`postgres://h:p/postgres`).
 *
 * @example
 * ```ts
 * import { memberServer } from '@pgtools/ha-agent/internals';
 * memberServer({ name: 'n2', modRevision: 1, data: { conn_url: 'postgres://10.0.0.2:5433/postgres' } }); // { host: '10.0.0.2', port: 5433 }
 * ```
 */
export function memberServer(member: Member | undefined): { host: string; port: number } | undefined {
  const url = member?.data.conn_url;
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 5432 };
  } catch {
    return undefined;
  }
}

/**
 * The decision step's view of the cluster, from the etcd view.
 *
 * @example
 * ```ts
 * import { toDecisionView } from '@pgtools/ha-agent/internals';
 * const view = toDecisionView(await dcs.currentView());
 * ```
 */
export function toDecisionView(view: DcsView): ClusterView {
  const out: ClusterView = {
    members: view.members.map((m) => {
      const d = m.data;
      const cm: ClusterView['members'][number] = { name: m.name };
      if (d.role !== undefined) cm.role = d.role;
      if (d.state !== undefined) cm.state = d.state;
      if (d.api_url !== undefined) cm.apiUrl = d.api_url;
      if (d.conn_url !== undefined) cm.connUrl = d.conn_url;
      if (typeof d.xlog_location === 'number') cm.xlogLocation = d.xlog_location;
      if (typeof d.timeline === 'number') cm.timeline = d.timeline;
      const started = typeof d.postmaster_start_time === 'string' ? Date.parse(d.postmaster_start_time) : Number.NaN;
      if (Number.isFinite(started)) cm.postmasterStartTime = started;
      if (d.tags) {
        const t = d.tags;
        cm.tags = {
          ...t,
          nofailover: failoverTags(t).nofailover,
          clonefrom: t.clonefrom === true,
          noloadbalance: t.noloadbalance === true,
          nosync: t.nosync === true,
        };
      }
      return cm;
    }),
  };
  if (view.leader) out.leader = view.leader.name;
  if (view.initialize !== undefined) out.initialize = view.initialize;
  if (view.status) out.optime = view.status.value.optime;
  const history = view.history?.value;
  if (history) {
    // Patroni's Cluster.timeline: the last switch's timeline + 1, 1 for an empty list.
    const last = history.at(-1)?.[0];
    const timeline = last === undefined ? 1 : Number(last) + 1;
    if (Number.isInteger(timeline)) out.timeline = timeline;
  }
  const fo = view.failover?.value;
  if (fo && (fo.leader || fo.member)) {
    const req: FailoverRequest = {};
    if (fo.leader) req.leader = fo.leader;
    if (fo.member) req.candidate = fo.member;
    if (fo.scheduled_at) {
      const at = Date.parse(fo.scheduled_at);
      if (Number.isFinite(at)) req.scheduledAt = at;
    }
    out.failover = req;
  }
  const sync = view.sync?.value;
  if (sync) {
    const sb = syncStandbysOf(sync);
    out.sync = sync.leader ? { leader: sync.leader, syncStandbys: sb } : { syncStandbys: sb };
    const quorum = syncKeyQuorum(sync);
    if (quorum > 0) out.sync.quorum = quorum;
  }
  return out;
}

/**
 * The `sync` key's `quorum` field as Patroni's `SyncState` reads it: an integer, counted only when
 * the key names a leader; else 0.
 *
 * @example
 * ```ts
 * import { syncKeyQuorum } from '@pgtools/ha-agent/internals';
 * syncKeyQuorum({ leader: 'node1', sync_standby: 'node2,node3', quorum: 1 }); // 1
 * ```
 */
export function syncKeyQuorum(sync: { leader: string | null; quorum?: unknown } | undefined): number {
  const q = Number(sync?.quorum ?? 0);
  return sync?.leader && Number.isInteger(q) && q > 0 ? q : 0;
}

/**
 * The members the `sync` key names as synchronous standbys (`sync_standby` is a comma-separated list).
 *
 * @example
 * ```ts
 * import { syncStandbysOf } from '@pgtools/ha-agent/internals';
 * syncStandbysOf({ leader: 'node1', sync_standby: 'node2, node3' }); // ['node2', 'node3']
 * ```
 */
export function syncStandbysOf(sync: { sync_standby: string | null } | undefined): string[] {
  return sync?.sync_standby
    ? sync.sync_standby
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

/**
 * The members of `view` as `upstreamOf` and `slotPlan` read them (name, role, state, tags).
 *
 * @example
 * ```ts
 * import { upstreamMembers, upstreamOf } from '@pgtools/ha-agent/internals';
 * upstreamOf(upstreamMembers(view), view.leader?.name, 'node3', config.tags);
 * ```
 */
export function upstreamMembers(view: DcsView | undefined): UpstreamMember[] {
  return (view?.members ?? []).map((m) => ({ name: m.name, role: m.data.role, state: m.data.state, tags: m.data.tags }));
}

/**
 * Host and port of `name`'s PostgreSQL in `view`; undefined for this node itself (`me`) or an
 * unknown member.
 *
 * @example
 * ```ts
 * import { serverOf } from '@pgtools/ha-agent/internals';
 * serverOf('node1', 'node2', await dcs.currentView()); // { host: '10.0.0.1', port: 5432 }
 * ```
 */
export function serverOf(name: string | undefined, me: string, view: DcsView | undefined): { host: string; port: number } | undefined {
  if (!name || name === me) return undefined;
  return memberServer(view?.members.find((m) => m.name === name));
}

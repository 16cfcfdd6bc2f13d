import { syncStandbys, type ClusterView, type Member } from '@pgtools/dcs';
import { isStandbyClusterValue } from '@pgtools/ha-agent/internals';
import { roundHalfEven } from './hactl-pyfmt.js';

/**
 * One member as patronictl's `cluster_as_json` describes it (also what `GET /cluster` returns).
 *
 * @example
 * ```ts
 * import type { MemberSummary } from './hactl-members.js';
 * const m: MemberSummary = { name: 'pg2', role: 'replica', state: 'running', host: '127.0.0.1', port: 5433, timeline: 2, lag: 0 };
 * ```
 */
export interface MemberSummary {
  name: string;
  role: 'leader' | 'standby_leader' | 'sync_standby' | 'quorum_standby' | 'replica';
  state: string;
  api_url?: string;
  host?: string;
  port?: number;
  timeline?: unknown;
  pending_restart?: unknown;
  scheduled_restart?: unknown;
  tags?: unknown;
  /** Bytes behind `status.optime`; `'unknown'` when the member publishes no WAL position; absent on the leader. */
  lag?: number | 'unknown';
  /**
   * The member this replica's WAL receiver is connected to, from the `upstream` (`host:port`) a
   * pgtools member publishes; `''` when it streams from no member. Absent when the member does not
   * publish it (Patroni, or not running): `topology` then goes by its `replicatefrom` tag.
   */
  upstream?: string;
}

/**
 * The whole cluster as patronictl's `cluster_as_json` sees it.
 *
 * @example
 * ```ts
 * import type { ClusterSummary } from './hactl-members.js';
 * const c: ClusterSummary = { members: [], pause: true };
 * ```
 */
export interface ClusterSummary {
  members: MemberSummary[];
  pause?: boolean;
  scheduled_switchover?: { at: string; from?: string; to?: string };
}

/**
 * Patroni's `parse_bool`: `true`, `on`, `yes`, `1` (any case) are true; anything else is not.
 *
 * @example
 * ```ts
 * parseBool('on'); // true
 * parseBool(undefined); // false
 * ```
 */
export function parseBool(value: unknown): boolean {
  if (value === true) return true;
  if (value === undefined || value === null || value === false) return false;
  return ['on', 'true', 'yes', '1'].includes(String(value).toLowerCase());
}

/**
 * Whether the cluster is in maintenance mode (`pause` in the `config` key).
 *
 * @example
 * ```ts
 * isPaused({ members: [], problems: [], revision: 1, config: { value: { pause: true }, modRevision: 1 } }); // true
 * ```
 */
export function isPaused(view: ClusterView): boolean {
  return parseBool(view.config?.value.pause);
}

/**
 * Host and port from a member's `conn_url` (or `conn_kwargs`), as Patroni's `conn_kwargs()` reads them.
 *
 * @example
 * ```ts
 * memberAddress({ name: 'pg1', modRevision: 1, data: { conn_url: 'postgres://10.0.0.1:5433/postgres' } });
 * // { host: '10.0.0.1', port: 5433 }
 * ```
 */
export function memberAddress(member: Member): { host?: string; port?: number } {
  const kwargs = member.data.conn_kwargs;
  if (kwargs && typeof kwargs === 'object') {
    const k = kwargs as { host?: unknown; port?: unknown };
    const out: { host?: string; port?: number } = {};
    if (k.host) out.host = String(k.host);
    if (k.port !== undefined && k.port !== null && k.port !== '') out.port = Number(k.port);
    return out;
  }
  if (!member.data.conn_url) return {};
  try {
    const url = new URL(member.data.conn_url);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    return host ? { host, port: url.port ? Number(url.port) : 5432 } : {};
  } catch {
    return {};
  }
}

/**
 * Summarises a cluster view like patronictl's `cluster_as_json`: roles (leader, standby_leader,
 * sync_standby or quorum_standby, replica), lag against `status.optime`, members sorted by name, pause and a
 * scheduled switchover.
 *
 * @example
 * ```ts
 * const summary = summarizeCluster(await dcs.loadCluster());
 * summary.members.map((m) => `${m.name} ${m.role}`);
 * ```
 */
export function summarizeCluster(view: ClusterView): ClusterSummary {
  const leaderName = view.leader?.name;
  const clusterLsn = view.status?.value.optime ?? 0;
  const sync = syncStandbys(view.sync?.value);
  const standbyCluster = view.config !== undefined && isStandbyClusterValue(view.config.value.standby_cluster);
  const members: MemberSummary[] = [];
  const byAddress = new Map<string, string>();
  for (const m of view.members) {
    const { host, port } = memberAddress(m);
    if (host) byAddress.set(`${host.includes(':') ? `[${host}]` : host}:${port ?? 5432}`, m.name);
  }
  // Patroni 4.1's cluster_as_json: a listed member is a quorum standby in quorum mode.
  const syncRole = String(view.config?.value.synchronous_mode).toLowerCase() === 'quorum' ? 'quorum_standby' : 'sync_standby';
  for (const m of view.members) {
    const role: MemberSummary['role'] = m.name === leaderName ? (standbyCluster ? 'standby_leader' : 'leader') : sync.includes(m.name) ? syncRole : 'replica';
    const summary: MemberSummary = { name: m.name, role, state: typeof m.data.state === 'string' ? m.data.state : '' };
    if (m.data.api_url !== undefined) summary.api_url = m.data.api_url;
    const { host, port } = memberAddress(m);
    if (host) {
      summary.host = host;
      if (port) summary.port = port;
    }
    for (const key of ['timeline', 'pending_restart', 'scheduled_restart', 'tags'] as const) {
      if (key in m.data) summary[key] = m.data[key];
    }
    if (typeof m.data.upstream === 'string') summary.upstream = byAddress.get(m.data.upstream) ?? '';
    if (m.name !== leaderName) {
      const lsn = m.data.xlog_location;
      summary.lag = typeof lsn !== 'number' ? 'unknown' : clusterLsn >= lsn ? clusterLsn - lsn : 0;
    }
    members.push(summary);
  }
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: ClusterSummary = { members };
  if (isPaused(view)) out.pause = true;
  const failover = view.failover?.value;
  if (failover?.scheduled_at) {
    out.scheduled_switchover = { at: failover.scheduled_at };
    if (failover.leader) out.scheduled_switchover.from = failover.leader;
    if (failover.member) out.scheduled_switchover.to = failover.member;
  }
  return out;
}

/**
 * Rows of `hactl list`: the columns patronictl prints (Cluster | Member | Host | Role | State | TL |
 * Lag in MB, plus Pending restart / Scheduled restart / Tags when some member has them or
 * `extended`), in patronictl's order and with its values.
 *
 * @example
 * ```ts
 * const { columns, rows } = memberRows(summarizeCluster(view), 'demo', { topology: false, extended: false });
 * ```
 */
export function memberRows(
  cluster: ClusterSummary,
  clusterName: string,
  options: { extended?: boolean; topology?: boolean } = {},
): { columns: string[]; rows: unknown[][] } {
  const columns = ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'];
  const withHost = cluster.members.filter((m) => m.host !== undefined);
  for (const [column, key] of [
    ['Pending restart', 'pending_restart'],
    ['Scheduled restart', 'scheduled_restart'],
    ['Tags', 'tags'],
  ] as const) {
    if (options.extended || withHost.some((m) => truthy(m[key]))) columns.push(column);
  }
  // Show host:port when someone runs on a non-standard port or two members share a host.
  const appendPort = withHost.some((m) => m.port !== undefined && m.port !== 5432) || new Set(withHost.map((m) => m.host)).size < withHost.length;

  const ordered = options.topology ? topologySort(cluster.members) : cluster.members.map((m) => ({ member: m, label: m.name }));
  const rows = ordered.map(({ member: m, label }) => {
    let host = m.host ?? '';
    if (appendPort && host && m.port) host = `${host}:${m.port}`;
    let scheduled: unknown = '';
    if (m.scheduled_restart && typeof m.scheduled_restart === 'object') {
      const s = m.scheduled_restart as { schedule?: unknown; postgres_version?: unknown };
      scheduled = `${String(s.schedule ?? '')}${s.postgres_version !== undefined ? ` if version < ${String(s.postgres_version)}` : ''}`;
    } else if (m.scheduled_restart !== undefined) {
      scheduled = m.scheduled_restart;
    }
    const values: Record<string, unknown> = {
      Cluster: clusterName,
      Member: label,
      Host: host,
      Role: m.role.replace(/_/g, ' ').replace(/\b[a-z]/g, (c) => c.toUpperCase()),
      State: m.state,
      TL: m.timeline ?? '',
      'Lag in MB': typeof m.lag === 'number' ? roundHalfEven(m.lag / 1024 / 1024) : (m.lag ?? ''),
      'Pending restart': truthy(m.pending_restart) ? '*' : '',
      'Scheduled restart': scheduled,
      Tags: m.tags ?? '',
    };
    return columns.map((c) => values[c]);
  });
  return { columns, rows };
}

function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '' || value === 0) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * patronictl's `topology_sort`: the leader, then each member under the one it replicates from:
 * the member its WAL receiver is connected to when it publishes that (`upstream`), else the one
 * its `replicatefrom` tag names (patronictl's only source), else the leader.
 */
function topologySort(members: MemberSummary[]): Array<{ member: MemberSummary; label: string }> {
  const leader = members.find((m) => m.role.endsWith('leader'));
  const replicas = new Set(members.filter((m) => !m.role.endsWith('leader')).map((m) => m.name));
  const children = new Map<string | undefined, MemberSummary[]>();
  for (const m of members) {
    if (m.role.endsWith('leader')) continue;
    const tags = (m.tags && typeof m.tags === 'object' ? m.tags : {}) as { replicatefrom?: unknown };
    const from = m.upstream !== undefined ? m.upstream : typeof tags.replicatefrom === 'string' ? tags.replicatefrom : undefined;
    const parent = from && from !== m.name && replicas.has(from) ? from : leader?.name;
    const list = children.get(parent) ?? [];
    list.push(m);
    children.set(parent, list);
  }
  const out: Array<{ member: MemberSummary; label: string }> = [];
  const seen = new Set<string>();
  const visit = (name: string | undefined, level: number): void => {
    for (const child of children.get(name) ?? []) {
      if (seen.has(child.name)) continue; // replicatefrom cycles would otherwise never end
      seen.add(child.name);
      out.push({ member: child, label: `${' '.repeat((level - 1) * 2)}+ ${child.name}` });
      visit(child.name, level + 1);
    }
  };
  if (leader) {
    seen.add(leader.name);
    out.push({ member: leader, label: leader.name });
  }
  visit(leader?.name, 1);
  return out;
}

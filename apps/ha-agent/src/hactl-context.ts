import { PgToolsError } from '@pgtools/core';
import type { ClusterConfig, ClusterView, Member } from '@pgtools/dcs';
import type { CtlConfig } from './hactl-config.js';
import { memberAddress } from './hactl-members.js';
import type { Prompter } from './hactl-prompt.js';
import type { RestClient, RestResponse } from './hactl-rest.js';

/**
 * The part of `EtcdDcs` hactl uses (one cluster): read the view, compare-and-swap the config,
 * clear the `failover` key (`flush switchover` without a reachable member), delete the cluster (`remove`).
 *
 * @example
 * ```ts
 * import type { CtlDcs } from './hactl-context.js';
 * const leaderOf = async (dcs: CtlDcs) => (await dcs.loadCluster()).leader?.name;
 * ```
 */
export interface CtlDcs {
  loadCluster(): Promise<ClusterView>;
  setConfig(value: ClusterConfig, expectedModRevision?: number): Promise<boolean>;
  clearFailover(expectedModRevision?: number): Promise<boolean>;
  deleteCluster(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Everything a verb needs: configuration, output streams, questions, the REST client and etcd.
 * Verbs never touch `process` themselves, so they run the same in tests.
 *
 * @example
 * ```ts
 * import type { CtlContext } from './hactl-context.js';
 * const say = (ctx: CtlContext, text: string) => ctx.out(`${text}\n`);
 * ```
 */
export interface CtlContext {
  config: CtlConfig;
  out(text: string): void;
  err(text: string): void;
  /** Asks questions; a refusing prompter when stdin is not a terminal. */
  prompter: Prompter;
  rest: Pick<RestClient, 'request'>;
  /** Opens etcd for one cluster (scope). The caller closes it. */
  openDcs(scope: string): CtlDcs;
  now(): Date;
  version: string;
  /** Seconds to sleep between watch refreshes and polls (tests shorten it). */
  sleep(seconds: number): Promise<void>;
  /** Clears the screen before a watch refresh (only on a terminal). */
  clear(): void;
}

/**
 * A failure reported as `Error: <message>` with exit code 1 (patronictl's `PatroniCtlException`).
 *
 * @example
 * ```ts
 * throw ctlError('This cluster has no leader');
 * ```
 */
export function ctlError(message: string): PgToolsError {
  return new PgToolsError('ctl_failed', message);
}

/**
 * Runs `fn` with etcd opened for `scope`, closing it afterwards.
 *
 * @example
 * ```ts
 * const view = await withDcs(ctx, 'demo', (dcs) => dcs.loadCluster());
 * ```
 */
export async function withDcs<T>(ctx: CtlContext, scope: string, fn: (dcs: CtlDcs) => Promise<T>): Promise<T> {
  const dcs = ctx.openDcs(scope);
  try {
    return await fn(dcs);
  } finally {
    await dcs.close().catch(() => undefined);
  }
}

/**
 * Roles accepted by `-r/--role` (patronictl's `role_choice`).
 *
 * @example
 * ```ts
 * ROLE_CHOICES.includes('replica'); // true
 * ```
 */
export const ROLE_CHOICES: readonly string[] = ['leader', 'primary', 'standby-leader', 'replica', 'standby', 'any', 'master'];

/**
 * Members with a role, as patronictl's `get_all_members` selects them: the leader for
 * leader/primary/master/standby-leader (primary and standby-leader told apart by the leader's
 * published role), every other member for replica/standby, everyone for any.
 *
 * @example
 * ```ts
 * membersWithRole(view, 'replica').map((m) => m.name);
 * ```
 */
export function membersWithRole(view: ClusterView, role: string): Member[] {
  if (['leader', 'master', 'primary', 'standby-leader'].includes(role)) {
    const wanted = role === 'primary' ? 'master' : role === 'standby-leader' ? 'standby_leader' : role;
    const leader = view.leader;
    if (!leader?.name) return [];
    const member = leader.member ?? { name: leader.name, data: {}, modRevision: 0 };
    const published = member.data.role;
    const isPrimaryRole = published === 'master' || published === 'primary';
    if (wanted === 'leader' || (!isPrimaryRole && wanted === 'standby_leader') || (published !== 'standby_leader' && wanted === 'master')) return [member];
    return [];
  }
  const leaderName = view.leader?.name;
  return view.members.filter((m) => role === 'any' || ((role === 'replica' || role === 'standby') && m.name !== leaderName));
}

/**
 * The PostgreSQL address `dsn` and `query` connect to (patronictl's `get_any_member`): the named
 * member (any role), else the first member with `role` (default the leader); `{}` when none has one.
 *
 * @example
 * ```ts
 * pickedAddress(view, { role: 'replica', member: undefined }); // { host: '10.0.0.2', port: 5432 }
 * ```
 */
export function pickedAddress(view: ClusterView, o: { role?: string | undefined; member?: string | undefined }): { host?: string; port?: number } {
  const role = o.member !== undefined ? 'any' : (o.role ?? 'leader');
  const member = membersWithRole(view, role).find((m) => o.member === undefined || m.name === o.member);
  return member ? memberAddress(member) : {};
}

/**
 * The leader first, then the other members that publish a REST API (patronictl's
 * `get_all_members_leader_first`): whom to ask for cluster-wide changes such as pause.
 *
 * @example
 * ```ts
 * for (const m of membersLeaderFirst(view)) console.log(m.name, m.data.api_url);
 * ```
 */
export function membersLeaderFirst(view: ClusterView): Member[] {
  const leader = view.leader?.member?.data.api_url ? view.leader.member : undefined;
  const rest = view.members.filter((m) => m.data.api_url && m.name !== leader?.name);
  return leader ? [leader, ...rest] : rest;
}

/**
 * Sends one REST call to a member; a member without `api_url` fails like a network error.
 *
 * @example
 * ```ts
 * const r = await callMember(ctx, member, 'POST', 'restart', {});
 * ```
 */
export async function callMember(ctx: CtlContext, member: Member, method: string, endpoint?: string, data?: unknown): Promise<RestResponse> {
  const apiUrl = member.data.api_url;
  if (!apiUrl) throw new PgToolsError('rest_unreachable', `member ${member.name} publishes no api_url`);
  return ctx.rest.request(apiUrl, method, endpoint, data);
}

/**
 * patronictl's `parse_scheduled`: `now` (or nothing) means immediately; otherwise an ISO 8601
 * timestamp, local time when it has no offset. Returns Python's `isoformat()` text.
 *
 * @example
 * ```ts
 * parseScheduled('2030-01-01T10:00+00:00'); // '2030-01-01T10:00:00+00:00'
 * parseScheduled('now'); // undefined
 * ```
 */
export function parseScheduled(scheduled: string | undefined): string | undefined {
  if ((scheduled || 'now') === 'now') return undefined;
  const text = (scheduled ?? '').trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(text);
  const fail = (): never => {
    throw ctlError(`Unable to parse scheduled timestamp (${scheduled}). It should be in an unambiguous format (e.g. ISO 8601)`);
  };
  if (!m) return fail();
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac, zone] = m;
  const nums = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const micro = frac ? Number(frac.padEnd(6, '0')) : 0;
  const check = new Date(Date.UTC(nums[0], nums[1] - 1, nums[2], nums[3], nums[4], nums[5]));
  if (check.getUTCMonth() !== nums[1] - 1 || check.getUTCDate() !== nums[2] || nums[3] > 23 || nums[4] > 59 || nums[5] > 59) return fail();
  let offsetMin: number;
  if (zone === undefined) {
    offsetMin = -new Date(nums[0], nums[1] - 1, nums[2], nums[3], nums[4], nums[5]).getTimezoneOffset();
  } else if (zone.toUpperCase() === 'Z') {
    offsetMin = 0;
  } else {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!z) return fail();
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
  }
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const fraction = micro ? `.${String(micro).padStart(6, '0')}` : '';
  return `${nums[0]}-${p2(nums[1])}-${p2(nums[2])}T${p2(nums[3])}:${p2(nums[4])}:${p2(nums[5])}${fraction}${sign}${p2(Math.floor(abs / 60))}:${p2(abs % 60)}`;
}

/**
 * Python's repr of a list of names, as patronictl shows candidates: `['pg2', 'pg3']`.
 *
 * @example
 * ```ts
 * pyList(['pg2', 'pg3']); // "['pg2', 'pg3']"
 * ```
 */
export function pyList(names: readonly string[]): string {
  return `[${names.map((n) => `'${n}'`).join(', ')}]`;
}

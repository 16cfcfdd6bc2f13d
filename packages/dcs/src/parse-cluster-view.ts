import type { KeyLayout } from './key-layout.js';
import type {
  ClusterConfig,
  ClusterView,
  FailoverValue,
  FailsafeValue,
  HistoryEntry,
  LeaderInfo,
  Member,
  MemberData,
  StatusValue,
  SyncState,
  Versioned,
  ViewProblem,
} from './types.js';

/**
 * One key/value pair as read from etcd, already decoded to strings.
 *
 * @example
 * ```ts
 * import type { RawKeyValue } from '@pgtools/dcs';
 * const kv: RawKeyValue = { key: '/service/demo/leader', value: 'node1', modRevision: 7, lease: '7587868869999482893' };
 * ```
 */
export interface RawKeyValue {
  key: string;
  value: string;
  modRevision: number | string;
  /** Lease id as a decimal string; `'0'` or undefined when the key has no lease. */
  lease?: string;
}

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Turns the key/value pairs of one range read of the cluster prefix into a typed view.
 * Pure: no I/O, no clock. A value that cannot be parsed never throws: it is listed in
 * `problems` and otherwise ignored (a member with a garbage value is kept with empty data,
 * as Patroni does, because its key still proves the member's agent is alive).
 *
 * @example
 * ```ts
 * import { keyLayout, parseClusterView } from '@pgtools/dcs';
 * const view = parseClusterView(keyLayout('service', 'demo'), [
 *   { key: '/service/demo/leader', value: 'node1', modRevision: 5, lease: '42' },
 *   { key: '/service/demo/members/node1', value: '{"role":"master","state":"running"}', modRevision: 4, lease: '42' },
 * ], 5);
 * view.leader?.member?.data.role; // 'master'
 * ```
 */
export function parseClusterView(layout: KeyLayout, kvs: readonly RawKeyValue[], revision: number): ClusterView {
  const problems: ViewProblem[] = [];
  const byKey = new Map<string, RawKeyValue>();
  for (const kv of kvs) if (kv.key.startsWith(layout.prefix)) byKey.set(kv.key, kv);

  const problem = (kv: RawKeyValue, reason: string): void => {
    problems.push({ key: kv.key, reason, raw: kv.value, modRevision: toRevision(kv.modRevision) });
  };
  const parseJson = (kv: RawKeyValue): { ok: true; value: unknown } | { ok: false } => {
    try {
      return { ok: true, value: JSON.parse(kv.value) as unknown };
    } catch (err) {
      problem(kv, `invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
      return { ok: false };
    }
  };
  const versioned = <T>(kv: RawKeyValue, value: T): Versioned<T> => ({ value, modRevision: toRevision(kv.modRevision) });

  const view: ClusterView = { revision, members: [], problems };

  const initialize = byKey.get(layout.initialize);
  if (initialize) {
    // A system identifier is a decimal number; anything else would make every node exit with
    // "system ID mismatch". The key still proves the cluster was initialized, so it reads as ''
    // (initialized, identifier unknown): nobody bootstraps over it and nobody exits.
    if (initialize.value === '' || /^\d+$/.test(initialize.value)) view.initialize = initialize.value;
    else {
      problem(initialize, 'initialize is not a system identifier (digits)');
      view.initialize = '';
    }
  }

  const config = byKey.get(layout.config);
  if (config) {
    const parsed = parseJson(config);
    if (parsed.ok) {
      if (isObject(parsed.value)) view.config = versioned(config, parsed.value as ClusterConfig);
      else problem(config, 'config is not a JSON object');
    }
  }

  const members: Member[] = [];
  for (const kv of byKey.values()) {
    if (!kv.key.startsWith(layout.members)) continue;
    const name = kv.key.slice(layout.members.length);
    // Deeper keys (citus groups, foreign tools) are not members of this cluster.
    if (name === '' || name.includes('/')) continue;
    let data: MemberData = {};
    const parsed = parseJson(kv);
    if (parsed.ok) {
      if (isObject(parsed.value)) {
        const { clean, dropped } = sanitizeMember(parsed.value);
        data = clean;
        if (dropped.length > 0) problem(kv, `member fields with the wrong type ignored: ${dropped.join(', ')}`);
      } else problem(kv, 'member data is not a JSON object');
    }
    const member: Member = { name, data, modRevision: toRevision(kv.modRevision) };
    const lease = leaseOf(kv);
    if (lease !== undefined) member.lease = lease;
    members.push(member);
  }
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  view.members = members;

  const leader = byKey.get(layout.leader);
  if (leader) {
    if (leader.value === '') problem(leader, 'leader key is empty');
    else if (!isMemberName(leader.value)) problem(leader, 'leader key does not hold a member name');
    else {
      const info: LeaderInfo = { name: leader.value, modRevision: toRevision(leader.modRevision) };
      const lease = leaseOf(leader);
      if (lease !== undefined) info.lease = lease;
      const member = members.find((m) => m.name === leader.value);
      if (member) info.member = member;
      view.leader = info;
    }
  }

  const status = byKey.get(layout.status);
  if (status) {
    const parsed = parseJson(status);
    if (parsed.ok) {
      const value = parseStatus(parsed.value);
      if (value) view.status = versioned(status, value);
      else problem(status, 'status is not an object with a numeric "optime"');
    }
  } else {
    const legacy = byKey.get(layout.leaderOptime);
    if (legacy) {
      const optime = Number(legacy.value);
      if (legacy.value.trim() !== '' && Number.isSafeInteger(optime) && optime >= 0) view.status = versioned(legacy, { optime });
      else problem(legacy, 'optime/leader is not an integer');
    }
  }

  const failover = byKey.get(layout.failover);
  if (failover) {
    const value = parseFailover(failover.value);
    if (value) view.failover = versioned(failover, value);
    else problem(failover, 'failover is neither a JSON object nor "leader:candidate"');
  }

  const sync = byKey.get(layout.sync);
  if (sync) {
    const parsed = parseJson(sync);
    if (parsed.ok) {
      if (isObject(parsed.value)) {
        const leaderName = parsed.value.leader;
        const standby = parsed.value.sync_standby;
        view.sync = versioned(sync, {
          ...parsed.value,
          leader: typeof leaderName === 'string' ? leaderName : null,
          sync_standby: typeof standby === 'string' ? standby : null,
        });
      } else problem(sync, 'sync is not a JSON object');
    }
  }

  const history = byKey.get(layout.history);
  if (history) {
    const parsed = parseJson(history);
    if (parsed.ok) {
      if (Array.isArray(parsed.value)) {
        const lines = parsed.value.filter(isHistoryEntry);
        if (lines.length !== parsed.value.length) problem(history, 'history has malformed lines (ignored)');
        view.history = versioned(history, lines);
      } else problem(history, 'history is not a JSON list');
    }
  }

  const failsafe = byKey.get(layout.failsafe);
  if (failsafe) {
    const parsed = parseJson(failsafe);
    if (parsed.ok) {
      if (isObject(parsed.value) && Object.values(parsed.value).every((v) => typeof v === 'string')) {
        view.failsafe = versioned(failsafe, parsed.value as FailsafeValue);
      } else problem(failsafe, 'failsafe is not an object of name -> api_url');
    }
  }

  return view;
}

/**
 * The names listed in `sync.sync_standby` (comma-separated in the key).
 *
 * @example
 * ```ts
 * import { syncStandbys } from '@pgtools/dcs';
 * syncStandbys({ leader: 'a', sync_standby: 'b, c' }); // ['b', 'c']
 * ```
 */
export function syncStandbys(sync: SyncState | undefined): string[] {
  if (!sync?.sync_standby) return [];
  return sync.sync_standby
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** What `keyLayout().member()` accepts, minus control characters and undecodable bytes. */
function isMemberName(value: string): boolean {
  return value !== '' && !value.includes('/') && !/[\u0000-\u001f\u007f\ufffd]/.test(value);
}

const MEMBER_FIELD_TYPES: Record<string, 'string' | 'number' | 'boolean' | 'object'> = {
  conn_url: 'string',
  api_url: 'string',
  state: 'string',
  role: 'string',
  version: 'string',
  xlog_location: 'number',
  timeline: 'number',
  tags: 'object',
  pending_restart: 'boolean',
  scheduled_restart: 'object',
  pause: 'boolean',
  checkpoint_after_promote: 'boolean',
};

/**
 * Drops the fields whose type the agent relies on but which hold something else (a hand-edited
 * key with `"xlog_location": "abc"` must not reach the lag arithmetic). Unknown fields are kept.
 */
function sanitizeMember(value: JsonObject): { clean: MemberData; dropped: string[] } {
  const clean: JsonObject = {};
  const dropped: string[] = [];
  for (const [field, v] of Object.entries(value)) {
    const want = MEMBER_FIELD_TYPES[field];
    const ok =
      want === undefined ||
      v === null ||
      (want === 'object' ? isObject(v) : want === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === want);
    if (!ok) dropped.push(field);
    else if (v !== null || want === undefined) clean[field] = v;
  }
  return { clean: clean as MemberData, dropped };
}

function toRevision(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

function leaseOf(kv: RawKeyValue): string | undefined {
  return kv.lease === undefined || kv.lease === '0' || kv.lease === '' ? undefined : kv.lease;
}

function parseStatus(value: unknown): StatusValue | undefined {
  if (!isObject(value)) return undefined;
  const optime = value.optime;
  if (typeof optime !== 'number' || !Number.isFinite(optime)) return undefined;
  const out: StatusValue = { ...value, optime };
  if (value.slots !== undefined && value.slots !== null) {
    if (!isObject(value.slots)) return undefined;
    const slots: Record<string, number> = {};
    for (const [name, lsn] of Object.entries(value.slots)) if (typeof lsn === 'number') slots[name] = lsn;
    out.slots = slots;
  } else delete out.slots;
  return out;
}

function parseFailover(raw: string): FailoverValue | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Very old Patroni wrote "leader:candidate" as plain text; Patroni still reads that form.
    const parts = raw.split(':').map((s) => s.trim());
    const leader = parts[0] ?? '';
    const member = parts[1] ?? '';
    if (parts.length > 2 || (leader === '' && member === '')) return undefined;
    const out: FailoverValue = {};
    if (leader !== '') out.leader = leader;
    if (member !== '') out.member = member;
    return out;
  }
  if (!isObject(parsed)) return undefined;
  const out: FailoverValue = { ...parsed };
  for (const field of ['leader', 'member', 'scheduled_at'] as const) {
    const v = parsed[field];
    if (v === undefined || v === null || v === '') delete out[field];
    else if (typeof v !== 'string') return undefined;
  }
  return out;
}

function isHistoryEntry(line: unknown): line is HistoryEntry {
  return (
    Array.isArray(line) &&
    line.length >= 3 &&
    typeof line[0] === 'number' &&
    typeof line[1] === 'number' &&
    typeof line[2] === 'string' &&
    (line[3] === undefined || typeof line[3] === 'string') &&
    (line[4] === undefined || typeof line[4] === 'string')
  );
}

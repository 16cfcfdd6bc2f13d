import { describe, invalid, isObj, type Section } from './config-reader.js';

/** One permanent slot of the dynamic configuration (`slots:`). */
export interface PermanentSlot {
  name: string;
  type: 'physical' | 'logical';
  /** Logical slots: the database the slot decodes. */
  database?: string;
  /** Logical slots: the output plugin (`pgoutput`, `test_decoding`, `wal2json`...). */
  plugin?: string;
  /** Physical slots: `primary` = only in a primary cluster, `standby` = only in a standby cluster (Patroni 4). */
  clusterType?: 'primary' | 'standby';
}

/** One `ignore_slots` entry: a slot matching every attribute given is never dropped by the agent. */
export interface IgnoreSlotMatcher {
  name?: string;
  type?: string;
  database?: string;
  plugin?: string;
}

/** The slot settings of the dynamic configuration. */
export interface DynamicSlots {
  /** `slots:` (Patroni's "permanent replication slots"). */
  permanentSlots: PermanentSlot[];
  /** `ignore_slots:`. */
  ignoreSlots: IgnoreSlotMatcher[];
  /** `member_slots_ttl`, ms: how long the leader keeps the slot of a member whose key is gone. Default 30 min. */
  memberSlotsTtlMs: number;
}

/** Patroni 4's `member_slots_ttl` default (patroni/global_config.py: 1800 s). */
export const MEMBER_SLOTS_TTL_DEFAULT_MS = 30 * 60_000;

/** What PostgreSQL accepts as a slot name (ReplicationSlotValidateName), as Patroni checks it (`slot_name_re`). */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 };

function seconds(s: Section, key: string): number | undefined {
  const v = s.value(key);
  if (v === undefined || v === null) return undefined;
  const m = typeof v === 'number' ? [String(v), String(v), 's'] : typeof v === 'string' ? /^\s*(\d+)\s*(ms|s|min|h|d)?\s*$/.exec(v) : null;
  const factor = UNIT_SECONDS[m?.[2] ?? 's'];
  if (!m || factor === undefined || !Number.isFinite(Number(m[1])) || Number(m[1]) < 0) {
    throw invalid(s.key(key), `must be a duration in seconds (1800, '1800s', '30min'), got ${describe(v)}`);
  }
  return Number(m[1]) * factor;
}

function optionalString(path: string, entry: Record<string, unknown>, key: string): string | undefined {
  const v = entry[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') throw invalid(`${path}.${key}`, `must be a non-empty string, got ${describe(v)}`);
  return v;
}

function permanentSlot(path: string, name: string, raw: unknown): PermanentSlot {
  if (!SLOT_NAME.test(name)) throw invalid(path, 'a slot name may only contain lower case letters, numbers and the underscore (at most 63)');
  if (raw !== null && raw !== undefined && !isObj(raw)) throw invalid(path, `must be a mapping (type, database, plugin) or empty, got ${describe(raw)}`);
  const entry = raw ?? {};
  for (const k of Object.keys(entry)) if (!['type', 'database', 'plugin', 'cluster_type'].includes(k)) throw invalid(`${path}.${k}`, 'unknown slot attribute');
  const database = optionalString(path, entry, 'database');
  const plugin = optionalString(path, entry, 'plugin');
  // Patroni: without `type`, a slot with both a database and a plugin is logical.
  const type = optionalString(path, entry, 'type') ?? (database && plugin ? 'logical' : 'physical');
  if (type !== 'physical' && type !== 'logical') throw invalid(`${path}.type`, `must be physical or logical, got "${type}"`);
  if (type === 'logical') {
    if (!database || !plugin) throw invalid(path, 'a logical slot needs both `database` and `plugin`');
    return { name, type, database, plugin };
  }
  const clusterType = optionalString(path, entry, 'cluster_type');
  if (clusterType !== undefined && clusterType !== 'primary' && clusterType !== 'standby') {
    throw invalid(`${path}.cluster_type`, `must be primary or standby, got "${clusterType}"`);
  }
  return clusterType ? { name, type, clusterType } : { name, type };
}

/**
 * Reads `slots`, `ignore_slots` and `member_slots_ttl` from the dynamic configuration's top level.
 * A bad slot name or attribute is refused naming it (Patroni logs it and skips the slot).
 *
 * @example
 * ```ts
 * // bootstrap.dcs: {slots: {cdc: {type: logical, database: app, plugin: pgoutput}}, member_slots_ttl: 0}
 * parseSlotsConfig(s).permanentSlots; // [{ name: 'cdc', type: 'logical', database: 'app', plugin: 'pgoutput' }]
 * ```
 */
export function parseSlotsConfig(s: Section): DynamicSlots {
  const slots = s.section('slots');
  const permanentSlots = Object.entries(slots.raw).map(([name, raw]) => permanentSlot(slots.key(name), name, raw));
  const rawIgnore = s.value('ignore_slots');
  if (rawIgnore !== undefined && rawIgnore !== null && !Array.isArray(rawIgnore))
    throw invalid(s.key('ignore_slots'), `must be a list, got ${describe(rawIgnore)}`);
  const ignoreSlots = ((rawIgnore as unknown[] | null | undefined) ?? []).map((item, i) => {
    const path = `${s.key('ignore_slots')}[${i}]`;
    if (!isObj(item)) throw invalid(path, `must be a mapping (name, type, database, plugin), got ${describe(item)}`);
    const matcher: IgnoreSlotMatcher = {};
    for (const k of Object.keys(item)) {
      if (k !== 'name' && k !== 'type' && k !== 'database' && k !== 'plugin') throw invalid(`${path}.${k}`, 'unknown attribute (name, type, database, plugin)');
      const v = optionalString(path, item, k);
      if (v !== undefined) matcher[k] = v;
    }
    return matcher;
  });
  const ttl = seconds(s, 'member_slots_ttl');
  return { permanentSlots, ignoreSlots, memberSlotsTtlMs: ttl === undefined ? MEMBER_SLOTS_TTL_DEFAULT_MS : ttl * 1000 };
}

/** A slot as pg_replication_slots shows it (the attributes `ignore_slots` matches on). */
export interface SlotAttributes {
  name: string;
  type: string;
  database?: string | null | undefined;
  plugin?: string | null | undefined;
}

/**
 * Whether `ignore_slots` protects `slot`: some entry whose every given attribute equals the
 * slot's (Patroni's `ignore_replication_slot`).
 *
 * @example
 * ```ts
 * import { slotIgnored } from '@pgtools/ha-agent/internals';
 * slotIgnored([{ type: 'logical', plugin: 'wal2json' }], { name: 'x', type: 'logical', database: 'app', plugin: 'wal2json' }); // true
 * ```
 */
export function slotIgnored(matchers: readonly IgnoreSlotMatcher[], slot: SlotAttributes): boolean {
  return matchers.some(
    (m) =>
      (m.name === undefined || m.name === slot.name) &&
      (m.type === undefined || m.type === slot.type) &&
      (m.database === undefined || m.database === slot.database) &&
      (m.plugin === undefined || m.plugin === slot.plugin),
  );
}

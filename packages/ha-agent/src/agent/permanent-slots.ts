import { slotIgnored, type IgnoreSlotMatcher, type PermanentSlot } from '../config/slots-config.js';
import type { LocalSlot } from '../postgres/slot-queries.js';

/** What `permanentSlotPlan` decides for one cycle. */
export interface PermanentSlotPlan {
  createPhysical: string[];
  /** Leader only: PostgreSQL 15 cannot create a logical slot on a standby. */
  createLogical: PermanentSlot[];
  /** Replica only: slots to move forward to the leader's published position. */
  advance: Array<{ name: string; database: string | undefined; lsn: number }>;
  /** Replica only: logical slots to copy from the leader (their state file), absent here. */
  copy: string[];
  /** Slots the agent manages that are no longer wanted, or whose attributes changed (recreated afterwards). */
  drop: string[];
}

/** The permanent slots a node keeps, as Patroni 4's `_get_permanent_slots` picks them. */
export function wantedPermanentSlots(o: {
  permanent: readonly PermanentSlot[];
  /** This node's own slot name (`slotNameFor(name)`): never made on itself. */
  me: string;
  /** Slot names of the members (in the view or seen lately): a logical slot may not take one. */
  memberSlots: ReadonlySet<string>;
  /** `use_slots: false` or the `nofailover` tag: no permanent slots at all. */
  disabled: boolean;
  /** A standby cluster (`standby_cluster`) keeps physical slots only: its members are all in recovery. */
  standbyCluster?: boolean;
}): { wanted: PermanentSlot[]; conflicts: string[] } {
  if (o.disabled) return { wanted: [], conflicts: [] };
  const wanted: PermanentSlot[] = [];
  const conflicts: string[] = [];
  for (const slot of o.permanent) {
    // A physical slot named after a member is that member's slot, kept as a permanent one.
    // `cluster_type` says in which kind of cluster a physical slot exists (Patroni 4).
    const otherCluster = slot.clusterType === (o.standbyCluster === true ? 'primary' : 'standby');
    if (slot.type === 'physical' && (slot.name === o.me || otherCluster)) continue;
    if (slot.type === 'logical' && o.standbyCluster === true) continue;
    if (slot.type === 'logical' && o.memberSlots.has(slot.name)) {
      conflicts.push(slot.name);
      continue;
    }
    wanted.push(slot);
  }
  return { wanted, conflicts };
}

function sameKind(want: PermanentSlot, have: LocalSlot): boolean {
  return want.type === have.type && (want.type === 'physical' || (want.database === have.database && want.plugin === have.plugin));
}

/**
 * One cycle of permanent slot upkeep (Patroni's `sync_replication_slots`). On the leader: create
 * the missing physical and logical slots. On a replica: create the missing physical ones, copy the
 * logical ones the leader published a position for (`status.slots`), and advance both kinds to
 * that position. Everywhere: drop a slot the agent manages (`managed`) that is no longer
 * permanent (not while `paused`), or whose type, database or plugin changed; never an active one, never one
 * `ignore_slots` protects (unless its attributes changed: then it is recreated as configured).
 *
 * @example
 * ```ts
 * import { permanentSlotPlan } from '@pgtools/ha-agent/internals';
 * const cdc = { name: 'cdc', type: 'logical', database: 'app', plugin: 'pgoutput' } as const;
 * permanentSlotPlan({ wanted: [cdc], existing: [], leader: false, published: { cdc: 50331968 }, managed: new Set(), ignore: [] }).copy; // ['cdc']
 * ```
 */
export function permanentSlotPlan(o: {
  wanted: readonly PermanentSlot[];
  existing: readonly LocalSlot[];
  leader: boolean;
  /** The leader's `status.slots`: slot name to LSN (bytes). */
  published: Readonly<Record<string, number>>;
  /** Names the agent created or published as permanent: only these are ever dropped. */
  managed: ReadonlySet<string>;
  ignore: readonly IgnoreSlotMatcher[];
  /** Maintenance mode: unwanted slots are left alone (Patroni drops none while paused). */
  paused?: boolean;
}): PermanentSlotPlan {
  const plan: PermanentSlotPlan = { createPhysical: [], createLogical: [], advance: [], copy: [], drop: [] };
  const have = new Map(o.existing.map((s) => [s.name, s]));
  const wantedNames = new Set(o.wanted.map((s) => s.name));
  for (const slot of o.existing) {
    if (o.paused === true || slot.active || !o.managed.has(slot.name) || wantedNames.has(slot.name)) continue;
    if (!slotIgnored(o.ignore, slot)) plan.drop.push(slot.name);
  }
  for (const want of o.wanted) {
    const local = have.get(want.name);
    if (local && !sameKind(want, local)) {
      if (!local.active) plan.drop.push(want.name);
      continue;
    }
    const lsn = o.published[want.name];
    if (!local) {
      if (want.type === 'physical') plan.createPhysical.push(want.name);
      else if (o.leader) plan.createLogical.push(want);
      // Only a slot the leader has published a position for is copied (Patroni: "with feedback in a DCS").
      else if (lsn !== undefined && lsn > 0) plan.copy.push(want.name);
      continue;
    }
    if (o.leader || local.active || lsn === undefined) continue;
    const position = want.type === 'logical' ? local.confirmedFlushLsn : local.restartLsn;
    if (position < lsn) plan.advance.push({ name: want.name, database: want.database, lsn });
  }
  return plan;
}

/**
 * The positions the leader publishes in `status.slots` (Patroni's format): for each slot it keeps
 * (member slots and permanent ones), logical ones at `confirmed_flush_lsn`, physical ones at
 * `restart_lsn`; slots without a position are left out.
 *
 * @example
 * ```ts
 * import { publishedSlotPositions } from '@pgtools/ha-agent/internals';
 * publishedSlotPositions([{ name: 'node2', type: 'physical', database: null, plugin: null, active: true, restartLsn: 100, confirmedFlushLsn: 0, catalogXmin: null }], new Set(['node2']));
 * // { node2: 100 }
 * ```
 */
export function publishedSlotPositions(existing: readonly LocalSlot[], kept: ReadonlySet<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of existing) {
    if (!kept.has(s.name)) continue;
    const lsn = s.type === 'logical' ? s.confirmedFlushLsn : s.restartLsn;
    if (lsn > 0) out[s.name] = lsn;
  }
  return out;
}

import { describe, expect, it } from 'vitest';
import { parseDynamicConfig } from '../src/index.js';
import {
  LogicalReadiness,
  permanentSlotPlan,
  publishedSlotPositions,
  slotIgnored,
  wantedPermanentSlots,
  type LocalSlot,
  type PermanentSlot,
} from '../src/internals.js';

const cdc: PermanentSlot = { name: 'cdc', type: 'logical', database: 'app', plugin: 'pgoutput' };
const archiver: PermanentSlot = { name: 'archiver', type: 'physical' };

function local(name: string, o: Partial<LocalSlot> = {}): LocalSlot {
  return { name, type: 'physical', database: null, plugin: null, active: false, restartLsn: 0, confirmedFlushLsn: 0, catalogXmin: null, ...o };
}

describe('slots, ignore_slots, member_slots_ttl in the dynamic configuration', () => {
  it('reads permanent slots as Patroni does: no type and both database and plugin = logical, an empty value = physical', () => {
    const d = parseDynamicConfig({
      slots: { cdc: { database: 'app', plugin: 'pgoutput' }, archiver: null, dr: { type: 'physical', cluster_type: 'primary' } },
      ignore_slots: [{ name: 'x' }, { type: 'logical', plugin: 'wal2json' }],
      member_slots_ttl: '10min',
    });
    expect(d.permanentSlots).toEqual([cdc, archiver, { name: 'dr', type: 'physical', clusterType: 'primary' }]);
    expect(d.ignoreSlots).toEqual([{ name: 'x' }, { type: 'logical', plugin: 'wal2json' }]);
    expect(d.memberSlotsTtlMs).toBe(600_000);
    expect(parseDynamicConfig({}).memberSlotsTtlMs).toBe(1_800_000);
    expect(parseDynamicConfig({ member_slots_ttl: 0 }).memberSlotsTtlMs).toBe(0);
  });

  it('refuses what Patroni would skip with an error, naming the key', () => {
    expect(() => parseDynamicConfig({ slots: { 'Bad-Name': null } })).toThrow(/^bootstrap\.dcs\.slots\.Bad-Name: a slot name may only contain/);
    expect(() => parseDynamicConfig({ slots: { cdc: { type: 'logical', database: 'app' } } })).toThrow(
      /^bootstrap\.dcs\.slots\.cdc: a logical slot needs both/,
    );
    expect(() => parseDynamicConfig({ slots: { cdc: { type: 'weird' } } })).toThrow(/^bootstrap\.dcs\.slots\.cdc\.type: must be physical or logical/);
    expect(() => parseDynamicConfig({ slots: { cdc: { plugin: 'x', database: 'y', lsn: 5 } } })).toThrow(
      /^bootstrap\.dcs\.slots\.cdc\.lsn: unknown slot attribute/,
    );
    expect(() => parseDynamicConfig({ ignore_slots: { name: 'x' } })).toThrow(/^bootstrap\.dcs\.ignore_slots: must be a list/);
    expect(() => parseDynamicConfig({ ignore_slots: [{ slot: 'x' }] })).toThrow(/^bootstrap\.dcs\.ignore_slots\[0\]\.slot: unknown attribute/);
    expect(() => parseDynamicConfig({ member_slots_ttl: 'soon' })).toThrow(/^bootstrap\.dcs\.member_slots_ttl: must be a duration/);
    expect(() => parseDynamicConfig({ slots: { x: null } }, 'config')).not.toThrow();
  });

  it('ignore_slots: an entry matches when every attribute it gives is equal', () => {
    const slot = { name: 'debezium', type: 'logical', database: 'app', plugin: 'pgoutput' };
    expect(slotIgnored([{ name: 'debezium' }], slot)).toBe(true);
    expect(slotIgnored([{ type: 'logical', database: 'app' }], slot)).toBe(true);
    expect(slotIgnored([{ type: 'logical', database: 'other' }], slot)).toBe(false);
    expect(slotIgnored([{ type: 'physical' }, { plugin: 'wal2json' }], slot)).toBe(false);
    expect(slotIgnored([], slot)).toBe(false);
  });
});

describe('wantedPermanentSlots', () => {
  it("leaves out this node's own slot and a logical slot named like a member's (a conflict), none with use_slots off or nofailover", () => {
    const mine: PermanentSlot = { name: 'node1', type: 'physical' };
    const clash: PermanentSlot = { name: 'node2', type: 'logical', database: 'app', plugin: 'pgoutput' };
    const physicalClash: PermanentSlot = { name: 'node3', type: 'physical' };
    const out = wantedPermanentSlots({
      permanent: [cdc, archiver, mine, clash, physicalClash],
      me: 'node1',
      memberSlots: new Set(['node1', 'node2', 'node3']),
      disabled: false,
    });
    expect(out).toEqual({ wanted: [cdc, archiver, physicalClash], conflicts: ['node2'] });
    expect(wantedPermanentSlots({ permanent: [cdc], me: 'node1', memberSlots: new Set(), disabled: true })).toEqual({ wanted: [], conflicts: [] });
    const dr: PermanentSlot = { name: 'dr', type: 'physical', clusterType: 'standby' };
    const main: PermanentSlot = { name: 'main', type: 'physical', clusterType: 'primary' };
    expect(wantedPermanentSlots({ permanent: [dr, main, cdc, archiver], me: 'n', memberSlots: new Set(), disabled: false }).wanted).toEqual([
      main,
      cdc,
      archiver,
    ]);
    // A standby cluster: physical slots only, not those for a primary cluster.
    expect(
      wantedPermanentSlots({ permanent: [dr, main, cdc, archiver], me: 'n', memberSlots: new Set(), disabled: false, standbyCluster: true }).wanted,
    ).toEqual([dr, archiver]);
  });
});

describe('permanentSlotPlan', () => {
  const base = { published: {}, managed: new Set<string>(), ignore: [] };

  it('leader: creates the missing physical and logical slots, advances nothing', () => {
    const plan = permanentSlotPlan({ ...base, wanted: [cdc, archiver], existing: [local('node2')], leader: true, published: { cdc: 500 } });
    expect(plan).toEqual({ createPhysical: ['archiver'], createLogical: [cdc], advance: [], copy: [], drop: [] });
  });

  it('replica: copies a logical slot only once the leader published its position; advances both kinds up to it', () => {
    expect(permanentSlotPlan({ ...base, wanted: [cdc], existing: [], leader: false }).copy).toEqual([]);
    expect(permanentSlotPlan({ ...base, wanted: [cdc], existing: [], leader: false, published: { cdc: 500 } }).copy).toEqual(['cdc']);
    const existing = [local('cdc', { type: 'logical', database: 'app', plugin: 'pgoutput', confirmedFlushLsn: 400 }), local('archiver', { restartLsn: 700 })];
    const plan = permanentSlotPlan({ ...base, wanted: [cdc, archiver], existing, leader: false, published: { cdc: 500, archiver: 600 } });
    expect(plan.advance).toEqual([{ name: 'cdc', database: 'app', lsn: 500 }]);
    expect(plan.createPhysical).toEqual([]);
  });

  it('drops only slots the agent manages that are no longer wanted, never an active one or one ignore_slots protects', () => {
    const existing = [
      local('old'),
      local('busy', { active: true }),
      local('kept'),
      local('external'),
      local('cdc', { type: 'logical', database: 'app', plugin: 'test_decoding' }),
    ];
    const plan = permanentSlotPlan({
      wanted: [cdc],
      existing,
      leader: true,
      published: {},
      managed: new Set(['old', 'busy', 'kept', 'cdc']),
      ignore: [{ name: 'kept' }],
    });
    // cdc's plugin changed: dropped, to be created again as configured next cycle.
    expect(plan.drop).toEqual(['old', 'cdc']);
    // Paused: only the changed one.
    expect(
      permanentSlotPlan({ wanted: [cdc], existing, leader: true, published: {}, managed: new Set(['old', 'cdc']), ignore: [], paused: true }).drop,
    ).toEqual(['cdc']);
    expect(plan.createLogical).toEqual([]);
  });
});

describe('publishedSlotPositions', () => {
  it('logical slots at confirmed_flush_lsn, physical ones at restart_lsn, only the kept ones with a position', () => {
    const existing = [
      local('node2', { restartLsn: 100 }),
      local('cdc', { type: 'logical', database: 'app', plugin: 'pgoutput', restartLsn: 50, confirmedFlushLsn: 90 }),
      local('stranger', { restartLsn: 5 }),
      local('archiver'),
    ];
    expect(publishedSlotPositions(existing, new Set(['node2', 'cdc', 'archiver']))).toEqual({ node2: 100, cdc: 90 });
  });
});

describe('LogicalReadiness (Patroni check_logical_slots_readiness)', () => {
  it("a copy is safe once this replica's catalog_xmin on the leader reached the leader slot's and is not newer than the copy's", () => {
    const r = new LogicalReadiness();
    r.add('cdc');
    r.add('gone');
    expect(r.unremembered).toEqual(['cdc', 'gone']);
    // No hot_standby_feedback yet: nothing remembered, nothing ready.
    expect(r.observe(null, { cdc: 700 }, { cdc: 690, gone: 1 })).toEqual([]);
    expect(r.unremembered).toEqual(['cdc', 'gone']);
    // Feedback below the leader slot's catalog_xmin: not yet; the copy that vanished needs no check.
    expect(r.observe(650, { cdc: 700 }, { cdc: 690 })).toEqual(['gone']);
    expect(r.unremembered).toEqual([]);
    expect(r.observe(705, {}, { cdc: 710 })).toEqual(['cdc']);
    expect(r.unsafe).toEqual([]);
  });
});

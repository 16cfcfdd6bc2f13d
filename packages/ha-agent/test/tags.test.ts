import { describe, expect, it } from 'vitest';
import {
  failoverTags,
  parseConfig,
  publishedTags,
  replicationFacts,
  slotPlan,
  toDecisionView,
  upstreamOf,
  type NodeTags,
  type PgStatus,
  type UpstreamMember,
} from '../src/internals.js';
import { MINIMAL, refusal as refusalOf } from './minimal-config.js';

// Patroni 4's tags: replicatefrom, nostream, failover_priority (and nofailover with it).

const RESTORE = `${MINIMAL}  parameters: {restore_command: 'cp /archive/%f %p'}\n`;
const withTags = (tags: string, base = MINIMAL) => parseConfig(`${base}tags:\n${tags}`, {});
const BASE: NodeTags = { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false };

function refusal(fn: () => unknown): string {
  const err = refusalOf(fn);
  expect(err.code).toBe('invalid_config');
  return err.message;
}

describe('tags: parsing and validation', () => {
  it.each<[string, string, Partial<NodeTags>, string[]]>([
    ['no tags', '  {}\n', {}, []],
    ['failover_priority', '  failover_priority: 2\n', { failover_priority: 2 }, []],
    ['failover_priority 0 alone: nofailover', '  failover_priority: 0\n', { nofailover: true, failover_priority: 0 }, []],
    [
      'nofailover false wins over failover_priority 0, with a warning',
      '  nofailover: false\n  failover_priority: 0\n',
      { nofailover: false, failover_priority: 0 },
      ['tags.failover_priority: 0 conflicts with nofailover: false; nofailover wins (as in Patroni): priority 0, and it may become leader'],
    ],
    [
      'nofailover true wins over failover_priority 3, with a warning',
      '  nofailover: true\n  failover_priority: 3\n',
      { nofailover: true, failover_priority: 3 },
      ['tags.failover_priority: 3 conflicts with nofailover: true; nofailover wins (as in Patroni): this member never becomes leader'],
    ],
    ['nofailover and a matching priority: no warning', '  nofailover: true\n  failover_priority: 0\n', { nofailover: true, failover_priority: 0 }, []],
    ['replicatefrom', '  replicatefrom: node2\n', { replicatefrom: 'node2' }, []],
    [
      'replicatefrom naming itself',
      '  replicatefrom: n1\n',
      { replicatefrom: 'n1' },
      ['tags.replicatefrom: names this member itself; it streams from the leader'],
    ],
    ['custom tags are kept', '  dc: east\n  weight: 3\n', { dc: 'east', weight: 3 }, []],
  ])('%s', (_name, yaml, expected, warnings) => {
    const parsed = withTags(yaml);
    expect(parsed.config.tags).toEqual({ ...BASE, ...expected });
    expect(parsed.warnings).toEqual(warnings);
  });

  it('nostream needs a restore_command (local or bootstrap.dcs parameters)', () => {
    expect(refusal(() => withTags('  nostream: true\n'))).toMatch(/^tags\.nostream: needs a restore_command/);
    expect(withTags('  nostream: true\n', RESTORE).config.tags.nostream).toBe(true);
    const dcs = `${MINIMAL}bootstrap:\n  dcs:\n    postgresql:\n      parameters: {restore_command: 'cp /a/%f %p'}\n`;
    expect(withTags('  nostream: true\n', dcs).config.tags.nostream).toBe(true);
    expect(withTags('  nostream: false\n').config.tags.nostream).toBe(false);
    expect(withTags('  nostream: true\n  replicatefrom: node2\n', RESTORE).warnings).toEqual([
      'tags.replicatefrom: has no effect with nostream: true (this member does not stream)',
    ]);
  });

  it.each<[string, string]>([
    ['  failover_priority: -1\n', 'tags.failover_priority: must be an integer >= 0, got number -1'],
    ['  failover_priority: 1.5\n', 'tags.failover_priority: must be an integer >= 0, got number 1.5'],
    ['  failover_priority: high\n', 'tags.failover_priority: must be an integer >= 0, got string "high"'],
    ['  failover_priority: true\n', 'tags.failover_priority: must be an integer >= 0, got boolean true'],
    ['  replicatefrom: [node2]\n', 'tags.replicatefrom: must be the name of a member, got a list'],
    ['  replicatefrom: ""\n', 'tags.replicatefrom: must be the name of a member, got string ""'],
    ['  nostream: sometimes\n', 'tags.nostream: must be a boolean, got string "sometimes"'],
    ['  nofailover: 2\n', 'tags.nofailover: must be a boolean, got number 2'],
    ['  clonefrom: {}\n', 'tags.clonefrom: must be a boolean, got a mapping'],
  ])('refuses %j naming the key', (yaml, message) => {
    expect(refusal(() => withTags(yaml, RESTORE))).toBe(message);
  });

  it('publishes nofailover beside failover_priority (so that readers see both), and no false tags', () => {
    expect(publishedTags({ ...BASE, failover_priority: 2 })).toEqual({ nofailover: false, failover_priority: 2 });
    expect(publishedTags({ ...BASE, nofailover: true, failover_priority: 0 })).toEqual({ nofailover: true, failover_priority: 0 });
    expect(publishedTags({ ...BASE, replicatefrom: 'node2', nostream: false })).toEqual({ replicatefrom: 'node2' });
    expect(publishedTags(BASE)).toEqual({});
    // What is published reads back the same way (Patroni's Tags rules).
    for (const tags of [
      { ...BASE, nofailover: false, failover_priority: 0 },
      { ...BASE, nofailover: true, failover_priority: 0 },
      { ...BASE, failover_priority: 4 },
    ]) {
      expect(failoverTags(publishedTags(tags))).toEqual(failoverTags(tags));
    }
  });
});

describe('failoverTags: Patroni 4 Tags.nofailover / Tags.failover_priority', () => {
  it.each<[Record<string, unknown> | undefined, boolean, number]>([
    [undefined, false, 1],
    [{}, false, 1],
    [{ nofailover: true }, true, 0],
    [{ nofailover: false }, false, 1],
    [{ failover_priority: 0 }, true, 0],
    [{ failover_priority: -2 }, true, -2],
    [{ failover_priority: 7 }, false, 7],
    [{ failover_priority: '7' }, false, 7],
    [{ failover_priority: 'x' }, false, 1],
    [{ nofailover: false, failover_priority: 0 }, false, 0],
    [{ nofailover: true, failover_priority: 5 }, true, 0],
    [{ nofailover: 'true' }, true, 0],
  ])('%j -> nofailover %s, priority %s', (tags, nofailover, failoverPriority) => {
    expect(failoverTags(tags)).toEqual({ nofailover, failoverPriority });
  });

  it('the decision view reads members the same way', () => {
    const view = toDecisionView({
      members: [
        { name: 'a', modRevision: 1, data: { tags: { failover_priority: 0 } } },
        { name: 'b', modRevision: 1, data: { tags: { nofailover: false, failover_priority: 0 } } },
      ],
      problems: [],
      revision: 1,
    } as unknown as Parameters<typeof toDecisionView>[0]);
    expect(view.members.map((m) => m.tags?.nofailover)).toEqual([true, false]);
  });
});

const M: UpstreamMember[] = [
  { name: 'node1', role: 'master', state: 'running' },
  { name: 'node2', role: 'replica', state: 'running' },
  { name: 'node3', role: 'replica', state: 'running', tags: { replicatefrom: 'node2' } },
  { name: 'node4', role: 'replica', state: 'stopped' },
  { name: 'node5', role: 'master', state: 'running' },
];

describe('upstreamOf: whom a replica streams from (Patroni _get_node_to_follow)', () => {
  it.each<[string, string | undefined, Record<string, unknown> | undefined, string | undefined]>([
    ['no tags: the leader', 'node1', undefined, 'node1'],
    ['replicatefrom a running replica: that replica', 'node1', { replicatefrom: 'node2' }, 'node2'],
    ['replicatefrom a cascading running replica: that replica', 'node1', { replicatefrom: 'node3' }, 'node3'],
    ['replicatefrom the leader: the leader', 'node1', { replicatefrom: 'node1' }, 'node1'],
    ['replicatefrom a member gone from the DCS: the leader', 'node1', { replicatefrom: 'node9' }, 'node1'],
    ['replicatefrom a stopped member: the leader', 'node1', { replicatefrom: 'node4' }, 'node1'],
    ['replicatefrom a running primary without the key: the leader', 'node1', { replicatefrom: 'node5' }, 'node1'],
    ['replicatefrom myself: the leader', 'node1', { replicatefrom: 'me' }, 'node1'],
    ['no leader, replicatefrom a running replica: that replica', undefined, { replicatefrom: 'node2' }, 'node2'],
    ['no leader, no tags: none', undefined, undefined, undefined],
    ['nostream: none', 'node1', { nostream: true }, undefined],
    ['nostream wins over replicatefrom', 'node1', { nostream: true, replicatefrom: 'node2' }, undefined],
  ])('%s', (_name, leader, tags, expected) => {
    expect(upstreamOf([...M, { name: 'me' }], leader, 'me', tags)).toBe(expected);
  });

  it('the leader itself streams from nobody', () => {
    expect(upstreamOf(M, 'node1', 'node1', { replicatefrom: 'node2' })).toBe('node2');
    expect(upstreamOf(M, 'node1', 'node1', undefined)).toBeUndefined();
  });
});

describe('slotPlan: physical slots by who streams from whom', () => {
  const members: UpstreamMember[] = [
    { name: 'node1', role: 'master', state: 'running' },
    { name: 'node2', role: 'replica', state: 'running' },
    { name: 'node3', role: 'replica', state: 'running', tags: { replicatefrom: 'node2' } },
    { name: 'node4', role: 'replica', state: 'running', tags: { nostream: true } },
  ];
  const HOUR = 3_600_000;

  it('leader: slots for members streaming from it and recently seen absent ones; drops cascading, nostream and long-gone ones', () => {
    const seenAt = new Map([
      ['node1', 0],
      ['node2', 0],
      ['node3', 0],
      ['node4', 0],
      ['old', -HOUR],
      ['recent', -60_000],
    ]);
    expect(slotPlan({ members, seenAt, me: 'node1', leader: 'node1', now: 0 })).toEqual({
      keep: ['node2', 'recent'],
      drop: ['node3', 'node4', 'old'],
      expired: ['old'],
    });
  });

  it('leader: a cascading member whose upstream stopped gets its slot back', () => {
    const stopped = members.map((m) => (m.name === 'node2' ? { ...m, state: 'stopped' } : m));
    expect(slotPlan({ members: stopped, seenAt: new Map(), me: 'node1', leader: 'node1', now: 0 }).keep).toEqual(['node2', 'node3']);
  });

  it('replica: a slot for each member cascading from it; drops only the slots it made', () => {
    expect(slotPlan({ members, seenAt: new Map([['old', -HOUR]]), me: 'node2', leader: 'node1', now: 0 })).toEqual({ keep: ['node3'], drop: [], expired: [] });
    const moved = members.map((m) => (m.name === 'node3' ? { ...m, tags: {} } : m));
    expect(slotPlan({ members: moved, seenAt: new Map(), me: 'node2', leader: 'node1', now: 0, cascading: new Set(['node3']) })).toEqual({
      keep: [],
      drop: ['node3'],
      expired: [],
    });
    expect(slotPlan({ members: moved, seenAt: new Map(), me: 'node2', leader: 'node1', now: 0 })).toEqual({ keep: [], drop: [], expired: [] });
  });
});

describe('replicationFacts: the real upstream, from pg_stat_wal_receiver', () => {
  const replica = (over: Partial<PgStatus>): PgStatus => ({ inRecovery: true, timeline: 1, serverVersion: 150000, systemId: '1', replication: [], ...over });
  const receiver = (status: string, senderHost: string | null, senderPort: number | null) => ({ status, senderHost, senderPort, lastMessageSentAt: null });

  it.each<[string, Partial<PgStatus>, ReturnType<typeof replicationFacts>]>([
    ['streaming', { walReceiver: receiver('streaming', '127.0.0.1', 5433) }, { replication_state: 'streaming', upstream: '127.0.0.1:5433' }],
    ['IPv6 sender', { walReceiver: receiver('streaming', '::1', 5433) }, { replication_state: 'streaming', upstream: '[::1]:5433' }],
    [
      'receiver starting, archive set',
      { walReceiver: receiver('starting', null, null), restoreCommand: true },
      { replication_state: 'in archive recovery', upstream: '' },
    ],
    ['no receiver (nostream), archive set', { restoreCommand: true }, { replication_state: 'in archive recovery', upstream: '' }],
    ['no receiver, no archive', {}, { upstream: '' }],
  ])('%s', (_name, over, expected) => {
    expect(replicationFacts(replica(over))).toEqual(expected);
  });
});

describe('sync_priority', () => {
  const row = (name: string, sync_state = 'async') => ({
    usename: 'replicator',
    application_name: name,
    client_addr: null,
    state: 'streaming',
    sync_state,
    sync_priority: 0,
  });

  it('is read like failover_priority: 0 means nosync, nosync wins a conflict with a warning, and both are published', async () => {
    const { syncTags, publishedTags } = await import('../src/internals.js');
    expect(syncTags({ sync_priority: 0 })).toEqual({ nosync: true, syncPriority: 0 });
    expect(syncTags({ nosync: false, sync_priority: 0 })).toEqual({ nosync: false, syncPriority: 0 });
    expect(syncTags({})).toEqual({ nosync: false, syncPriority: 1 });
    const { config, warnings } = withTags('  nosync: false\n  sync_priority: 0\n');
    expect(config.tags.nosync).toBe(false);
    expect(warnings).toEqual(['tags.sync_priority: 0 conflicts with nosync: false; nosync wins (as in Patroni)']);
    expect(withTags('  sync_priority: 0\n').config.tags.nosync).toBe(true);
    expect(publishedTags(withTags('  sync_priority: 3\n').config.tags)).toEqual({ nosync: false, sync_priority: 3 });
    expect(() => withTags('  sync_priority: high\n')).toThrow(/^tags\.sync_priority: must be an integer >= 0/);
  });

  it.each([
    [
      'the higher priority wins over the name order',
      [
        { name: 'a', syncPriority: 1 },
        { name: 'b', syncPriority: 5 },
      ],
      undefined,
      'b',
    ],
    ['priority 0 is never chosen', [{ name: 'a', nosync: true, syncPriority: 0 }, { name: 'b' }], undefined, 'b'],
    ['the current standby stays against an equal priority', [{ name: 'a' }, { name: 'b' }], 'b', 'b'],
    ['a higher priority replaces the current standby', [{ name: 'a', syncPriority: 2 }, { name: 'b' }], 'b', 'a'],
  ] as const)('%s', async (_why, members, current, picked) => {
    const { pickSyncStandby } = await import('../src/internals.js');
    const choice = pickSyncStandby({
      me: 'leader',
      current,
      members: [...members],
      replication: [row('a'), row('b')],
      maximumLagOnSyncnode: -1,
      primaryLsn: undefined,
    } as Parameters<typeof pickSyncStandby>[0]);
    expect(choice.picked).toBe(picked);
  });
});

import { describe, expect, it } from 'vitest';
import { keyLayout, parseClusterView, syncStandbys, type RawKeyValue } from '../src/index.js';

const layout = keyLayout('service', 'demo');
const kv = (suffix: string, value: string, modRevision: number, lease?: string): RawKeyValue => {
  const out: RawKeyValue = { key: `/service/demo/${suffix}`, value, modRevision };
  if (lease !== undefined) out.lease = lease;
  return out;
};

const member1 =
  '{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"master","version":"3.0.2","xlog_location":50331968,"timeline":2}';
const member2 =
  '{"conn_url":"postgres://127.0.0.1:5433/postgres","api_url":"http://127.0.0.1:8009/patroni","state":"running","role":"replica","version":"3.0.2","xlog_location":50331000,"timeline":2,"tags":{"nofailover":true}}';

describe('parseClusterView', () => {
  it('reads a complete Patroni cluster', () => {
    const view = parseClusterView(
      layout,
      [
        kv('initialize', '7300000000000000001', 2),
        kv(
          'config',
          '{"ttl":30,"loop_wait":10,"retry_timeout":10,"maximum_lag_on_failover":1048576,"postgresql":{"use_pg_rewind":true,"use_slots":true,"parameters":{"wal_level":"replica"}}}',
          3,
        ),
        kv('leader', 'node1', 9, '7587868869999482893'),
        kv('members/node2', member2, 8, '7587868869999482900'),
        kv('members/node1', member1, 7, '7587868869999482893'),
        kv('status', '{"optime":50331968,"slots":{"node2":50331000}}', 10),
        kv('failover', '{}', 11),
        kv('sync', '{"leader":"node1","sync_standby":"node2"}', 12),
        kv('history', '[[1,25165984,"no recovery target specified","2024-05-01T10:00:00.123456+00:00","node1"]]', 13),
        kv('failsafe', '{"node1":"http://127.0.0.1:8008/patroni"}', 14),
      ],
      20,
    );
    expect(view.problems).toEqual([]);
    expect(view.revision).toBe(20);
    expect(view.initialize).toBe('7300000000000000001');
    expect(view.config).toEqual({ modRevision: 3, value: expect.objectContaining({ ttl: 30, postgresql: expect.objectContaining({ use_slots: true }) }) });
    expect(view.members.map((m) => m.name)).toEqual(['node1', 'node2']);
    expect(view.members[1]).toMatchObject({
      name: 'node2',
      modRevision: 8,
      lease: '7587868869999482900',
      data: { role: 'replica', tags: { nofailover: true } },
    });
    expect(view.leader).toMatchObject({ name: 'node1', modRevision: 9, lease: '7587868869999482893' });
    expect(view.leader?.member?.data.role).toBe('master');
    expect(view.status).toEqual({ modRevision: 10, value: { optime: 50331968, slots: { node2: 50331000 } } });
    expect(view.failover).toEqual({ modRevision: 11, value: {} });
    expect(view.sync?.value).toEqual({ leader: 'node1', sync_standby: 'node2' });
    expect(syncStandbys(view.sync?.value)).toEqual(['node2']);
    expect(view.history?.value).toEqual([[1, 25165984, 'no recovery target specified', '2024-05-01T10:00:00.123456+00:00', 'node1']]);
    expect(view.failsafe?.value).toEqual({ node1: 'http://127.0.0.1:8008/patroni' });
  });

  it('gives an empty view for an empty prefix, and keeps an initializing cluster apart from an absent one', () => {
    const empty = parseClusterView(layout, [], 5);
    expect(empty).toEqual({ revision: 5, members: [], problems: [] });
    expect(empty.initialize).toBeUndefined();
    expect(parseClusterView(layout, [kv('initialize', '', 2)], 5).initialize).toBe('');
  });

  it('reports garbage values as problems and ignores them, never throwing', () => {
    const view = parseClusterView(
      layout,
      [
        kv('config', '{ttl: 30', 3),
        kv('members/bad', 'not json', 4, '99'),
        kv('members/list', '[1,2]', 5),
        kv('status', '{"optime":"yes"}', 6),
        kv('sync', 'garbage', 7),
        kv('history', '{"a":1}', 8),
        kv('failover', '[1]', 9),
        kv('failsafe', '{"node1":1}', 10),
        kv('leader', 'node1', 11),
      ],
      12,
    );
    expect(view.config).toBeUndefined();
    expect(view.status).toBeUndefined();
    expect(view.sync).toBeUndefined();
    expect(view.history).toBeUndefined();
    expect(view.failover).toBeUndefined();
    expect(view.failsafe).toBeUndefined();
    // A member with an unreadable value is still a live member (its key holds a lease), with no data.
    expect(view.members).toEqual([
      { name: 'bad', data: {}, modRevision: 4, lease: '99' },
      { name: 'list', data: {}, modRevision: 5 },
    ]);
    expect(view.leader?.name).toBe('node1');
    expect(view.leader?.member).toBeUndefined();
    const keys = view.problems.map((p) => p.key).sort();
    expect(keys).toEqual(['config', 'failover', 'failsafe', 'history', 'members/bad', 'members/list', 'status', 'sync'].map((s) => `/service/demo/${s}`));
    const config = view.problems.find((p) => p.key.endsWith('/config'));
    expect(config).toMatchObject({ raw: '{ttl: 30', modRevision: 3 });
    expect(config?.reason).toMatch(/invalid JSON/);
  });

  it('ignores a leader key that cannot be a member name and an initialize that is not a system identifier', () => {
    for (const bad of ['', 'a/b', 'tab\there', 'bytes\ufffd']) {
      const view = parseClusterView(layout, [kv('leader', bad, 3)], 3);
      expect(view.leader).toBeUndefined();
      expect(view.problems).toHaveLength(1);
    }
    expect(parseClusterView(layout, [kv('leader', 'pg-1.example', 3)], 3).leader?.name).toBe('pg-1.example');
    const init = parseClusterView(layout, [kv('initialize', 'not-a-sysid', 3)], 3);
    // Still initialized (the key exists), so no node bootstraps over it and none exits on a mismatch.
    expect(init.initialize).toBe('');
    expect(init.problems[0]).toMatchObject({ key: '/service/demo/initialize', raw: 'not-a-sysid' });
  });

  it('drops member fields of the wrong type, keeping the rest and unknown fields', () => {
    const view = parseClusterView(
      layout,
      [
        kv(
          'members/n',
          '{"conn_url":5,"api_url":"http://h:8008/patroni","xlog_location":"12","timeline":1e999,"tags":[1],"pause":"yes","role":"replica","extra":{"a":1},"state":null}',
          3,
        ),
      ],
      3,
    );
    expect(view.members[0]?.data).toEqual({ api_url: 'http://h:8008/patroni', role: 'replica', extra: { a: 1 } });
    expect(view.problems[0]?.reason).toBe('member fields with the wrong type ignored: conn_url, xlog_location, timeline, tags, pause');
  });

  it('ignores keys of other clusters and nested keys under members/', () => {
    const view = parseClusterView(
      layout,
      [
        { key: '/service/other/leader', value: 'x', modRevision: 1 },
        { key: '/service/demo2/leader', value: 'y', modRevision: 1 },
        kv('members/a/b', '{}', 2),
        kv('members/', '{}', 2),
        kv('unknown', 'whatever', 3),
      ],
      4,
    );
    expect(view).toEqual({ revision: 4, members: [], problems: [] });
  });

  it('treats lease "0" as no lease and accepts revisions as strings', () => {
    const view = parseClusterView(layout, [{ key: '/service/demo/leader', value: 'n', modRevision: '42', lease: '0' }], 42);
    expect(view.leader).toEqual({ name: 'n', modRevision: 42 });
  });

  it('falls back to the legacy optime/leader key only when status is absent', () => {
    expect(parseClusterView(layout, [kv('optime/leader', '1234', 3)], 4).status).toEqual({ modRevision: 3, value: { optime: 1234 } });
    const both = parseClusterView(layout, [kv('optime/leader', '1234', 3), kv('status', '{"optime":99}', 5)], 6);
    expect(both.status?.value).toEqual({ optime: 99 });
  });

  it('reads failover in the JSON form and the legacy "leader:candidate" form', () => {
    const json = parseClusterView(layout, [kv('failover', '{"leader":"a","member":"b","scheduled_at":"2024-05-01T10:00:00+00:00"}', 3)], 3);
    expect(json.failover?.value).toEqual({ leader: 'a', member: 'b', scheduled_at: '2024-05-01T10:00:00+00:00' });
    expect(parseClusterView(layout, [kv('failover', 'a:b', 3)], 3).failover?.value).toEqual({ leader: 'a', member: 'b' });
    expect(parseClusterView(layout, [kv('failover', ':b', 3)], 3).failover?.value).toEqual({ member: 'b' });
    // Patroni's manual_failover('', '') writes {}; empty strings mean "not set".
    expect(parseClusterView(layout, [kv('failover', '{"leader":"","member":null}', 3)], 3).failover?.value).toEqual({});
  });

  it('reads sync_standby null (no sync standby) and keeps partial history lines', () => {
    const view = parseClusterView(
      layout,
      [kv('sync', '{"leader":"a","sync_standby":null}', 3), kv('history', '[[1,100,"reason"],[2,200,"r","ts","b"],["x"]]', 4)],
      4,
    );
    expect(view.sync?.value).toEqual({ leader: 'a', sync_standby: null });
    expect(syncStandbys(view.sync?.value)).toEqual([]);
    expect(view.history?.value).toEqual([
      [1, 100, 'reason'],
      [2, 200, 'r', 'ts', 'b'],
    ]);
    expect(view.problems).toHaveLength(1);
    expect(view.problems[0]?.reason).toMatch(/malformed lines/);
  });
});

import { keyLayout, parseClusterView, type ClusterView } from '@pgtools/dcs';
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../src/hactl-diff.js';
import { applySettings, patchConfig } from '../src/hactl-config-edit.js';
import { formatHistory, formatMembers } from '../src/hactl-output.js';
import { memberRows, summarizeCluster } from '../src/hactl-members.js';
import { pyJson, pyYaml, roundHalfEven } from '../src/hactl-pyfmt.js';
import { renderTable } from '../src/hactl-table.js';
import { parseScheduled } from '../src/hactl-context.js';

const MiB = 1024 * 1024;

/** The cluster of the patronictl comparison: pg1 leads on timeline 2, pg2 5.5 MiB behind, pg3 tagged nofailover. */
function view(extra: Array<[string, unknown]> = []): ClusterView {
  const layout = keyLayout('/service/', 'demo');
  const member = (port: number, role: string, xlog: number, more: Record<string, unknown> = {}) =>
    JSON.stringify({
      conn_url: `postgres://127.0.0.1:${port}/postgres`,
      api_url: `http://127.0.0.1:${port + 3000}/patroni`,
      state: 'running',
      role,
      version: '3.0.2',
      xlog_location: xlog,
      timeline: 2,
      ...more,
    });
  const kvs: Array<[string, string]> = [
    [layout.initialize, '7300000000000000001'],
    [layout.config, JSON.stringify({ ttl: 30, loop_wait: 10, postgresql: { use_slots: true, parameters: { max_connections: 100 } } })],
    [layout.leader, 'pg1'],
    [layout.member('pg1'), member(5432, 'master', 200 * MiB)],
    [layout.member('pg2'), member(5433, 'replica', 200 * MiB - 5.5 * MiB)],
    [layout.member('pg3'), member(5434, 'replica', 200 * MiB, { tags: { nofailover: true } })],
    [layout.status, JSON.stringify({ optime: 200 * MiB, slots: {} })],
    [
      layout.history,
      JSON.stringify([
        [1, 25165984, 'no recovery target specified', '2024-05-01T10:00:00.123456+00:00', 'pg1'],
        [2, 33554592, 'no recovery target specified'],
      ]),
    ],
    ...extra.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as [string, string]),
  ];
  return parseClusterView(
    layout,
    kvs.map(([key, value], i) => ({ key, value, modRevision: i + 2 })),
    100,
  );
}

describe('member list, as patronictl 3.0.2 prints it', () => {
  it('renders the pretty table with the cluster header, right-aligned TL and lag, tags as YAML', () => {
    expect(formatMembers(view(), 'demo')).toBe(
      [
        '+ Cluster: demo (7300000000000000001) --------+----+-----------+------------------+',
        '| Member | Host           | Role    | State   | TL | Lag in MB | Tags             |',
        '+--------+----------------+---------+---------+----+-----------+------------------+',
        '| pg1    | 127.0.0.1:5432 | Leader  | running |  2 |           |                  |',
        '| pg2    | 127.0.0.1:5433 | Replica | running |  2 |         6 |                  |',
        '| pg3    | 127.0.0.1:5434 | Replica | running |  2 |         0 | nofailover: true |',
        '+--------+----------------+---------+---------+----+-----------+------------------+',
        '',
      ].join('\n'),
    );
  });

  it('prints JSON exactly like patronictl (empty values left out, Python spacing)', () => {
    expect(formatMembers(view(), 'demo', { fmt: 'json' })).toBe(
      '[{"Cluster": "demo", "Member": "pg1", "Host": "127.0.0.1:5432", "Role": "Leader", "State": "running", "TL": 2}, ' +
        '{"Cluster": "demo", "Member": "pg2", "Host": "127.0.0.1:5433", "Role": "Replica", "State": "running", "TL": 2, "Lag in MB": 6}, ' +
        '{"Cluster": "demo", "Member": "pg3", "Host": "127.0.0.1:5434", "Role": "Replica", "State": "running", "TL": 2, "Lag in MB": 0, "Tags": {"nofailover": true}}]\n',
    );
  });

  it('prints tsv with the Cluster column and flow-style tags, and YAML with sorted keys', () => {
    expect(formatMembers(view(), 'demo', { fmt: 'tsv' })).toBe(
      'Cluster\tMember\tHost\tRole\tState\tTL\tLag in MB\tTags\n' +
        'demo\tpg1\t127.0.0.1:5432\tLeader\trunning\t2\t\t\n' +
        'demo\tpg2\t127.0.0.1:5433\tReplica\trunning\t2\t6\t\n' +
        'demo\tpg3\t127.0.0.1:5434\tReplica\trunning\t2\t0\t{nofailover: true}\n',
    );
    const yaml = formatMembers(view(), 'demo', { fmt: 'yaml' });
    expect(yaml.startsWith('- Cluster: demo\n  Host: 127.0.0.1:5432\n  Member: pg1\n  Role: Leader\n  State: running\n  TL: 2\n- Cluster: demo\n')).toBe(true);
    expect(yaml.endsWith('  TL: 2\n  Tags:\n    nofailover: true\n\n')).toBe(true);
  });

  it('shows quorum standbys in quorum mode (patronictl 4.1)', () => {
    const layout = keyLayout('/service/', 'demo');
    const v = view([
      [layout.sync, { leader: 'pg1', sync_standby: 'pg2,pg3', quorum: 1 }],
      [layout.config, { ttl: 30, synchronous_mode: 'quorum', synchronous_node_count: 1 }],
    ]);
    const text = formatMembers(v, 'demo');
    expect(text).toContain('| pg2    | 127.0.0.1:5433 | Quorum Standby | running |');
    expect(text).toContain('| pg3    | 127.0.0.1:5434 | Quorum Standby | running |');
  });

  it('shows the sync standby, host without port on 5432, maintenance mode and a scheduled switchover', () => {
    const layout = keyLayout('/service/', 'demo');
    const v = view([
      [layout.sync, { leader: 'pg1', sync_standby: 'pg3' }],
      [layout.config, { ttl: 30, pause: true }],
      [layout.failover, { leader: 'pg1', member: 'pg2', scheduled_at: '2031-01-02T03:04:05+00:00' }],
    ]);
    const text = formatMembers(v, 'demo');
    expect(text).toContain('| pg3    | 127.0.0.1:5434 | Sync Standby | running |  2 |         0 | nofailover: true |');
    expect(
      text.endsWith(
        ' Maintenance mode: on\n Switchover scheduled at: 2031-01-02T03:04:05+00:00\n                    from: pg1\n                      to: pg2\n',
      ),
    ).toBe(true);
  });

  it('says uninitialized, shows unknown lag and draws the tree for topology', () => {
    const layout = keyLayout('/service/', 't');
    const kvs = [
      { key: layout.leader, value: 'a', modRevision: 2 },
      {
        key: layout.member('a'),
        value: JSON.stringify({ conn_url: 'postgres://h1:5432/postgres', role: 'master', state: 'running', timeline: 1 }),
        modRevision: 3,
      },
      {
        key: layout.member('b'),
        value: JSON.stringify({ conn_url: 'postgres://h2:5432/postgres', role: 'replica', state: 'streaming', timeline: 1 }),
        modRevision: 4,
      },
      {
        key: layout.member('c'),
        value: JSON.stringify({ conn_url: 'postgres://h3:5432/postgres', role: 'replica', state: 'running', xlog_location: 0, tags: { replicatefrom: 'b' } }),
        modRevision: 5,
      },
    ];
    const v = parseClusterView(layout, kvs, 10);
    const text = formatMembers(v, 't', { fmt: 'topology' });
    expect(text.split('\n')[0]).toMatch(/^\+ Cluster: t \(uninitialized\) -*\+/);
    expect(text).toContain('| a      | h1   | Leader  | running   |  1 |           |');
    expect(text).toContain('| + b    | h2   | Replica | streaming |  1 |   unknown |');
    expect(text).toContain('|   + c  | h3   | Replica | running   |    |         0 | {replicatefrom: b} |');
  });

  it('topology draws the real tree from the published upstream (pg_stat_wal_receiver), not from the replicatefrom tag', () => {
    const layout = keyLayout('/service/', 't');
    const member = (name: string, data: Record<string, unknown>, rev: number) => ({ key: layout.member(name), value: JSON.stringify(data), modRevision: rev });
    const kvs = [
      { key: layout.leader, value: 'a', modRevision: 2 },
      member('a', { conn_url: 'postgres://h1:5432/postgres', role: 'master', state: 'running', timeline: 1 }, 3),
      member('b', { conn_url: 'postgres://h2:5432/postgres', role: 'replica', state: 'running', timeline: 1, upstream: 'h1:5432' }, 4),
      // Tagged to replicate from b, but its receiver is connected to the leader (b was down): under a.
      member(
        'c',
        { conn_url: 'postgres://h3:5432/postgres', role: 'replica', state: 'running', timeline: 1, tags: { replicatefrom: 'b' }, upstream: 'h1:5432' },
        5,
      ),
      // No tag, but streaming from b: under b.
      member('d', { conn_url: 'postgres://h4:5432/postgres', role: 'replica', state: 'running', timeline: 1, upstream: 'h2:5432' }, 6),
      // Tagged, streaming from nobody (nostream, archive only): under the leader.
      member('e', { conn_url: 'postgres://h5:5432/postgres', role: 'replica', state: 'running', timeline: 1, tags: { replicatefrom: 'b' }, upstream: '' }, 7),
    ];
    const v = parseClusterView(layout, kvs, 10);
    const summary = summarizeCluster(v);
    expect(summary.members.map((m) => [m.name, m.upstream])).toEqual([
      ['a', undefined],
      ['b', 'a'],
      ['c', 'a'],
      ['d', 'b'],
      ['e', ''],
    ]);
    const { rows } = memberRows(summary, 't', { topology: true });
    expect(rows.map((r) => r[1])).toEqual(['a', '+ b', '  + d', '+ c', '+ e']);
  });
});

describe('history and tables', () => {
  it('pads short history lines and prints them as patronictl does', () => {
    const v = view();
    expect(formatHistory(v.history?.value ?? [], 'pretty')).toBe(
      [
        '+----+----------+------------------------------+----------------------------------+------------+',
        '| TL |      LSN | Reason                       | Timestamp                        | New Leader |',
        '+----+----------+------------------------------+----------------------------------+------------+',
        '|  1 | 25165984 | no recovery target specified | 2024-05-01T10:00:00.123456+00:00 | pg1        |',
        '|  2 | 33554592 | no recovery target specified |                                  |            |',
        '+----+----------+------------------------------+----------------------------------+------------+',
        '',
      ].join('\n'),
    );
    expect(JSON.parse(formatHistory(v.history?.value ?? [], 'json'))).toEqual([
      { TL: 1, LSN: 25165984, Reason: 'no recovery target specified', Timestamp: '2024-05-01T10:00:00.123456+00:00', 'New Leader': 'pg1' },
      { TL: 2, LSN: 33554592, Reason: 'no recovery target specified', Timestamp: '', 'New Leader': '' },
    ]);
    expect(formatHistory([], 'pretty')).toBe(
      '+----+-----+--------+-----------+------------+\n| TL | LSN | Reason | Timestamp | New Leader |\n+----+-----+--------+-----------+------------+\n+----+-----+--------+-----------+------------+\n',
    );
  });

  it('draws a rule after every row when a cell spans lines (PrettyTable hrules=ALL)', () => {
    expect(
      renderTable(
        ['A', 'Bcdefgh'],
        [
          ['x\ny', 'z'],
          ['é', 'z'],
        ],
      ),
    ).toBe('+---+---------+\n| A | Bcdefgh |\n+---+---------+\n| x | z       |\n| y |         |\n+---+---------+\n| é | z       |\n+---+---------+');
  });
});

describe('Python-compatible helpers', () => {
  it('rounds halves to even, dumps JSON and YAML like Python', () => {
    expect([0.5, 1.5, 2.5, 5.5, 2.4999].map(roundHalfEven)).toEqual([0, 2, 2, 6, 2]);
    expect(pyJson({ a: [1, 'é', null, true] })).toBe('{"a": [1, "\\u00e9", null, true]}');
    expect(pyYaml({ b: ['x', 'on', '12', ''], a: { z: '2024-05-01', y: 'a: b' }, c: {} })).toBe(
      "a:\n  y: 'a: b'\n  z: '2024-05-01'\nb:\n- x\n- 'on'\n- '12'\n- ''\nc: {}\n",
    );
  });

  it('applies -s/-p settings with dotted paths, null removal and GUCs with dots', () => {
    const before = { ttl: 30, postgresql: { parameters: { max_connections: 100 } } };
    expect(applySettings(before, ['ttl=20', 'synchronous_mode=on', 'postgresql.parameters.max_connections=null'], ['pg_stat_statements.max=5000'])).toEqual({
      ttl: 20,
      synchronous_mode: true,
      postgresql: { parameters: { 'pg_stat_statements.max': 5000 } },
    });
    expect(before.ttl).toBe(30);
    expect(() => applySettings({}, ['loop_wait'])).toThrow('Invalid parameter setting loop_wait');
    const c: Record<string, unknown> = { ttl: 30, pause: true, postgresql: { a: 1 } };
    expect(patchConfig(c, { pause: null, postgresql: { b: 2 } })).toBe(true);
    expect(c).toEqual({ ttl: 30, postgresql: { a: 1, b: 2 } });
  });

  it('prints a difflib-style unified diff', () => {
    const before =
      'loop_wait: 10\nmaximum_lag_on_failover: 1048576\npostgresql:\n  parameters:\n    max_connections: 100\n    wal_level: replica\n  use_pg_rewind: true\n  use_slots: true\nretry_timeout: 10\nttl: 30\n';
    const after = before.replace('max_connections: 100', 'max_connections: 200').replace('ttl: 30', 'ttl: 20');
    expect(unifiedDiff(before, after)).toEqual([
      '--- ',
      '+++ ',
      '@@ -2,9 +2,9 @@',
      ' maximum_lag_on_failover: 1048576',
      ' postgresql:',
      '   parameters:',
      '-    max_connections: 100',
      '+    max_connections: 200',
      '     wal_level: replica',
      '   use_pg_rewind: true',
      '   use_slots: true',
      ' retry_timeout: 10',
      '-ttl: 30',
      '+ttl: 20',
    ]);
    expect(unifiedDiff('a\n', 'a\n')).toEqual([]);
  });

  it('parses --scheduled like patronictl and refuses garbage', () => {
    expect(parseScheduled('now')).toBeUndefined();
    expect(parseScheduled(undefined)).toBeUndefined();
    expect(parseScheduled('2030-01-01T10:00+00:00')).toBe('2030-01-01T10:00:00+00:00');
    expect(parseScheduled('2030-01-01 10:00:05.5Z')).toBe('2030-01-01T10:00:05.500000+00:00');
    expect(parseScheduled('2030-01-01T10:00')).toMatch(/^2030-01-01T10:00:00[+-]\d\d:\d\d$/);
    expect(() => parseScheduled('tomorrow')).toThrow(/Unable to parse scheduled timestamp \(tomorrow\)/);
    expect(() => parseScheduled('2030-02-30T10:00')).toThrow(/Unable to parse/);
  });
});

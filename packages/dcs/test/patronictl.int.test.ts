import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd, type EtcdCluster } from '@pgtools/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdDcs } from '../src/index.js';
import { dcsFactory, memberData, uniqueScope } from './support.js';

// Compatibility with the real patronictl (Debian package patroni 3.0.2): what we write must be
// what it reads, and what it writes must be what we read.
const PATRONICTL = process.env.PATRONICTL_BIN ?? '/usr/bin/patronictl';

let etcd: EtcdCluster;
let home: string;
let factory: ReturnType<typeof dcsFactory>;

beforeAll(async () => {
  if (!existsSync(PATRONICTL)) throw new Error(`${PATRONICTL} not found: install the patroni package or set PATRONICTL_BIN`);
  etcd = await startEtcd({ members: 1 });
  // patronictl may look for ~/.config/patroni; give it a private, writable HOME.
  home = await mkdtemp(join(tmpdir(), 'pgtools-dcs-patronictl-'));
  factory = dcsFactory({ hosts: etcd.hosts, ttl: 30 });
});

afterEach(async () => {
  await factory.closeAll();
});

afterAll(async () => {
  await etcd?.destroy();
  if (home) await rm(home, { recursive: true, force: true });
});

async function patronictl(scope: string, args: string[], input?: string): Promise<string> {
  const config = join(home, `${scope}.yml`);
  await writeFile(config, `scope: ${scope}\nnamespace: /service/\netcd3:\n  hosts: ${etcd.hosts.join(',')}\n`);
  return new Promise((resolve, reject) => {
    const child = execFile(
      PATRONICTL,
      ['-c', config, ...args],
      { env: { ...process.env, HOME: home, PATRONICTL_CONFIG_FILE: config, LC_ALL: 'C.UTF-8' }, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`patronictl ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

const MiB = 1024 * 1024;

/** A cluster as three Patroni nodes would leave it: node1 leads on timeline 2. */
async function writeCluster(scope: string): Promise<{ node1: EtcdDcs; node2: EtcdDcs; node3: EtcdDcs }> {
  const node1 = factory.make({ scope, name: 'node1' });
  const node2 = factory.make({ scope, name: 'node2' });
  const node3 = factory.make({ scope, name: 'node3' });
  expect(await node1.initialize(true)).toBe(true);
  expect(await node1.initialize(false, '7300000000000000001')).toBe(true);
  expect(
    await node1.setConfig({
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_level: 'replica', hot_standby: 'on', max_wal_senders: 10 } },
    }),
  ).toBe(true);
  const optime = 200 * MiB;
  expect(await node1.touchMember(memberData(5432, 'master', optime, 2))).toBe(true);
  expect(await node1.attemptToAcquireLeader()).toBe(true);
  expect(await node2.touchMember(memberData(5433, 'replica', optime - 5 * MiB, 2))).toBe(true);
  expect(await node3.touchMember({ ...memberData(5434, 'replica', optime, 2), tags: { nofailover: true } })).toBe(true);
  expect(await node1.setStatus({ optime, slots: { node2: optime - 5 * MiB, node3: optime } })).toBe(true);
  expect(await node1.setHistory([[1, 25165984, 'no recovery target specified', '2024-05-01T10:00:00.123456+00:00', 'node1']])).toBe(true);
  return { node1, node2, node3 };
}

interface ListRow {
  Cluster: string;
  Member: string;
  Host: string;
  Role: string;
  State: string;
  TL: number;
  'Lag in MB'?: number | string;
  Tags?: Record<string, unknown>;
}

describe('patronictl 3.0.2 against keys written by EtcdDcs', () => {
  it('lists members with roles, hosts, timelines and lag, and shows the history', async () => {
    const scope = uniqueScope('compat');
    await writeCluster(scope);

    const rows = JSON.parse(await patronictl(scope, ['list', '-f', 'json'])) as ListRow[];
    expect(rows.map((r) => [r.Member, r.Host, r.Role, r.State, r.TL, r['Lag in MB']])).toEqual([
      ['node1', '127.0.0.1:5432', 'Leader', 'running', 2, undefined],
      ['node2', '127.0.0.1:5433', 'Replica', 'running', 2, 5],
      ['node3', '127.0.0.1:5434', 'Replica', 'running', 2, 0],
    ]);
    expect(rows.every((r) => r.Cluster === scope)).toBe(true);
    expect(rows.find((r) => r.Member === 'node3')?.Tags).toEqual({ nofailover: true });

    const history = JSON.parse(await patronictl(scope, ['history', '-f', 'json'])) as unknown[];
    expect(history).toEqual([
      { TL: 1, LSN: 25165984, Reason: 'no recovery target specified', Timestamp: '2024-05-01T10:00:00.123456+00:00', 'New Leader': 'node1' },
    ]);

    const shown = await patronictl(scope, ['show-config']);
    expect(shown).toContain('maximum_lag_on_failover: 1048576');
    expect(shown).toContain('use_slots: true');
  });

  it('shows the sync standby and a scheduled switchover we write', async () => {
    const scope = uniqueScope('sync');
    const { node1 } = await writeCluster(scope);
    expect(await node1.setSync({ leader: 'node1', sync_standby: 'node3' })).toBe(true);
    const rows = JSON.parse(await patronictl(scope, ['list', '-f', 'json'])) as ListRow[];
    expect(rows.map((r) => [r.Member, r.Role])).toEqual([
      ['node1', 'Leader'],
      ['node2', 'Replica'],
      ['node3', 'Sync Standby'],
    ]);

    expect(await node1.setFailover({ leader: 'node1', member: 'node2', scheduled_at: '2031-01-02T03:04:05+00:00' })).toBe(true);
    const pretty = await patronictl(scope, ['list']);
    expect(pretty).toMatch(/Switchover scheduled at: 2031-01-02T03:04:05\+00:00/);
    expect(pretty).toMatch(/from: node1/);
    expect(pretty).toMatch(/to: node2/);
  });

  it('reports a member without leader key as Replica and no Leader once the key is released', async () => {
    const scope = uniqueScope('noleader');
    const { node1 } = await writeCluster(scope);
    expect(await node1.deleteLeader()).toBe(true);
    const rows = JSON.parse(await patronictl(scope, ['list', '-f', 'json'])) as ListRow[];
    expect(rows.map((r) => r.Role)).toEqual(['Replica', 'Replica', 'Replica']);
  });

  it('reads what patronictl edit-config writes, and its compare-and-swap beats our stale one', async () => {
    const scope = uniqueScope('edit');
    const { node1, node2 } = await writeCluster(scope);
    const before = (await node1.loadCluster()).config;
    expect(before?.value.ttl).toBe(30);

    const out = await patronictl(scope, ['edit-config', '--force', '-s', 'ttl=20', '-s', 'pause=true', '-p', 'max_connections=150']);
    expect(out).toContain('Configuration changed');

    const after = await node2.loadCluster();
    expect(after.problems).toEqual([]);
    expect(after.config?.modRevision).toBeGreaterThan(before?.modRevision ?? Infinity);
    expect(after.config?.value).toMatchObject({
      ttl: 20,
      pause: true,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      postgresql: { use_slots: true, parameters: { wal_level: 'replica', max_connections: 150 } },
    });
    // Our PATCH-like write based on the old revision must now be refused.
    expect(await node1.setConfig({ ...(before?.value ?? {}), loop_wait: 5 }, before?.modRevision)).toBe(false);

    // Resume the way `patronictl resume` would end up: pause removed from config.
    const resumed = { ...after.config?.value };
    delete resumed.pause;
    expect(await node1.setConfig(resumed, after.config?.modRevision)).toBe(true);
    const pretty = await patronictl(scope, ['list']);
    expect(pretty).not.toMatch(/Maintenance mode/);
    expect(await patronictl(scope, ['show-config'])).toContain('ttl: 20');
  });

  it('sees the cluster paused when patronictl edit-config sets pause', async () => {
    const scope = uniqueScope('pause');
    const { node1 } = await writeCluster(scope);
    await patronictl(scope, ['edit-config', '--force', '-s', 'pause=true']);
    expect((await node1.loadCluster()).config?.value.pause).toBe(true);
    expect(await patronictl(scope, ['list'])).toMatch(/Maintenance mode: on/);
  });

  it('reads an empty cluster after patronictl remove', async () => {
    const scope = uniqueScope('remove');
    const { node1 } = await writeCluster(scope);
    await patronictl(scope, ['remove', scope], `${scope}\nYes I am aware\nnode1\n`);
    const view = await node1.loadCluster();
    expect(view).toMatchObject({ members: [], problems: [] });
    expect(view.leader).toBeUndefined();
    expect(view.config).toBeUndefined();
    expect(view.initialize).toBeUndefined();
    // Same data as before the removal: the write must still happen because the key is gone
    // from the view we just read (the lease survived, so it is reused).
    expect(await node1.touchMember(memberData(5432, 'master', 200 * MiB, 2))).toBe(true);
    expect((await node1.loadCluster()).members.map((m) => m.name)).toEqual(['node1']);
  });
});

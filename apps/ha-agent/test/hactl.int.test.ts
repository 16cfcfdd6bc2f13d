import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { EtcdDcs, type MemberData } from '@pgtools/dcs';
import { startEtcd, type EtcdCluster } from '@pgtools/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runHactl } from '../src/hactl.js';

// hactl against a real etcd holding a cluster written through EtcdDcs, and small HTTP servers
// standing in for the members' REST APIs (they record every call). The real agents are tested
// against hactl by the agent's own suite.

const HACTL = resolve(__dirname, '../bin/hactl.js');
const PATRONICTL = process.env.PATRONICTL_BIN ?? '/usr/bin/patronictl';
const MiB = 1024 * 1024;
const SCOPE = 'demo';
const PASSWORD = 's3cret-rest-pw';

interface Call {
  member: string;
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

let etcd: EtcdCluster;
let dir: string;
let config: string;
const calls: Call[] = [];
const servers = new Map<string, http.Server>();
const ports = new Map<string, number>();
/** What each member's API answers next: status and body per endpoint (default 200 "ok"). */
const answers = new Map<string, { status: number; body: string }>();
const nodes: EtcdDcs[] = [];

async function startApi(name: string): Promise<void> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push({ member: name, method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body });
      const a = answers.get(`${name} ${req.method} ${req.url}`) ?? { status: 200, body: 'ok' };
      res.writeHead(a.status, { 'content-type': 'text/plain' });
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.set(name, server);
  ports.set(name, (server.address() as AddressInfo).port);
}

function memberData(name: string, pgPort: number, role: string, xlog: number, extra: Partial<MemberData> = {}): MemberData {
  return {
    conn_url: `postgres://127.0.0.1:${pgPort}/postgres`,
    api_url: `http://127.0.0.1:${ports.get(name)}/patroni`,
    state: 'running',
    role,
    version: '3.0.2',
    xlog_location: xlog,
    timeline: 2,
    ...extra,
  };
}

function hactl(args: string[], env: Record<string, string> = {}, input = ''): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      process.execPath,
      [HACTL, '-c', config, ...args],
      { env: { ...process.env, HOME: dir, ...env }, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => resolvePromise({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
    child.stdin?.end(input);
  });
}

/** patronictl with `input` on stdin, whatever its exit code. */
function patronictlRun(args: string[], input = ''): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      PATRONICTL,
      ['-c', config, ...args],
      { env: { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8' }, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => resolvePromise({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
    child.stdin?.end(input);
  });
}

function patronictl(args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      PATRONICTL,
      ['-c', config, ...args],
      { env: { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8' }, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => (error ? reject(new Error(`patronictl failed: ${error.message}\n${stderr}`)) : resolvePromise(stdout)),
    );
  });
}

async function readView(scope = SCOPE) {
  const reader = new EtcdDcs({ hosts: etcd.hosts, scope, name: 'reader', ttl: 30, callTimeoutMs: 5000 });
  try {
    return await reader.loadCluster();
  } finally {
    await reader.close();
  }
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  dir = await mkdtemp(join(tmpdir(), 'hactl-int-'));
  for (const n of ['pg1', 'pg2', 'pg3']) await startApi(n);
  config = join(dir, 'patroni.yml');
  await writeFile(
    config,
    [
      `scope: ${SCOPE}`,
      'namespace: /service/',
      'name: pg1',
      'restapi:',
      '  listen: 127.0.0.1:8008',
      '  connect_address: 127.0.0.1:8008',
      '  authentication:',
      '    username: admin',
      `    password: ${PASSWORD}`,
      'etcd3:',
      `  hosts: ${etcd.hosts.join(',')}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  // A cluster as three agents would leave it: pg1 leads on timeline 2.
  const [pg1, pg2, pg3] = ['pg1', 'pg2', 'pg3'].map((name) => new EtcdDcs({ hosts: etcd.hosts, scope: SCOPE, name, ttl: 600, callTimeoutMs: 5000 })) as [
    EtcdDcs,
    EtcdDcs,
    EtcdDcs,
  ];
  nodes.push(pg1, pg2, pg3);
  expect(await pg1.initialize(true)).toBe(true);
  expect(await pg1.initialize(false, '7300000000000000042')).toBe(true);
  expect(
    await pg1.setConfig({
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: MiB,
      postgresql: { use_pg_rewind: true, use_slots: true, parameters: { max_connections: 100 } },
    }),
  ).toBe(true);
  const optime = 300 * MiB;
  expect(await pg1.touchMember(memberData('pg1', 5432, 'master', optime))).toBe(true);
  expect(await pg1.attemptToAcquireLeader()).toBe(true);
  expect(await pg2.touchMember(memberData('pg2', 5433, 'replica', optime - 3 * MiB))).toBe(true);
  expect(await pg3.touchMember(memberData('pg3', 5434, 'replica', optime))).toBe(true);
  expect(await pg1.setStatus({ optime, slots: {} })).toBe(true);
  expect(await pg1.setHistory([[1, 25165984, 'no recovery target specified', '2024-05-01T10:00:00.123456+00:00', 'pg1']])).toBe(true);
});

afterAll(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  await Promise.allSettled([...servers.values()].map((s) => new Promise((r) => s.close(r))));
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  calls.length = 0;
  answers.clear();
});

describe('reading the cluster', () => {
  it('lists the leader and two replicas with hosts, timeline and lag', async () => {
    const r = await hactl(['list']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^\+ Cluster: demo \(7300000000000000042\) -+\+/);
    expect(lines[1]).toBe('| Member | Host           | Role    | State   | TL | Lag in MB |');
    expect(lines).toContain('| pg1    | 127.0.0.1:5432 | Leader  | running |  2 |           |');
    expect(lines).toContain('| pg2    | 127.0.0.1:5433 | Replica | running |  2 |         3 |');
    expect(lines).toContain('| pg3    | 127.0.0.1:5434 | Replica | running |  2 |         0 |');
  });

  it('prints the same list -f json as the real patronictl', async () => {
    const ours = await hactl(['list', '-f', 'json']);
    expect(ours.code).toBe(0);
    const rows = JSON.parse(ours.out) as Array<Record<string, unknown>>;
    expect(rows.map((x) => [x.Member, x.Role, x.TL, x['Lag in MB']])).toEqual([
      ['pg1', 'Leader', 2, undefined],
      ['pg2', 'Replica', 2, 3],
      ['pg3', 'Replica', 2, 0],
    ]);
    if (!existsSync(PATRONICTL)) throw new Error(`${PATRONICTL} not found: install the patroni package or set PATRONICTL_BIN`);
    const theirs = await patronictl(['list', '-f', 'json']);
    expect(rows).toEqual(JSON.parse(theirs));
    expect(ours.out).toBe(theirs);
    expect(JSON.parse((await hactl(['history', '-f', 'json'])).out)).toEqual(JSON.parse(await patronictl(['history', '-f', 'json'])));
    expect((await hactl(['list', '-f', 'yaml'])).out).toBe(await patronictl(['list', '-f', 'yaml']));
  });

  it('dsn prints host and port like patronictl: the leader by default, the first with a role, a named member', async () => {
    for (const args of [['dsn'], ['dsn', '-r', 'replica'], ['dsn', '-m', 'pg3'], ['dsn', SCOPE, '--role', 'leader'], ['dsn', '-r', 'any']]) {
      const ours = await hactl(args);
      expect([args, ours.code, ours.err]).toEqual([args, 0, '']);
      expect([args, ours.out]).toEqual([args, await patronictl(args)]);
    }
    expect((await hactl(['dsn'])).out).toBe('host=127.0.0.1 port=5432\n');
    expect((await hactl(['dsn', '-m', 'pg3'])).out).toBe('host=127.0.0.1 port=5434\n');
    const both = await hactl(['dsn', '-r', 'replica', '-m', 'pg2']);
    expect([both.code, both.err]).toEqual([1, 'Error: --role and --member are mutually exclusive options\n']);
    const nobody = await hactl(['dsn', '-m', 'pg9']);
    expect([nobody.code, nobody.err]).toEqual([1, 'Error: Can not find a suitable member\n']);
    expect((await hactl(['dsn', '-r', 'standby-leader'])).code).toBe(1);
    expect((await hactl(['dsn', '-r', 'boss'])).code).toBe(2);
  });

  it('shows the history and the configuration', async () => {
    const h = await hactl(['history']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('|  1 | 25165984 | no recovery target specified | 2024-05-01T10:00:00.123456+00:00 | pg1        |');
    const c = await hactl(['show-config']);
    expect(c.code).toBe(0);
    expect(c.out).toContain('maximum_lag_on_failover: 1048576\n');
    expect(c.out).toContain('ttl: 30\n');
    expect(c.out).toBe(await patronictl(['show-config']));
  });
});

describe('changing the cluster', () => {
  it('edit-config --force -s ttl=20 writes the config key and shows the diff', async () => {
    const r = await hactl(['edit-config', '--force', '-s', 'ttl=20', '-p', 'max_connections=200']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('-ttl: 30\n+ttl: 20\n');
    expect(r.out).toContain('-    max_connections: 100\n+    max_connections: 200\n');
    expect(r.out).toContain('Configuration changed');
    const view = await readView();
    expect(view.config?.value.ttl).toBe(20);
    expect(view.config?.value.postgresql?.parameters?.max_connections).toBe(200);
    expect(view.config?.value.loop_wait).toBe(10);

    const again = await hactl(['edit-config', '--force', '-s', 'ttl=20']);
    expect(again.out).toBe('Not changed\n');
    // Without --force and without a terminal: nothing is written.
    const asked = await hactl(['edit-config', '-s', 'ttl=25']);
    expect(asked.code).toBe(1);
    expect(asked.err).toContain('stdin is not a terminal');
    expect((await readView()).config?.value.ttl).toBe(20);
    expect(calls).toEqual([]);
  });

  it('pause sends PATCH /config with basic auth to the leader', async () => {
    answers.set('pg1 PATCH /config', { status: 200, body: '{"pause": true}' });
    const r = await hactl(['pause']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('Success: cluster management is paused\n');
    expect(calls).toEqual([
      {
        member: 'pg1',
        method: 'PATCH',
        url: '/config',
        authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`,
        body: '{"pause": true}',
      },
    ]);
    expect(r.out + r.err).not.toContain(PASSWORD);

    // The stand-in API did not pause anything, so resume is refused like patronictl does.
    const resume = await hactl(['resume']);
    expect(resume.code).toBe(1);
    expect(resume.err).toContain('Error: Cluster is not paused');
  });

  it('switchover --leader pg1 --candidate pg2 --force POSTs to the leader and prints its answer', async () => {
    answers.set('pg1 POST /switchover', { status: 200, body: 'Successfully switched over to "pg2"' });
    const r = await hactl(['switchover', '--leader', 'pg1', '--candidate', 'pg2', '--force']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Current cluster topology\n/);
    expect(r.out).toMatch(/\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{5} Successfully switched over to "pg2"\n/);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ member: 'pg1', method: 'POST', url: '/switchover' });
    expect(JSON.parse(calls[0]?.body ?? '')).toEqual({ leader: 'pg1', candidate: 'pg2', scheduled_at: null });
    expect(calls[0]?.authorization).toBe(`Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`);

    // --master is patronictl's older spelling.
    answers.set('pg1 POST /switchover', { status: 202, body: 'Switchover scheduled' });
    const scheduled = await hactl(['switchover', '--master', 'pg1', '--candidate', 'pg2', '--scheduled', '2031-01-02T03:04:05+00:00', '--force']);
    expect(scheduled.code).toBe(0);
    expect(scheduled.out).toContain(' Switchover scheduled\n');
    expect(JSON.parse(calls[1]?.body ?? '')).toEqual({ leader: 'pg1', candidate: 'pg2', scheduled_at: '2031-01-02T03:04:05+00:00' });
  });

  it('failover --candidate, restart and reinit call the right members', async () => {
    const f = await hactl(['failover', '--candidate', 'pg3', '--force']);
    expect(f.code).toBe(0);
    expect(calls[0]).toMatchObject({ member: 'pg1', method: 'POST', url: '/failover' });
    expect(JSON.parse(calls[0]?.body ?? '')).toEqual({ leader: 'pg1', candidate: 'pg3', scheduled_at: null });

    const restart = await hactl(['restart', SCOPE, 'pg2', '--force']);
    expect(restart.code).toBe(0);
    expect(restart.out).toContain('Success: restart on member pg2\n');
    expect(calls[1]).toMatchObject({ member: 'pg2', method: 'POST', url: '/restart', body: '{}' });

    const reinit = await hactl(['reinit', SCOPE, 'pg3', '--force']);
    expect(reinit.code).toBe(0);
    expect(reinit.out).toContain('Success: reinitialize for member pg3\n');
    expect(calls[2]).toMatchObject({ member: 'pg3', method: 'POST', url: '/reinitialize', body: '{"force": true}' });

    const leader = await hactl(['reinit', SCOPE, 'pg1', '--force']);
    expect(leader.code).toBe(1);
    expect(leader.err).toContain('Error: No replica among provided members');
    expect(calls).toHaveLength(3);
  });
});

describe('failures are reported honestly', () => {
  it('exits 1 with the API answer when the switchover is refused, and writes nothing to etcd', async () => {
    answers.set('pg1 POST /switchover', { status: 412, body: 'no good candidates have been found' });
    const r = await hactl(['switchover', '--leader', 'pg1', '--candidate', 'pg2', '--force']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('Switchover failed, details: 412, no good candidates have been found\n');
    expect((await readView()).failover).toBeUndefined();
  });

  it('exits 1 when the leader REST API is unreachable, without falling back to the failover key', async () => {
    const server = servers.get('pg1') as http.Server;
    await new Promise((r) => server.close(r));
    try {
      const r = await hactl(['switchover', '--leader', 'pg1', '--candidate', 'pg2', '--force']);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(
        /Could not switchover using the REST API of pg1 \(POST http:\/\/127\.0\.0\.1:\d+\/switchover: .*ECONNREFUSED.*\); nothing was changed/,
      );
      expect((await readView()).failover).toBeUndefined();
      const p = await hactl(['pause']);
      expect(p.code).toBe(0); // the next member answers, as with patronictl
      expect(p.err).toContain('Member pg1 is not accessible');
      expect(calls.map((c) => `${c.member} ${c.method} ${c.url}`)).toEqual(['pg2 PATCH /config']);
    } finally {
      await new Promise<void>((r) => server.listen(ports.get('pg1'), '127.0.0.1', r));
    }
  });

  it('refuses to ask questions without a terminal, before calling anything', async () => {
    const r = await hactl(['switchover', '--candidate', 'pg2']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('Error: switchover would ask "Primary" but stdin is not a terminal; nothing was done');
    const restart = await hactl(['restart', SCOPE]);
    expect(restart.code).toBe(1);
    expect(restart.err).toContain('stdin is not a terminal');
    expect(calls).toEqual([]);
  });
});

describe('interactive switchover', () => {
  it('asks for the primary, candidate, time and confirmation like patronictl, then calls the API', async () => {
    answers.set('pg1 POST /switchover', { status: 200, body: 'Successfully switched over to "pg2"' });
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const chunks: string[] = [];
    const stdout = Object.assign(
      new Writable({
        write(c, _e, cb) {
          chunks.push(String(c));
          cb();
        },
      }),
      { isTTY: false },
    );
    const stderr = new PassThrough();
    const answersTyped = ['', 'pg2', '', 'y'];
    const timer = setInterval(() => {
      // Answer each prompt once it has been shown.
      const shown = chunks.join('');
      const asked = (shown.match(/\]: /g) ?? []).length;
      const typed = 4 - answersTyped.length;
      if (asked > typed && answersTyped.length > 0) stdin.write(`${answersTyped.shift()}\n`);
    }, 20);
    try {
      const code = await runHactl(['-c', config, 'switchover'], { stdin, stdout, stderr, env: { ...process.env, HOME: dir } });
      expect(code).toBe(0);
    } finally {
      clearInterval(timer);
    }
    const text = chunks.join('');
    expect(text).toContain('Primary [pg1]: ');
    expect(text).toContain("Candidate ['pg2', 'pg3'] []: ");
    expect(text).toMatch(/When should the switchover take place \(e\.g\. \d{4}-\d\d-\d\dT\d\d:\d\d \)  \[now\]: /);
    expect(text).toContain('Are you sure you want to switchover cluster demo, demoting current leader pg1? [y/N]: ');
    expect(text).toContain('Successfully switched over to "pg2"');
    expect(JSON.parse(calls[0]?.body ?? '')).toEqual({ leader: 'pg1', candidate: 'pg2', scheduled_at: null });
  });
});

describe('flush and remove', () => {
  const optime = 300 * MiB;
  const untimed = (text: string) => text.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{5}/g, '<time>');
  // patronictl 3.0.2 titles the member table without the system identifier (3.1+ shows it, as hactl):
  // compare what follows the table.
  const afterTable = (text: string) => text.replace(/^([+|].*\n)+/, '');

  it('flush restart: DELETE /restart on the members with a scheduled restart, as patronictl', async () => {
    const [, pg2] = nodes as [EtcdDcs, EtcdDcs];
    const schedule = { schedule: '2031-01-02T03:04:05+00:00', postgres_version: '16.0' };
    expect(await pg2.touchMember(memberData('pg2', 5433, 'replica', optime - 3 * MiB, { scheduled_restart: schedule }))).toBe(true);
    try {
      answers.set('pg2 DELETE /restart', { status: 200, body: 'scheduled restart deleted' });
      const r = await hactl(['flush', SCOPE, 'pg2', 'pg3', 'restart', '--force']);
      expect([r.code, r.err]).toEqual([0, '']);
      expect(r.out).toContain('Success: flush scheduled restart for member pg2\nNo scheduled restart for member pg3\n');
      expect(calls.map((c) => `${c.member} ${c.method} ${c.url}`)).toEqual(['pg2 DELETE /restart']);
      expect(afterTable(r.out)).toBe(afterTable((await patronictlRun(['flush', SCOPE, 'pg2', 'pg3', 'restart', '--force'])).out));

      answers.set('pg2 DELETE /restart', { status: 404, body: 'no restarts are scheduled' });
      const gone = await hactl(['flush', SCOPE, 'pg2', 'restart', '--force']);
      expect(gone.code).toBe(1);
      expect(gone.out).toContain('Failed: flush scheduled restart for member pg2, status code=404, (no restarts are scheduled)\n');
      // Without --force and a terminal it asks nothing and calls nobody.
      calls.length = 0;
      const asked = await hactl(['flush', SCOPE, 'restart']);
      expect([asked.code, asked.err]).toEqual([1, expect.stringContaining('stdin is not a terminal') as unknown]);
      expect(calls).toEqual([]);
    } finally {
      await pg2.touchMember(memberData('pg2', 5433, 'replica', optime - 3 * MiB));
    }
  });

  it('flush switchover: DELETE /switchover on the leader; with no member reachable, clears the failover key itself', async () => {
    const [pg1] = nodes as [EtcdDcs];
    const none = await hactl(['flush', SCOPE, 'switchover']);
    expect([none.code, none.out]).toEqual([0, 'No pending scheduled switchover\n']);
    expect(none.out).toBe((await patronictlRun(['flush', SCOPE, 'switchover'])).out);

    expect(await pg1.setFailover({ leader: 'pg1', member: 'pg2', scheduled_at: '2031-01-02T03:04:05+00:00' })).toBe(true);
    answers.set('pg1 DELETE /switchover', { status: 200, body: 'scheduled switchover deleted' });
    const ok = await hactl(['flush', SCOPE, 'switchover']);
    expect([ok.code, ok.out]).toEqual([0, 'Success: scheduled switchover deleted\n']);
    expect(calls.map((c) => `${c.member} ${c.method} ${c.url}`)).toEqual(['pg1 DELETE /switchover']);
    expect(ok.out).toBe((await patronictlRun(['flush', SCOPE, 'switchover'])).out);

    // Every member refuses: patronictl's fallback writes {} over the key (compare-and-swap).
    for (const m of ['pg1', 'pg2', 'pg3']) answers.set(`${m} DELETE /switchover`, { status: 503, body: 'busy' });
    calls.length = 0;
    const fallback = await hactl(['flush', SCOPE, 'switchover']);
    expect(fallback.code).toBe(0);
    expect(untimed(fallback.out)).toBe(
      'Failed: member=pg1, status_code=503, (busy)\nFailed: member=pg2, status_code=503, (busy)\nFailed: member=pg3, status_code=503, (busy)\n' +
        '<time> Could not find any accessible member of cluster demo\n',
    );
    expect(fallback.err).toContain('Failing over to DCS');
    expect(calls.map((c) => c.member)).toEqual(['pg1', 'pg2', 'pg3']);
    expect((await readView()).failover?.value).toEqual({});
  });

  it("reinit --from-leader sends Patroni 4.1's from_leader", async () => {
    const r = await hactl(['reinit', SCOPE, 'pg3', '--force', '--from-leader']);
    expect([r.code, r.out.split('\n').slice(-2)]).toEqual([0, ['Success: reinitialize for member pg3', '']]);
    expect(calls).toEqual([expect.objectContaining({ member: 'pg3', method: 'POST', url: '/reinitialize', body: '{"force": true, "from_leader": true}' })]);
  });

  it('remove asks for the cluster name, "Yes I am aware" and the leader, then deletes only that cluster', async () => {
    const doomed = new EtcdDcs({ hosts: etcd.hosts, scope: 'doomed', name: 'pg1', ttl: 600, callTimeoutMs: 5000 });
    const neighbour = new EtcdDcs({ hosts: etcd.hosts, scope: 'doomed-too', name: 'pg1', ttl: 600, callTimeoutMs: 5000 });
    nodes.push(doomed, neighbour);
    expect(await doomed.initialize(true, '7300000000000000099')).toBe(true);
    expect(await doomed.touchMember(memberData('pg1', 5432, 'master', optime))).toBe(true);
    expect(await doomed.attemptToAcquireLeader()).toBe(true);
    expect(await neighbour.initialize(true, '7300000000000000100')).toBe(true);

    const refusals: Array<[string, string]> = [
      ['demo\n', 'Error: Cluster names specified do not match\n'],
      ['doomed\nYes I am sure\n', 'Error: You did not exactly type "Yes I am aware"\n'],
      ['doomed\nYes I am aware\npg2\n', 'Error: You did not specify the current leader of the cluster\n'],
    ];
    for (const [input, error] of refusals) {
      const r = await hactl(['remove', 'doomed'], {}, input);
      expect([input, r.code, r.err]).toEqual([input, 1, error]);
      const theirs = await patronictlRun(['remove', 'doomed'], input);
      expect([input, afterTable(r.out)]).toEqual([input, afterTable(theirs.out)]);
      expect(theirs.err).toContain(error);
    }
    expect((await readView('doomed')).leader?.name).toBe('pg1');

    const r = await hactl(['remove', 'doomed'], {}, 'doomed\nYes I am aware\npg1\n');
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toMatch(/^\+ Cluster: doomed \(7300000000000000099\) /);
    expect(r.out).toMatch(
      /Please confirm the cluster name to remove: You are about to remove all information in DCS for doomed, please type: "Yes I am aware": This cluster currently is healthy\. Please specify the leader name to continue: $/,
    );
    const after = await readView('doomed');
    expect([after.leader, after.members, after.initialize]).toEqual([undefined, [], undefined]);
    expect((await readView('doomed-too')).initialize).toBe('7300000000000000100');
    expect((await readView()).leader?.name).toBe('pg1');
  });
});

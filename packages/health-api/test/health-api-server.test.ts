import { afterEach, describe, expect, it } from 'vitest';
import { createHealthApi, type HealthApi, type HealthApiOptions, type NodeState } from '../src/index.js';
import { MB, primaryState, rawRequest, replicaState } from './fixtures.js';

const PASSWORD = 'sekret-pass-9f3';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

function recordingLogger() {
  const lines: string[] = [];
  const push = (level: string) => (m: string, f?: Record<string, unknown>) => void lines.push(`${level}: ${m} ${f ? JSON.stringify(f) : ''}`);
  return { lines, logger: { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') } };
}

describe('REST API over real HTTP', () => {
  let api: HealthApi | undefined;
  let state: NodeState;
  afterEach(async () => {
    await api?.stop();
    api = undefined;
  });

  async function start(over: Partial<HealthApiOptions> = {}): Promise<number> {
    api = createHealthApi({ listen: '127.0.0.1:0', getState: () => state, ...over });
    await api.start();
    return api.address!.port;
  }

  it('serves role checks to GET (JSON body), HEAD and OPTIONS (status only) for a primary', async () => {
    state = primaryState();
    const port = await start();
    const res = await fetch(`http://127.0.0.1:${port}/primary`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.role).toBe('master');
    expect(body.patroni).toEqual({ version: '3.0.2', scope: 'stampede' });
    expect(body.xlog).toEqual({ location: 50 * MB });

    const head = await rawRequest(port, 'HEAD', '/primary');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const options = await rawRequest(port, 'OPTIONS', '/primary');
    expect(options.status).toBe(200);
    expect(options.body).toBe('');
    expect((await rawRequest(port, 'OPTIONS', '/replica')).status).toBe(503);
    expect((await rawRequest(port, 'OPTIONS', '/master')).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/read-write`)).status).toBe(200);
  });

  it('answers per role: replica, noloadbalance replica, lagging replica, stopped PostgreSQL', async () => {
    state = replicaState();
    const port = await start();
    const status = async (path: string, method = 'OPTIONS') => (await rawRequest(port, method, path)).status;
    expect(await status('/replica')).toBe(200);
    expect(await status('/primary')).toBe(503);
    expect(await status('/read-only')).toBe(200);

    state = replicaState({ tags: { noloadbalance: true } });
    expect(await status('/replica')).toBe(503);
    expect(await status('/health')).toBe(200);

    state = replicaState({}, 20 * MB);
    expect(await status('/replica?lag=10MB')).toBe(503);
    expect(await status('/replica?lag=100MB')).toBe(200);
    expect(await status('/replica?lag=16kB', 'GET')).toBe(503);

    state = replicaState({ postgres: { state: 'stopped', role: 'replica' } });
    expect(await status('/replica')).toBe(503);
    expect(await status('/health')).toBe(503);
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ state: 'stopped', role: 'replica' });
  });

  it('GET /patroni is always 200; unknown paths are 503; liveness/readiness have no body', async () => {
    state = replicaState({ postgres: { state: 'stopped', role: 'replica' } });
    const port = await start();
    const patroni = await fetch(`http://127.0.0.1:${port}/patroni`);
    expect(patroni.status).toBe(200);
    expect(await patroni.json()).toMatchObject({ state: 'stopped', patroni: { scope: 'stampede' } });
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(503);
    expect((await rawRequest(port, 'OPTIONS', '/nope')).status).toBe(503);
    expect((await rawRequest(port, 'POST', '/nope', { body: '{}' })).status).toBe(503);
    const live = await rawRequest(port, 'GET', '/liveness');
    expect(live.status).toBe(200);
    expect(live.body).toBe('');
    expect((await rawRequest(port, 'GET', '/readiness')).status).toBe(503);
  });

  it('serves /cluster, /history, /config and /metrics', async () => {
    state = primaryState();
    const port = await start({
      getCluster: () => ({
        members: [{ name: 'node1', role: 'leader', state: 'running', api_url: 'http://127.0.0.1:8008/patroni', host: '127.0.0.1', port: 5432, timeline: 2 }],
        history: [[1, 25165984, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'node1']],
      }),
      handlers: { getConfig: async () => ({ config: { ttl: 30, loop_wait: 10 }, version: 7 }) },
    });
    const cluster = (await (await fetch(`http://127.0.0.1:${port}/cluster`)).json()) as { members: unknown[]; scope: string };
    expect(cluster.scope).toBe('stampede');
    expect(cluster.members).toHaveLength(1);
    expect(await (await fetch(`http://127.0.0.1:${port}/history`)).json()).toEqual([
      [1, 25165984, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'node1'],
    ]);
    expect(await (await fetch(`http://127.0.0.1:${port}/config`)).json()).toEqual({ ttl: 30, loop_wait: 10 });
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^patroni_primary\{scope="stampede"\} 1$/m);
  });

  it('requires basic auth for unsafe methods only, with Patroni realm; never leaks the password', async () => {
    state = replicaState();
    const { logger, lines } = recordingLogger();
    const seen: string[] = [];
    const port = await start({
      auth: { username: 'patroni', password: PASSWORD },
      logger,
      handlers: {
        reload: async () => {
          seen.push('reload');
          return { status: 202, body: 'Reload request received for member node2 and will be processed within 10 seconds' };
        },
      },
    });
    const bodies: string[] = [];
    const noAuth = await rawRequest(port, 'POST', '/reload');
    bodies.push(noAuth.body);
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers['www-authenticate']).toBe('Basic realm="Patroni"');
    const wrong = await rawRequest(port, 'POST', '/reload', { headers: { authorization: basic('patroni', 'wrong') } });
    bodies.push(wrong.body);
    expect(wrong.status).toBe(401);
    expect(seen).toEqual([]);
    const ok = await rawRequest(port, 'POST', '/reload', { headers: { authorization: basic('patroni', PASSWORD) } });
    bodies.push(ok.body);
    expect(ok.status).toBe(202);
    expect(seen).toEqual(['reload']);
    // safe methods need no credentials
    expect((await rawRequest(port, 'GET', '/replica')).status).toBe(200);
    const all = [...bodies, ...lines].join('\n');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(Buffer.from(`patroni:${PASSWORD}`).toString('base64'));
  });

  it('refuses clients outside the allowlist with 403 before checking credentials', async () => {
    state = replicaState();
    const port = await start({ allowlist: ['10.0.0.0/8'], auth: { username: 'u', password: 'p' }, handlers: { reload: async () => ({ status: 202 }) } });
    expect((await rawRequest(port, 'POST', '/reload', { headers: { authorization: basic('u', 'p') } })).status).toBe(403);
    expect((await rawRequest(port, 'GET', '/replica')).status).toBe(200);
    await api!.stop();
    await start({ allowlist: ['127.0.0.1'], handlers: { reload: async () => ({ status: 202 }) } });
    expect((await rawRequest(api!.address!.port, 'POST', '/reload')).status).toBe(202);
  });

  it("allowlist_include_members: the members' hosts (IPs or names, read per request) may use unsafe methods too", async () => {
    state = replicaState();
    let members: string[] = [];
    const port = await start({ allowlist: ['10.0.0.0/8'], allowlistMembers: () => members, handlers: { reload: async () => ({ status: 202 }) } });
    expect((await rawRequest(port, 'POST', '/reload')).status).toBe(403);
    members = ['10.1.1.1', '127.0.0.1'];
    expect((await rawRequest(port, 'POST', '/reload')).status).toBe(202);
    await api!.stop();
    // Members only (no allowlist): a name resolves, a member that left no longer counts.
    members = ['localhost'];
    await start({ allowlistMembers: () => members, handlers: { reload: async () => ({ status: 202 }) } });
    expect((await rawRequest(api!.address!.port, 'POST', '/reload')).status).toBe(202);
    members = [];
    expect((await rawRequest(api!.address!.port, 'POST', '/reload')).status).toBe(403);
    expect((await rawRequest(api!.address!.port, 'GET', '/replica')).status).toBe(200);
    // POST /failsafe comes while etcd (and so the member list) may be gone: members do not restrict it
    // (Patroni's allowlist_check_members=False), an allowlist still does.
    await api!.stop();
    const failsafe = async () => ({ status: 200, body: 'Accepted' });
    await start({ allowlistMembers: () => members, handlers: { failsafe } });
    expect((await rawRequest(api!.address!.port, 'POST', '/failsafe', { body: '{"name": "n1"}' })).status).toBe(200);
    await api!.stop();
    await start({ allowlist: ['10.0.0.0/8'], allowlistMembers: () => ['127.0.0.1'], handlers: { failsafe } });
    expect((await rawRequest(api!.address!.port, 'POST', '/failsafe', { body: '{"name": "n1"}' })).status).toBe(403);
  });

  it('answers 400 to malformed JSON and 413 to oversized bodies, and keeps serving', async () => {
    state = primaryState();
    const calls: unknown[] = [];
    const port = await start({ handlers: { switchover: async (r) => (calls.push(r), { status: 200, body: 'ok' }) } });
    const bad = await rawRequest(port, 'POST', '/switchover', { body: '{"leader": "node1",', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect((await rawRequest(port, 'POST', '/switchover', { body: '[1,2]' })).status).toBe(400);
    expect((await rawRequest(port, 'POST', '/switchover', { body: '' })).status).toBe(400);
    const big = JSON.stringify({ leader: 'node1', pad: 'x'.repeat(70 * 1024) });
    const tooBig = await rawRequest(port, 'POST', '/switchover', { body: big });
    expect(tooBig.status).toBe(413);
    // chunked (no Content-Length) oversized body too
    const chunked = await fetch(`http://127.0.0.1:${port}/switchover`, {
      method: 'POST',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 40; i++) c.enqueue(new TextEncoder().encode('x'.repeat(4096)));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit).then((r) => r.status);
    expect(chunked).toBe(413);
    expect(calls).toEqual([]);
    expect((await fetch(`http://127.0.0.1:${port}/primary`)).status).toBe(200);
  });

  it('validates switchover/failover bodies like Patroni and passes normalized requests', async () => {
    state = primaryState();
    const calls: unknown[] = [];
    const port = await start({
      handlers: {
        switchover: async (r) => (calls.push(['switchover', r]), { status: 200, body: 'Successfully switched over to "node2"' }),
        failover: async (r) => (calls.push(['failover', r]), { status: 412, body: 'no good candidates have been found' }),
      },
    });
    const post = (path: string, body: unknown) => rawRequest(port, 'POST', path, { body: JSON.stringify(body) });
    expect(await post('/switchover', { candidate: 'node2' })).toMatchObject({ status: 400, body: 'Switchover could be performed only from a specific leader' });
    expect(await post('/failover', { leader: 'node1' })).toMatchObject({ status: 400, body: 'Failover could be performed only to a specific candidate' });
    expect(await post('/switchover', { leader: 'node1', scheduled_at: '2099-01-01T10:00:00' })).toMatchObject({ status: 400 });
    expect(await post('/switchover', { leader: 'node1', scheduled_at: '2001-01-01T10:00:00+00:00' })).toMatchObject({
      status: 422,
      body: 'Cannot schedule switchover in the past',
    });
    expect(await post('/switchover', { master: 'node1', candidate: 'node2' })).toMatchObject({ status: 200, body: 'Successfully switched over to "node2"' });
    expect(await post('/failover', { candidate: 'node3' })).toMatchObject({ status: 412 });
    expect(await post('/switchover', { leader: 'node1', scheduled_at: '2099-01-01T10:00:00+02:00' })).toMatchObject({ status: 200 });
    expect(calls).toEqual([
      ['switchover', { leader: 'node1', candidate: 'node2' }],
      ['failover', { candidate: 'node3' }],
      ['switchover', { leader: 'node1', scheduledAt: new Date('2099-01-01T08:00:00Z') }],
    ]);
    // no handler: 501
    expect((await rawRequest(port, 'DELETE', '/switchover')).status).toBe(501);
  });

  it('PATCH /config merges with null removal and hands the result to the handler; PUT replaces', async () => {
    state = primaryState();
    let stored: { config: Record<string, unknown>; version: number } = { config: { ttl: 30, postgresql: { parameters: { a: '1', b: '2' } } }, version: 3 };
    const port = await start({
      handlers: {
        getConfig: async () => stored,
        patchConfig: async ({ merged, version, changed }) => {
          if (version !== stored.version) return { status: 409, body: 'Conflict' };
          if (changed) stored = { config: merged, version: stored.version + 1 };
          return { status: 200, body: merged };
        },
        putConfig: async ({ config }) => {
          stored = { config, version: stored.version + 1 };
          return { status: 200, body: config };
        },
      },
    });
    const patched = await rawRequest(port, 'PATCH', '/config', { body: JSON.stringify({ ttl: 20, pause: true, postgresql: { parameters: { b: null } } }) });
    expect(patched.status).toBe(200);
    expect(JSON.parse(patched.body)).toEqual({ ttl: 20, pause: true, postgresql: { parameters: { a: '1' } } });
    expect(stored.version).toBe(4);
    const put = await rawRequest(port, 'PUT', '/config', { body: JSON.stringify({ ttl: 30 }) });
    expect(put.status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${port}/config`)).json()).toEqual({ ttl: 30 });
  });

  it('validates restart, refuses reinitialize on the leader, and survives a throwing handler', async () => {
    state = primaryState();
    const { logger } = recordingLogger();
    const calls: unknown[] = [];
    const port = await start({
      logger,
      handlers: {
        restart: async (r) => (calls.push(r), { status: 200, body: 'restarted successfully' }),
        reinitialize: async (r) => (calls.push(r), { status: 200, body: 'reinitialize started' }),
        reload: async () => {
          throw new Error('boom');
        },
      },
    });
    expect(await rawRequest(port, 'POST', '/restart', { body: JSON.stringify({ role: 'leader' }) })).toMatchObject({ status: 400 });
    expect(await rawRequest(port, 'POST', '/restart', { body: JSON.stringify({ foo: 1 }) })).toMatchObject({
      status: 400,
      body: 'Unknown filter for the scheduled restart: foo',
    });
    expect(await rawRequest(port, 'POST', '/restart', { body: JSON.stringify({ role: 'master', postgres_version: '15.4', timeout: 30 }) })).toMatchObject({
      status: 200,
    });
    expect(await rawRequest(port, 'POST', '/restart')).toMatchObject({ status: 200 });
    expect(calls).toEqual([{ role: 'primary', postgresVersion: '15.4', timeout: 30 }, {}]);
    expect(await rawRequest(port, 'POST', '/reinitialize', { body: '{"force": true}' })).toMatchObject({
      status: 503,
      body: 'I am the leader, can not reinitialize',
    });
    state = replicaState();
    expect(await rawRequest(port, 'POST', '/reinitialize', { body: '{"force": true}' })).toMatchObject({ status: 200 });
    // Patroni 4.1's `patronictl reinit --from-leader` body.
    expect(await rawRequest(port, 'POST', '/reinitialize', { body: '{"force": false, "from_leader": true}' })).toMatchObject({ status: 200 });
    expect(calls.slice(2)).toEqual([
      { force: true, fromLeader: false },
      { force: false, fromLeader: true },
    ]);
    expect((await rawRequest(port, 'POST', '/reload')).status).toBe(500);
    expect((await rawRequest(port, 'GET', '/replica')).status).toBe(200);
  });

  it('POST /failsafe: passes the JSON body to the handler and sends its headers; 501 without a handler', async () => {
    state = replicaState();
    const bodies: Array<Record<string, unknown>> = [];
    const port = await start({
      handlers: {
        failsafe: async (b) => (bodies.push(b), { status: 200, body: 'Accepted', headers: { lsn: '1234' } }),
        getFailsafe: async () => ({ status: 200, body: { node1: 'http://h:8008/patroni' } }),
      },
    });
    const res = await fetch(`http://127.0.0.1:${port}/failsafe`, { method: 'POST', body: JSON.stringify({ name: 'node1', api_url: 'http://h:8008/patroni' }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('lsn')).toBe('1234');
    expect(await res.text()).toBe('Accepted');
    expect(bodies).toEqual([{ name: 'node1', api_url: 'http://h:8008/patroni' }]);
    expect((await rawRequest(port, 'POST', '/failsafe')).status).toBe(400);
    expect(await (await fetch(`http://127.0.0.1:${port}/failsafe`)).json()).toEqual({ node1: 'http://h:8008/patroni' });
    await api?.stop();
    const bare = await start();
    expect((await rawRequest(bare, 'POST', '/failsafe', { body: '{"name": "node1"}' })).status).toBe(501);
  });
});

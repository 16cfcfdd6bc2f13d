import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, type EtcdCluster } from '@pgtools/testkit';
import { startFence, type Fence, type FenceEtcdAccess, type FenceEvent } from '../src/index.js';

// The fence revokes the leader's lease once it has proven the postmaster stopped, against a real
// etcd (plain, and with TLS, client certificates and authentication), and revokes nothing when it
// could not prove it. A `sleep` stands in for the postmaster: what is tested is the revocation.

const PASSWORD = 'fence-Pa55 "quoted" \\ word';
let plain: EtcdCluster;
// TLS with client certificates required, and authentication: etcd's JSON gateway refuses a
// certificate with a CommonName then, so the fence goes through etcdctl.
let secure: EtcdCluster;
// TLS and authentication, the client certificate optional: the gateway takes the request.
let tlsAuth: EtcdCluster;
const fakes: ChildProcess[] = [];
const fences: Fence[] = [];

beforeAll(async () => {
  const auth = { users: [{ name: 'patroni', password: PASSWORD, prefix: '/service/' }] };
  [plain, secure, tlsAuth] = await Promise.all([startEtcd(), startEtcd({ tls: { clientCertAuth: true }, auth }), startEtcd({ tls: true, auth })]);
}, 120_000);

afterEach(async () => {
  await Promise.allSettled(fences.splice(0).map((f) => f.stop()));
  for (const f of fakes.splice(0)) f.kill('SIGKILL');
});

afterAll(async () => {
  await Promise.allSettled([plain?.destroy(), secure?.destroy(), tlsAuth?.destroy()]);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(get: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** A lease with a key on it, as the agent's leader key is; returns the lease id in decimal. */
async function leaderKey(etcd: EtcdCluster, key: string): Promise<string> {
  const granted = await etcd.etcdctl(['lease', 'grant', '60']);
  const hex = /lease ([0-9a-f]+) granted/.exec(granted)?.[1];
  if (!hex) throw new Error(`unexpected etcdctl answer: ${granted}`);
  await etcd.etcdctl(['put', `--lease=${hex}`, key, 'node1']);
  return BigInt(`0x${hex}`).toString();
}

const keyExists = async (etcd: EtcdCluster, key: string): Promise<boolean> => (await etcd.etcdctl(['get', '--keys-only', key])).includes(key);

function fakePostmaster(): number {
  const fake = spawn('/bin/sh', ['-c', 'exec sleep 60'], { stdio: 'ignore' });
  fakes.push(fake);
  return fake.pid!;
}

async function armedFence(etcd: FenceEtcdAccess, lease: string, events: FenceEvent[]): Promise<{ fence: Fence; pm: number }> {
  const fence = await startFence({ timeoutMs: 30_000, quitGraceMs: 300, etcd, onEvent: (e) => events.push(e) });
  fences.push(fence);
  const pm = fakePostmaster();
  expect(fence.setLease(lease)).toBe(true);
  await fence.arm(pm);
  return { fence, pm };
}

const access = (etcd: EtcdCluster, password = PASSWORD): FenceEtcdAccess => ({
  endpoints: etcd.endpoints,
  cacertFile: etcd.tls!.caFile,
  certFile: etcd.tls!.certFile,
  keyFile: etcd.tls!.keyFile,
  username: 'patroni',
  password,
});

/** Arms, closes the agent's pipe, and returns the fence's verdict on the lease. */
async function revokeOnce(etcd: FenceEtcdAccess, lease: string): Promise<FenceEvent> {
  const events: FenceEvent[] = [];
  const { fence } = await armedFence(etcd, lease, events);
  const argv = readFileSync(`/proc/${fence.pid}/cmdline`, 'utf8');
  expect(argv).not.toContain('Pa55');
  fence.abandon();
  const verdict = await until(() => events.find((e) => e.type === 'revoked' || e.type === 'revoke_failed'), 15_000, 'revocation');
  expect(events.some((e) => e.type === 'fenced')).toBe(true);
  return verdict;
}

describe('the fence revokes the leader lease after a proven stop', () => {
  it('agent gone: postmaster stopped, then the lease revoked and the leader key deleted at once', async () => {
    const key = '/service/revoke1/leader';
    const lease = await leaderKey(plain, key);
    const events: FenceEvent[] = [];
    // A dead endpoint first: the fence goes on to the next one.
    const dead = `http://127.0.0.1:${await freePort()}`;
    const { fence } = await armedFence({ endpoints: [dead, ...plain.endpoints] }, lease, events);
    const t0 = Date.now();
    fence.abandon();
    const revoked = await until(() => events.find((e) => e.type === 'revoked'), 10_000, 'revoked');
    const took = Date.now() - t0;
    expect(revoked).toMatchObject({ lease, endpoint: plain.endpoints[0] });
    const order = events.map((e) => e.type);
    expect(order.indexOf('fenced')).toBeLessThan(order.indexOf('revoked'));
    expect(await keyExists(plain, key)).toBe(false);
    console.log(
      `fence: postmaster stopped and lease revoked ${took} ms after the agent's pipe closed (fence says ${revoked.type === 'revoked' ? revoked.tookMs : '?'} ms for the revocation)`,
    );
  });

  it('over TLS with a password (never in argv), through the gateway and through etcdctl: revoked; a wrong password revokes nothing', async () => {
    for (const etcd of [tlsAuth, secure]) {
      const key = `/service/revoke-${etcd === secure ? 'cn' : 'tls'}/leader`;
      const lease = await leaderKey(etcd, key);
      expect(await revokeOnce(access(etcd), lease)).toMatchObject({ type: 'revoked', lease, endpoint: etcd.endpoints[0] });
      expect(await keyExists(etcd, key)).toBe(false);

      const lease2 = await leaderKey(etcd, `${key}2`);
      expect(await revokeOnce(access(etcd, 'not-the-password'), lease2)).toEqual({
        type: 'revoke_failed',
        lease: lease2,
        reason: etcd === secure ? 'gateway_refuses_cn' : 'auth_failed',
      });
      expect(await keyExists(etcd, `${key}2`)).toBe(true);
    }
  });

  it('negative control: the postmaster was already gone when the fence acted (nothing proven): nothing revoked', async () => {
    const key = '/service/revoke4/leader';
    const lease = await leaderKey(plain, key);
    const events: FenceEvent[] = [];
    const { fence, pm } = await armedFence({ endpoints: plain.endpoints }, lease, events);
    process.kill(pm, 'SIGKILL');
    await until(() => (fakes.some((f) => f.pid === pm && f.exitCode === null && f.signalCode === null) ? undefined : true), 5000, 'fake postmaster exit');
    fence.abandon();
    await until(() => events.find((e) => e.type === 'bye'), 10_000, 'bye');
    expect(events.find((e) => e.type === 'skipped')).toMatchObject({ postmasterPid: pm, reason: 'postmaster_gone' });
    expect(events.some((e) => e.type === 'revoked' || e.type === 'revoke_failed')).toBe(false);
    expect(await keyExists(plain, key)).toBe(true);
  });

  it('disarmed or lease forgotten: a stop by timeout revokes nothing it was not told about', async () => {
    const key = '/service/revoke5/leader';
    const lease = await leaderKey(plain, key);
    const events: FenceEvent[] = [];
    const { fence } = await armedFence({ endpoints: plain.endpoints }, lease, events);
    fence.setLease(undefined);
    fence.abandon();
    await until(() => events.find((e) => e.type === 'bye'), 10_000, 'bye');
    expect(events.some((e) => e.type === 'fenced')).toBe(true);
    expect(events.some((e) => e.type === 'revoked' || e.type === 'revoke_failed')).toBe(false);
    expect(await keyExists(plain, key)).toBe(true);
  });

  it('refuses a bad etcd access configuration', async () => {
    await expect(startFence({ timeoutMs: 1000, etcd: { endpoints: [] } })).rejects.toMatchObject({ code: 'invalid_fence_config' });
    await expect(startFence({ timeoutMs: 1000, etcd: { endpoints: ['127.0.0.1:2379'] } })).rejects.toMatchObject({ code: 'invalid_fence_config' });
    await expect(startFence({ timeoutMs: 1000, etcd: { endpoints: ['http://a b'] } })).rejects.toMatchObject({ code: 'invalid_fence_config' });
    const fence = await startFence({ timeoutMs: 1000, etcd: { endpoints: plain.endpoints } });
    fences.push(fence);
    expect(() => fence.setLease('12; rm -rf /')).toThrow(/decimal/);
  });
});

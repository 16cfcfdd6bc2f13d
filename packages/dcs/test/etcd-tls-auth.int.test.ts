import { PgToolsError } from '@pgtools/core';
import { startEtcd, type EtcdCluster } from '@pgtools/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DCS_ERROR, EtcdDcs, type ClusterView, type EtcdDcsOptions } from '../src/index.js';
import { eventually, memberData, recordingLogger, uniqueScope } from './support.js';

// One etcd with client TLS, client certificates required (--client-cert-auth) and authentication
// on: Patroni's etcd3 `protocol: https`, `cacert`, `cert`, `key`, `username`, `password`.
const PASSWORD = 'etcd-Pa55-word-7f3a';

let etcd: EtcdCluster;
const created: EtcdDcs[] = [];

function make(options: Partial<EtcdDcsOptions> & Pick<EtcdDcsOptions, 'scope' | 'name'>): EtcdDcs {
  const dcs = new EtcdDcs({ hosts: etcd.hosts, ttl: 10, callTimeoutMs: 3000, ...options });
  created.push(dcs);
  return dcs;
}

const tls = (): NonNullable<EtcdDcsOptions['tls']> => ({ ca: etcd.tls!.ca, cert: etcd.tls!.cert, key: etcd.tls!.key });
const auth = { username: 'patroni', password: PASSWORD };

async function failure(promise: Promise<unknown>): Promise<PgToolsError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(PgToolsError);
    return err as PgToolsError;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  etcd = await startEtcd({ tls: { clientCertAuth: true }, auth: { users: [{ name: 'patroni', password: PASSWORD, prefix: '/service/' }] } });
});

afterEach(async () => {
  await Promise.allSettled(created.splice(0).map((d) => d.close()));
});

afterAll(async () => {
  await etcd?.destroy();
});

describe('EtcdDcs against etcd with TLS, client certificates and authentication', () => {
  it('starts a TLS etcd with auth enabled and a root user etcdctl runs as', async () => {
    expect(etcd.protocol).toBe('https');
    expect(etcd.endpoints.every((e) => e.startsWith('https://'))).toBe(true);
    expect(etcd.tls?.ca).toMatch(/BEGIN CERTIFICATE/);
    // Listing users needs root: the helper authenticates (anonymous access is tested below).
    expect((await etcd.etcdctl(['user', 'list'])).split('\n')).toEqual(expect.arrayContaining(['patroni', 'root']));
  });

  it('elects a leader, writes members and follows the watch over TLS as an authenticated user', async () => {
    const scope = uniqueScope('tls');
    const a = make({ scope, name: 'node1', tls: tls(), auth });
    const b = make({ scope, name: 'node2', tls: tls(), auth, hosts: etcd.endpoints });
    expect(await a.touchMember(memberData(5432, 'master', 100))).toBe(true);
    expect(await b.touchMember(memberData(5433, 'replica', 90))).toBe(true);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    expect(await b.attemptToAcquireLeader()).toBe(false);

    const woken: ClusterView[] = [];
    const stop = b.watch((view) => woken.push(view));
    await eventually(() => (b.cachedView() ? true : undefined), 10_000, 'the watch cache');
    expect((await b.currentView()).leader?.name).toBe('node1');
    expect(await a.deleteLeader()).toBe(true);
    await eventually(() => (woken.some((v) => v.leader === undefined) ? true : undefined), 10_000, 'a wake-up for the released leader key');
    stop();

    const view = await a.loadCluster();
    expect(view.members.map((m) => m.name)).toEqual(['node1', 'node2']);
    // The keys are where patronictl looks for them, readable by root through etcdctl too.
    expect(await etcd.etcdctl(['get', '--keys-only', `/service/${scope}/members/node1`])).toContain(`/service/${scope}/members/node1`);
  });

  it('reports a wrong password as dcs_auth_failed naming the host, without echoing the password', async () => {
    const logger = recordingLogger();
    const dcs = make({ scope: uniqueScope('badpw'), name: 'node1', tls: tls(), auth: { username: 'patroni', password: 'not-the-password-91c' }, logger });
    const err = await failure(dcs.loadCluster());
    expect(err.code).toBe(DCS_ERROR.authFailed);
    expect(err.message).toContain(etcd.hosts[0]);
    expect(err.message).toMatch(/authentication failed/);
    expect(err.hint).toMatch(/etcd3\.username and etcd3\.password/);
    const everything = `${err.message} ${err.hint} ${JSON.stringify(logger.lines)}`;
    expect(everything).not.toContain('not-the-password-91c');
  });

  it('reports missing credentials and a user without permission on the namespace as dcs_auth_failed', async () => {
    // Without TLS client certificates, etcd says "user name is empty".
    const plain = await startEtcd({ auth: { users: [{ name: 'patroni', password: PASSWORD }] } });
    try {
      const nobody = new EtcdDcs({ hosts: plain.hosts, scope: uniqueScope('anon'), name: 'node1', ttl: 10, callTimeoutMs: 3000 });
      created.push(nobody);
      const refused = await failure(nobody.loadCluster());
      expect(refused.code).toBe(DCS_ERROR.authFailed);
      expect(refused.message).toContain(plain.hosts[0]);
      expect(refused.hint).toMatch(/authentication enabled/);
    } finally {
      await plain.destroy();
    }
    // With a client certificate etcd takes its CN as the user name, which has no role.
    const anonymous = make({ scope: uniqueScope('anon'), name: 'node1', tls: tls() });
    const err = await failure(anonymous.loadCluster());
    expect(err.code).toBe(DCS_ERROR.authFailed);
    expect(err.message).toContain(etcd.hosts[0]);
    // The user may only touch /service/: another namespace is refused.
    const elsewhere = make({ scope: uniqueScope('ns'), namespace: 'other', name: 'node1', tls: tls(), auth });
    const denied = await failure(elsewhere.touchMember(memberData(5432, 'replica', 1)));
    expect(denied.code).toBe(DCS_ERROR.authFailed);
    expect(denied.message).toMatch(/permission denied/);
  });

  it('reports an unknown CA as dcs_tls_failed naming the host', async () => {
    // No CA given: the system roots do not know the test CA.
    const systemRoots = make({ scope: uniqueScope('noca'), name: 'node1', hosts: etcd.endpoints, auth });
    const err = await failure(systemRoots.loadCluster());
    expect(err.code).toBe(DCS_ERROR.tlsFailed);
    expect(err.message).toContain(etcd.hosts[0]);
    expect(err.message).toMatch(/certificate/);
    expect(err.hint).toMatch(/etcd3\.cacert/);
    // The wrong CA (here the client certificate, which signed nothing) fails the same way.
    const wrongCa = make({ scope: uniqueScope('wrongca'), name: 'node1', tls: { ca: etcd.tls!.cert, cert: etcd.tls!.cert, key: etcd.tls!.key }, auth });
    const err2 = await failure(wrongCa.loadCluster());
    expect(err2.code).toBe(DCS_ERROR.tlsFailed);
    expect(err2.message).toContain(etcd.hosts[0]);
  });

  it('fails within the deadline, naming the host and hinting at etcd3.cert, without a client certificate', async () => {
    const started = Date.now();
    const dcs = make({ scope: uniqueScope('nocert'), name: 'node1', tls: { ca: etcd.tls!.ca }, auth, callTimeoutMs: 2000 });
    const err = await failure(dcs.loadCluster());
    expect(Date.now() - started).toBeLessThan(5000);
    // gRPC usually reports etcd's "bad certificate" alert; when the connection closes before it
    // does, only "no connection established" is known: both name the host and point at etcd3.cert.
    expect([DCS_ERROR.unavailable, DCS_ERROR.tlsFailed]).toContain(err.code);
    expect(err.message).toContain(etcd.hosts[0]);
    expect(err.hint).toMatch(/etcd3\.cert and etcd3\.key/);
  });

  it('refuses a client certificate without its key at construction', () => {
    expect(() => new EtcdDcs({ hosts: etcd.hosts, scope: 'x', name: 'n', ttl: 10, tls: { ca: etcd.tls!.ca, cert: etcd.tls!.cert } })).toThrow(
      /tls\.cert and tls\.key/,
    );
  });
});

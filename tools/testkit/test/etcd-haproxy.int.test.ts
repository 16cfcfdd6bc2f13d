import { describe, expect, it } from 'vitest';
import { startEtcd, startHaproxy, waitFor } from '../src/index.js';

async function put(endpoint: string, key: string, value: string): Promise<void> {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const res = await fetch(`${endpoint}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(key), value: b64(value) }) });
  expect(res.ok).toBe(true);
}

async function get(endpoint: string, key: string): Promise<string | undefined> {
  const res = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(key).toString('base64') }) });
  const body = (await res.json()) as { kvs?: Array<{ value: string }> };
  const v = body.kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
}

describe('startEtcd', () => {
  it('runs a single member on loopback', async () => {
    const etcd = await startEtcd();
    try {
      expect(etcd.endpoints).toHaveLength(1);
      expect(etcd.endpoints[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await put(etcd.endpoints[0]!, '/k', 'v');
      expect(await get(etcd.endpoints[0]!, '/k')).toBe('v');
    } finally {
      await etcd.destroy();
    }
  });

  it('runs a 3-member cluster that replicates and survives one member down', async () => {
    const etcd = await startEtcd({ members: 3 });
    try {
      await put(etcd.endpoints[0]!, '/replicated', 'yes');
      expect(await get(etcd.endpoints[2]!, '/replicated')).toBe('yes');
      const pid = etcd.members[0]!.process.pid;
      await etcd.members[0]!.stop();
      expect(() => process.kill(pid, 0)).toThrow();
      // If the stopped member led raft, the two left answer "leader changed" until they elect one.
      await waitFor(
        () =>
          put(etcd.endpoints[1]!, '/quorum', 'kept').then(
            () => true,
            () => false,
          ),
        { timeoutMs: 10_000, intervalMs: 200, describe: () => 'a write on the two members left' },
      );
      expect(await get(etcd.endpoints[2]!, '/quorum')).toBe('kept');
    } finally {
      await etcd.destroy();
    }
  });
});

describe('startHaproxy', () => {
  it('starts HAProxy from the generated seed layout and serves its stats page', async () => {
    const proxy = await startHaproxy({ nodes: [{ name: 'pg1', pgPort: 1, apiPort: 2 }], interMs: 1000 });
    try {
      expect(proxy.config).toContain('option httpchk OPTIONS /primary');
      expect(proxy.config).toContain('option httpchk OPTIONS /replica');
      const res = await fetch(`http://127.0.0.1:${proxy.statsPort}/;csv`);
      const csv = await res.text();
      expect(csv).toContain('primary,pg1');
      expect(csv).toContain('replicas,pg1');
    } finally {
      await proxy.destroy();
    }
    expect(proxy.process.isRunning()).toBe(false);
  });
});

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';

// EtcdDcs calls etcd3's raw RPC client (`client.kv.range` / `client.kv.txn`: a quorum
// read of the leader key and compare-and-swap transactions its high-level API cannot express). That
// surface is not covered by etcd3's semver promise, so the version is pinned and checked here.
const require = createRequire(import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };

describe('etcd3, whose raw KV client EtcdDcs uses', () => {
  it('is pinned to an exact version, and that version is the one installed', () => {
    const pinned = manifest.dependencies.etcd3;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect((require('etcd3/package.json') as { version: string }).version).toBe(pinned);
  });

  it('still has kv.range and kv.txn taking a deadline option', async () => {
    const client = new Etcd3({ hosts: '127.0.0.1:9' });
    try {
      expect(typeof client.kv.range).toBe('function');
      expect(typeof client.kv.txn).toBe('function');
      // No server there: the call must fail by its deadline, not hang.
      await expect(client.kv.range({ key: Buffer.from('x') }, { deadline: new Date(Date.now() + 200) })).rejects.toThrow();
    } finally {
      client.close();
    }
  });
});

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createNetwork, startEtcd, waitFor, type NetHost } from '../src/index.js';

const run = promisify(execFile);

async function etcdctl(host: NetHost, endpoint: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', host.netns, 'etcdctl', `--endpoints=${endpoint}`, '--command-timeout=2s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return stdout.trim();
}

async function namespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

const root = typeof process.getuid === 'function' && process.getuid() === 0;

describe.runIf(root)('test network in namespaces', () => {
  it('runs a 3-member etcd across three hosts; a partition really cuts a host off, heal reconnects it', async () => {
    const net = await createNetwork({ hosts: 3 });
    const etcd = await startEtcd({ members: 3, network: net });
    try {
      const [h1, h2, h3] = net.hosts as [NetHost, NetHost, NetHost];
      expect(etcd.hosts).toEqual(['10.251.0.1:2379', '10.251.0.2:2379', '10.251.0.3:2379']);
      await etcdctl(h1, etcd.endpoints[0]!, 'put', '/k', 'before');
      expect(await etcdctl(h3, etcd.endpoints[2]!, 'get', '/k', '--print-value-only')).toBe('before');

      await h1.partition();
      // The cut-off host cannot reach the others, and its member has no quorum.
      await expect(etcdctl(h1, etcd.endpoints[1]!, 'get', '/k')).rejects.toThrow();
      await expect(etcdctl(h1, etcd.endpoints[0]!, 'put', '/k', 'isolated')).rejects.toThrow();
      // The majority side still works.
      await waitFor(async () => (await etcdctl(h2, etcd.endpoints[1]!, 'put', '/k', 'majority')) === 'OK', { timeoutMs: 15_000 });

      await h1.heal();
      await waitFor(async () => (await etcdctl(h1, etcd.endpoints[0]!, 'get', '/k', '--print-value-only', '--consistency=l')) === 'majority', {
        timeoutMs: 20_000,
        describe: () => 'the healed member to catch up',
      });
    } finally {
      await etcd.destroy();
      await net.destroy();
    }
    const left = await namespaces();
    for (const h of net.hosts) expect(left).not.toContain(h.netns);
  });
});

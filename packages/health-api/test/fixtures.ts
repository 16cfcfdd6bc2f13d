import { request } from 'node:http';
import type { NodeState } from '../src/index.js';

export const MB = 1024 * 1024;

export function primaryState(over: Partial<NodeState> = {}): NodeState {
  return {
    name: 'node1',
    scope: 'stampede',
    isLeader: true,
    dcsAvailable: true,
    clusterUnlocked: false,
    dcsLastSeen: 1_700_000_000,
    clusterOptime: 50 * MB,
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    postgres: {
      state: 'running',
      role: 'primary',
      serverVersion: 150004,
      postmasterStartTime: '2021-05-24 14:50:11.707 UTC',
      timeline: 2,
      xlog: { location: 50 * MB },
      systemIdentifier: '6965869170583425899',
    },
    ...over,
  };
}

export function replicaState(over: Partial<NodeState> = {}, lagBytes = 0): NodeState {
  return {
    name: 'node2',
    scope: 'stampede',
    isLeader: false,
    dcsAvailable: true,
    clusterUnlocked: false,
    dcsLastSeen: 1_700_000_000,
    clusterOptime: 50 * MB,
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    postgres: {
      state: 'running',
      role: 'replica',
      serverVersion: 150004,
      timeline: 2,
      xlog: { receivedLocation: 50 * MB - lagBytes, replayedLocation: 50 * MB - lagBytes, replayedTimestamp: null, paused: false },
      systemIdentifier: '6965869170583425899',
      replicationState: 'streaming',
    },
    ...over,
  };
}

/** A raw request, to see exactly what HAProxy sees (status line, headers, body bytes). */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startHaproxy, waitFor, type Haproxy } from '@pgtools/testkit';
import { createHealthApi, type HealthApi, type NodeState } from '../src/index.js';
import { primaryState, replicaState } from './fixtures.js';

/** Server status per `proxy/server` from HAProxy's stats CSV (`# pxname,svname,...,status,...`). */
async function haproxyStatus(statsPort: number): Promise<Record<string, string>> {
  const text = await (await fetch(`http://127.0.0.1:${statsPort}/;csv`)).text();
  const [header, ...rows] = text.trim().split('\n');
  const cols = (header ?? '').replace(/^# /, '').split(',');
  const px = cols.indexOf('pxname');
  const sv = cols.indexOf('svname');
  const st = cols.indexOf('status');
  const out: Record<string, string> = {};
  for (const row of rows) {
    const f = row.split(',');
    out[`${f[px]}/${f[sv]}`] = f[st] ?? '';
  }
  return out;
}

describe('HAProxy health checks against the REST API', () => {
  const states: Record<string, NodeState> = { node1: primaryState({ name: 'node1' }), node2: replicaState({ name: 'node2' }) };
  const apis: HealthApi[] = [];
  let proxy: Haproxy | undefined;

  beforeAll(async () => {
    for (const name of ['node1', 'node2']) {
      const api = createHealthApi({ listen: '127.0.0.1:0', getState: () => states[name]! });
      await api.start();
      apis.push(api);
    }
    proxy = await startHaproxy({
      nodes: [
        { name: 'node1', pgPort: await freePort(), apiPort: apis[0]!.address!.port },
        { name: 'node2', pgPort: await freePort(), apiPort: apis[1]!.address!.port },
      ],
      interMs: 200,
      rise: 1,
      fall: 1,
    });
  });

  afterAll(async () => {
    await proxy?.destroy();
    for (const api of apis) await api.stop();
  });

  const expectLayout = async (want: Record<string, string>): Promise<void> => {
    let last: Record<string, string> = {};
    await waitFor(
      async () => {
        last = await haproxyStatus(proxy!.statsPort);
        return Object.entries(want).every(([k, v]) => last[k] === v);
      },
      { timeoutMs: 15_000, describe: () => `HAProxy status ${JSON.stringify(last)}, wanted ${JSON.stringify(want)}` },
    );
    for (const [k, v] of Object.entries(want)) expect([k, last[k]]).toEqual([k, v]);
  };

  it('routes the writer port to the primary and the reader port to the replica', async () => {
    await expectLayout({ 'primary/node1': 'UP', 'primary/node2': 'DOWN', 'replicas/node1': 'DOWN', 'replicas/node2': 'UP' });
  });

  it('follows a role change (switchover)', async () => {
    states.node1 = replicaState({ name: 'node1' });
    states.node2 = primaryState({ name: 'node2' });
    await expectLayout({ 'primary/node1': 'DOWN', 'primary/node2': 'UP', 'replicas/node1': 'UP', 'replicas/node2': 'DOWN' });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@pgtools/core';
import { EtcdDcs, type ClusterView } from '@pgtools/dcs';
import { createWatchdog } from '@pgtools/watchdog';
import { parseConfig, type HaAgentEvent } from '../src/index.js';
import { Failsafe, LeaderLease } from '../src/internals.js';
import { AgentRunState } from '../src/agent/agent-state.js';
import type { PgStatus } from '../src/postgres/pg-status.js';
import { MINIMAL } from './minimal-config.js';

// The agent's side of failsafe mode without a cluster: what POST /failsafe answers, which failsafe
// key the primary asks after, and what a kept primary feeds. The decisions are in decide.test.ts.

const T0 = Date.parse('2024-05-01T12:00:00Z');
const opened: EtcdDcs[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

function setup(failsafeMode = true) {
  let now = T0;
  const { config } = parseConfig(MINIMAL, {});
  const state = new AgentRunState(config, { ...config.bootstrap.dcs, failsafeMode });
  const lease = new LeaderLease(() => now);
  // Never contacted here: publish() is covered by failsafe.int.test.ts on a real etcd.
  const dcs = new EtcdDcs({ hosts: ['127.0.0.1:1'], scope: 'demo', name: 'n1', ttl: 30 });
  opened.push(dcs);
  const events: HaAgentEvent[] = [];
  const failsafe = new Failsafe({
    state,
    lease,
    dcs,
    watchdog: createWatchdog({ mode: 'off', ttl: 30, loopWait: 10 }),
    fence: undefined,
    logger: silentLogger,
    emit: (e) => events.push(e),
    memberData: () => ({ api_url: 'http://127.0.0.1:8008/patroni', conn_url: 'postgres://127.0.0.1:5432/postgres' }),
    now: () => now,
  });
  return { state, lease, failsafe, events, advance: (ms: number) => (now += ms) };
}

const status = (inRecovery: boolean): PgStatus => ({
  inRecovery,
  timeline: 1,
  serverVersion: 150004,
  systemId: '7300',
  replication: [],
  ...(inRecovery ? { receivedLsn: 5000, replayedLsn: 4000 } : { walPosition: 5000 }),
});

const view = (failsafe?: Record<string, string>): ClusterView => ({
  revision: 10,
  members: [],
  problems: [],
  ...(failsafe ? { failsafe: { value: failsafe, modRevision: 9 } } : {}),
});

describe('Failsafe (the agent side of failsafe_mode)', () => {
  it('POST /failsafe: a replica accepts and reports its WAL position; a running primary refuses; off answers 502', async () => {
    const { state, failsafe, advance } = setup();
    state.pgState = 'running';
    state.pgStatus = status(true);
    expect(await failsafe.receive({})).toMatchObject({ status: 400 });
    expect(await failsafe.receive({ name: 'n2', api_url: 'http://h2:8008/patroni' })).toEqual({ status: 200, body: 'Accepted', headers: { lsn: '5000' } });
    expect(failsafe.facts(undefined).leader).toEqual({ name: 'n2', at: T0 });
    expect(failsafe.active).toBe(true);
    advance(30_000);
    expect(failsafe.active).toBe(false);

    state.pgStatus = status(false);
    expect(await failsafe.receive({ name: 'n2' })).toEqual({ status: 500, body: 'Running as a leader' });
    expect(failsafe.facts(undefined).leader).toEqual({ name: 'n2', at: T0 });

    const off = setup(false);
    expect(await off.failsafe.receive({ name: 'n2' })).toMatchObject({ status: 502 });
  });

  it('the failsafe key: taken from a fresh view, kept while etcd cannot be read, gone when the key is', async () => {
    const { failsafe } = setup();
    const three = { n1: 'http://h1:8008/patroni', n2: 'http://h2:8008/patroni', n3: 'http://h3:8008/patroni' };
    expect(failsafe.facts(view(three)).topology).toEqual(['n1', 'n2', 'n3']);
    expect(failsafe.facts(undefined).topology).toEqual(['n1', 'n2', 'n3']);
    expect(await failsafe.topologyAnswer()).toEqual({ status: 200, body: three });
    expect(failsafe.facts(view()).topology).toBeUndefined();
    expect(await failsafe.topologyAnswer()).toMatchObject({ status: 502 });
  });

  it('failsafe_keep feeds the lease guard from before the posts for ttl; another decision ends it', () => {
    const { lease, failsafe, events, advance } = setup();
    lease.granted(T0, 30);
    advance(25_000);
    const sentAt = T0 + 25_000;
    advance(1500); // the posts took 1.5 s
    const keep = { kind: 'failsafe_keep', message: 'continue to run as a leader because failsafe mode is enabled and all members are accessible' } as const;
    failsafe.settle(keep, sentAt);
    expect(lease.held).toBe(true);
    expect(lease.expiresAt).toBe(sentAt + 30_000);
    failsafe.settle(keep, sentAt);
    expect(events).toEqual([{ type: 'failsafe', active: true, reason: keep.message }]);
    expect(failsafe.active).toBe(true);
    failsafe.settle({ kind: 'wait', retrySoon: true, message: 'DCS is not accessible; keeping the primary while the leader lease is valid' }, sentAt + 4000);
    expect(lease.expiresAt).toBe(sentAt + 30_000);
    expect(events.at(-1)).toMatchObject({ type: 'failsafe', active: false });
    expect(failsafe.active).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import type { ClusterView, Member } from '@pgtools/dcs';
import { PassThrough, Writable } from 'node:stream';
import { demoteClusterCommand, promoteClusterCommand } from '../src/hactl-cmd-cluster-role.js';
import { runHactl } from '../src/hactl.js';
import type { CtlContext, CtlDcs } from '../src/hactl-context.js';

// demote-cluster / promote-cluster against a scripted etcd view and REST API: what is sent, what
// is printed while the cluster changes role, and the refusals (patronictl 4.1's change_cluster_role).

function member(name: string, role: string, state = 'running', port = 5432): Member {
  return { name, modRevision: 1, data: { conn_url: `postgres://127.0.0.1:${port}/postgres`, api_url: `http://127.0.0.1:${port + 3000}/patroni`, role, state } };
}

function view(leader: string | undefined, members: Member[], standby?: Record<string, unknown>): ClusterView {
  const v: ClusterView = {
    revision: 1,
    members,
    problems: [],
    initialize: '7300',
    config: { value: standby ? { standby_cluster: standby } : {}, modRevision: 1 },
  };
  const m = members.find((x) => x.name === leader);
  if (leader !== undefined) v.leader = { name: leader, modRevision: 1, ...(m ? { member: m } : {}) };
  return v;
}

function context(views: ClusterView[], answer = { status: 200, body: '{}' }, confirm = true) {
  const out: string[] = [];
  const calls: Array<{ url: string; method: string; endpoint: string | undefined; data: unknown }> = [];
  let i = 0;
  const dcs: CtlDcs = {
    loadCluster: async () => views[Math.min(i++, views.length - 1)] as ClusterView,
    setConfig: async () => true,
    clearFailover: async () => true,
    deleteCluster: async () => true,
    close: async () => undefined,
  };
  const ctx = {
    config: { namespace: '/service/', rest: { insecure: false } },
    out: (t: string) => void out.push(t),
    err: (t: string) => void out.push(t),
    prompter: { prompt: async () => '', confirm: async () => confirm, close: () => undefined },
    rest: {
      request: async (url: string, method: string, endpoint?: string, data?: unknown) => {
        calls.push({ url, method, endpoint, data });
        return answer;
      },
    },
    openDcs: () => dcs,
    now: () => new Date(2026, 0, 2, 3, 4, 5),
    version: '0.0.0',
    sleep: async () => undefined,
    clear: () => undefined,
  } as unknown as CtlContext;
  return { ctx, out, calls };
}

describe('hactl promote-cluster', () => {
  it('PATCHes standby_cluster away on the leader and waits for a running primary', async () => {
    const standby = { host: '10.0.0.1', port: 5432 };
    const before = view('dr1', [member('dr1', 'standby_leader'), member('dr2', 'replica', 'running', 5433)], standby);
    const during = view('dr1', [member('dr1', 'standby_leader'), member('dr2', 'replica', 'running', 5433)]);
    const after = view('dr1', [member('dr1', 'master'), member('dr2', 'replica', 'running', 5433)]);
    const { ctx, out, calls } = context([before, during, after]);
    expect(await promoteClusterCommand(ctx, { cluster: 'dr', force: true })).toBe(0);
    expect(calls).toEqual([{ url: 'http://127.0.0.1:8432/patroni', method: 'PATCH', endpoint: 'config', data: { standby_cluster: null } }]);
    const text = out.join('');
    expect(text).toMatch(/^Current cluster topology\n/);
    expect(text).toContain('| dr1    | 127.0.0.1:5432 | Standby Leader |');
    expect(text).toContain('2026-01-02 03:04:05 cluster is unlocked: False, leader role: standby_leader, leader state: running\n');
    expect(text).toContain('2026-01-02 03:04:05 cluster is successfully promoted\n');
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/^\+/);
  });

  it('refuses without a leader, in the target role already, or when not confirmed', async () => {
    await expect(promoteClusterCommand(context([view(undefined, [member('dr1', 'replica')])]).ctx, { cluster: 'dr', force: true })).rejects.toThrow(
      'Cluster has no leader, promotion is not possible',
    );
    await expect(promoteClusterCommand(context([view('pg1', [member('pg1', 'master')])]).ctx, { cluster: 'pg', force: true })).rejects.toThrow(
      'Cluster is already in the required state',
    );
    const unsure = context([view('dr1', [member('dr1', 'standby_leader')], { host: 'a' })], undefined, false);
    await expect(promoteClusterCommand(unsure.ctx, { cluster: 'dr', force: false })).rejects.toThrow('Aborted cluster promotion');
    expect(unsure.calls).toEqual([]);
  });

  it('reports a refused PATCH as patronictl does (its message, prefixed twice)', async () => {
    const { ctx } = context([view('dr1', [member('dr1', 'standby_leader')], { host: 'a' })], { status: 400, body: 'nope' });
    await expect(promoteClusterCommand(ctx, { cluster: 'dr', force: true })).rejects.toThrow(
      'Failed to promote dr cluster: Failed to promote dr cluster: /config PATCH status code=400, (nope)',
    );
  });
});

describe('hactl demote-cluster', () => {
  it('needs --host, --port or --restore-command', async () => {
    await expect(demoteClusterCommand(context([]).ctx, { cluster: 'pg', force: true, primarySlotName: 'x' })).rejects.toThrow(
      'At least --host, --port or --restore-command should be specified',
    );
  });

  it('PATCHes standby_cluster on the leader and waits for the old leader to run as standby leader', async () => {
    const before = view('pg1', [member('pg1', 'master'), member('pg2', 'replica', 'running', 5433)]);
    const stopping = view('pg1', [member('pg1', 'demoted', 'stopping'), member('pg2', 'replica', 'running', 5433)]);
    const after = view('pg1', [member('pg1', 'standby_leader'), member('pg2', 'replica', 'running', 5433)], { host: '10.0.1.5' });
    const { ctx, out, calls } = context([before, stopping, after]);
    expect(await demoteClusterCommand(ctx, { cluster: 'pg', force: true, host: '10.0.1.5', port: 5433, primarySlotName: 'dc2' })).toBe(0);
    expect(calls[0]?.data).toEqual({ standby_cluster: { host: '10.0.1.5', port: 5433, primary_slot_name: 'dc2' } });
    const text = out.join('');
    expect(text).toContain('cluster is unlocked: False, leader role: demoted, leader state: stopping\n');
    expect(text).toContain('2026-01-02 03:04:05 cluster is successfully demoted\n');
  });
});

describe('demote-cluster and promote-cluster on the command line', () => {
  async function run(argv: string[]): Promise<{ code: number; text: string }> {
    let text = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    });
    const stdin = new PassThrough();
    stdin.end();
    const code = await runHactl(argv, { stdout: sink, stderr: sink, stdin, env: { HOME: '/nonexistent' } });
    return { code, text };
  }

  it('checks --port and the remote before reaching etcd, and asks unless --force', async () => {
    const port = await run(['-d', '127.0.0.1:1', 'demote-cluster', 'pg', '--host', 'a', '--port', 'five']);
    expect(port.code).toBe(2);
    expect(port.text).toContain("Invalid value for '--port': 'five' is not a valid integer.");
    for (const bad of ['0', '65536', '99999']) {
      const out = await run(['-d', '127.0.0.1:1', 'demote-cluster', 'pg', '--host', 'a', '--port', bad]);
      expect(out.code).toBe(2);
      expect(out.text).toContain(`Invalid value for '--port': ${Number(bad)} is not in the range 1<=x<=65535.`);
    }
    const none = await run(['-d', '127.0.0.1:1', 'demote-cluster', 'pg', '--force']);
    expect(none).toEqual({ code: 1, text: 'Error: At least --host, --port or --restore-command should be specified\n' });
    const help = await run(['promote-cluster', '--help']);
    expect(help.text).toContain('Usage: hactl promote-cluster [OPTIONS] [CLUSTER_NAME]');
  });
});

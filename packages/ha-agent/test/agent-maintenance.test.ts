import { describe, expect, it, vi } from 'vitest';
import type { RestartRequest } from '@pgtools/health-api';
import { MaintenanceQueue, type MaintenanceHost } from '../src/internals.js';

function host(over: Partial<MaintenanceHost> = {}): MaintenanceHost & { restarts: number[]; wipes: number; wakes: number } {
  const h = {
    name: 'n2',
    restarts: [] as number[],
    wipes: 0,
    wakes: 0,
    role: () => 'replica' as const,
    serverVersion: () => 150004,
    pendingRestart: async () => false,
    leader: () => 'n1',
    restartPostgres: async (timeoutMs: number) => {
      h.restarts.push(timeoutMs);
      return true;
    },
    wipeDataDir: async () => {
      h.wipes++;
    },
    wake: () => {
      h.wakes++;
    },
    log: () => undefined,
    ...over,
  };
  return h;
}

/** Runs a handler while a fake loop drains the queue, as the agent's loop does. */
async function viaLoop<T>(q: MaintenanceQueue, call: () => Promise<T>): Promise<T> {
  const p = call();
  await q.runDue();
  return p;
}

describe('MaintenanceQueue', () => {
  it("answers Patroni's 503 while a replica is being made; reinitialize with force cancels it first", async () => {
    let running: string | undefined = "bootstrap from leader 'n1'";
    const h = host({ longAction: () => running, cancelLongAction: async () => void (running = undefined) });
    const q = new MaintenanceQueue(h);
    expect(await q.handlers().restart!({})).toEqual({ status: 503, body: "bootstrap from leader 'n1' already in progress" });
    expect(await q.handlers().reinitialize!({ force: false })).toEqual({ status: 503, body: "bootstrap from leader 'n1' already in progress" });
    expect(h.wipes).toBe(0);
    const forced = q.handlers().reinitialize!({ force: true });
    // The cancel is awaited before the job is queued; then the loop runs it.
    await new Promise((r) => setImmediate(r));
    expect(running).toBeUndefined();
    await q.runDue();
    expect(await forced).toEqual({ status: 200, body: 'reinitialize started' });
    expect(h.wipes).toBe(1);
  });

  it.each<[RestartRequest, string]>([
    [{ role: 'primary' }, 'host role mismatch'],
    [{ postgresVersion: '15.4' }, 'running 15.4 is not older'],
    [{ postgresVersion: '15.3' }, 'running 15.4 is newer'],
    [{ restartPending: true }, 'no pending restart'],
  ])('refuses a restart whose conditions do not hold: %j (%s)', async (request) => {
    const h = host();
    const q = new MaintenanceQueue(h);
    const r = await viaLoop(q, () => q.handlers().restart!(request));
    expect(r).toEqual({ status: 503, body: 'restart conditions are not satisfied' });
    expect(h.restarts).toEqual([]);
  });

  it('restarts when the conditions hold, with the timeout in ms; a failed start is a 503', async () => {
    const h = host({ pendingRestart: async () => true });
    const q = new MaintenanceQueue(h);
    expect(await viaLoop(q, () => q.handlers().restart!({ role: 'replica', postgresVersion: '15.5', restartPending: true, timeout: 30 }))).toEqual({
      status: 200,
      body: 'restarted successfully',
    });
    expect(h.restarts).toEqual([30_000]);
    const failing = new MaintenanceQueue(host({ restartPostgres: async () => false }));
    expect(await viaLoop(failing, () => failing.handlers().restart!({}))).toEqual({ status: 503, body: 'restart failed' });
  });

  it('schedules one restart (409 for a second), shows it, deletes it (404 when none)', async () => {
    const q = new MaintenanceQueue(host());
    const at = new Date(Date.now() + 3600_000);
    expect(await q.handlers().restart!({ scheduledAt: at, role: 'replica' })).toEqual({ status: 202, body: 'Restart scheduled' });
    expect(q.scheduledRestart()).toEqual({ schedule: at.toISOString().replace('Z', '+00:00'), role: 'replica' });
    expect(await q.handlers().restart!({ scheduledAt: at })).toEqual({ status: 409, body: 'Another restart is already scheduled' });
    expect(await q.handlers().cancelRestart!()).toEqual({ status: 200, body: 'scheduled restart deleted' });
    expect(await q.handlers().cancelRestart!()).toEqual({ status: 404, body: 'no restarts are scheduled' });
    expect(q.scheduledRestart()).toBeUndefined();
  });

  it('runs a scheduled restart once it is due', async () => {
    // Only the clock is faked: a pause of the test worker must not make the restart due early.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-01-01T00:00:00Z') });
    try {
      const h = host();
      const q = new MaintenanceQueue(h);
      await q.handlers().restart!({ scheduledAt: new Date(Date.now() + 30) });
      vi.setSystemTime(Date.now() + 29);
      await q.runDue();
      expect(h.restarts).toEqual([]);
      vi.setSystemTime(Date.now() + 1);
      await q.runDue();
      expect(h.restarts).toEqual([60_000]);
      expect(q.scheduledRestart()).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('reinitialize: refused without a leader or on the leader; else wipes the data dir', async () => {
    const none = new MaintenanceQueue(host({ leader: () => undefined }));
    expect(await none.handlers().reinitialize!({ force: false })).toEqual({ status: 503, body: 'Cluster has no leader, can not reinitialize' });
    const me = new MaintenanceQueue(host({ leader: () => 'n2' }));
    expect(await me.handlers().reinitialize!({ force: false })).toEqual({ status: 503, body: 'I am the leader, can not reinitialize' });
    const h = host();
    const q = new MaintenanceQueue(h);
    expect(await viaLoop(q, () => q.handlers().reinitialize!({ force: false }))).toEqual({ status: 200, body: 'reinitialize started' });
    expect(h.wipes).toBe(1);
  });

  it('reinitialize remembers from_leader for the next clone (pg_basebackup from the leader)', async () => {
    const q = new MaintenanceQueue(host());
    await viaLoop(q, () => q.handlers().reinitialize!({ force: false, fromLeader: true }));
    expect(q.reinitFromLeader).toBe(true);
    await viaLoop(q, () => q.handlers().reinitialize!({ force: false }));
    expect(q.reinitFromLeader).toBe(false);
  });

  it('reinitialize while another operation waits: refused unless forced', async () => {
    const h = host();
    const q = new MaintenanceQueue(h);
    const pending = q.handlers().restart!({});
    expect(await q.handlers().reinitialize!({ force: false })).toEqual({ status: 503, body: 'restart already in progress' });
    const forced = q.handlers().reinitialize!({ force: true });
    await q.runDue();
    expect(await pending).toEqual({ status: 200, body: 'restarted successfully' });
    expect(await forced).toEqual({ status: 200, body: 'reinitialize started' });
  });

  it('answers waiting requests when the agent stops', async () => {
    const q = new MaintenanceQueue(host());
    const pending = q.handlers().restart!({});
    q.cancelAll();
    expect(await pending).toEqual({ status: 503, body: 'the agent is stopping' });
  });
});

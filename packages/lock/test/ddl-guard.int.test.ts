import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, waitFor, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { PgToolsError } from '@pgtools/core';
import { startDdlGuard, type DdlGuard, type DdlGuardEvent } from '../src/index.js';
import { Sessions, backendState, settle, waitUntilWaiting } from './helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let admin: pg.Pool;
let sessions: Sessions;
const guards: DdlGuard[] = [];

beforeAll(async () => {
  cluster = await startPostgres({ name: 'lock-ddl-guard' });
  db = await cluster.createDatabase();
  admin = db.pool();
  await admin.query('CREATE TABLE public.t (id int PRIMARY KEY, v text)');
  await admin.query('CREATE TABLE public.other (id int PRIMARY KEY)');
  await admin.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 100) g");
  sessions = new Sessions(db);
});

afterEach(async () => {
  await Promise.all(guards.splice(0).map((g) => g.stop()));
  await sessions.endAll();
});

afterAll(async () => {
  await cluster?.destroy();
});

/** The repack's long-lived lock: SHARE UPDATE EXCLUSIVE held in an open transaction. */
async function holder(): Promise<{ client: pg.Client; pid: number }> {
  const s = await sessions.open('repack-holder');
  await s.client.query('BEGIN');
  await s.client.query('LOCK TABLE public.t IN SHARE UPDATE EXCLUSIVE MODE');
  return s;
}

describe('DDL guard', () => {
  it('cancels an ALTER TABLE queued behind the guarded lock within a few of its polls', async () => {
    const h = await holder();
    const events: DdlGuardEvent[] = [];
    const intervalMs = 100;
    const guard = await startDdlGuard({
      connection: db.config,
      guardPid: h.pid,
      relations: [{ schema: 'public', name: 't' }],
      action: 'cancel',
      intervalMs,
      onEvent: (e) => events.push(e),
    });
    guards.push(guard);
    const ddl = await sessions.open('migration-tool');
    const started = Date.now();
    const altered = settle(ddl.client.query('ALTER TABLE public.t ADD COLUMN extra int'));
    const outcome = await altered;
    const took = Date.now() - started;
    expect(outcome.ok).toBe(false);
    expect((outcome as { error: { code?: string } }).error.code).toBe('57014');
    // The contract: a DDL waits behind our lock for a few polls at most, not for the whole repack.
    expect(took).toBeLessThan(15 * intervalMs);
    // The ALTER's error can arrive before the guard has the answer to its pg_cancel_backend.
    await waitFor(() => events.length > 0, { timeoutMs: 2000, intervalMs: 20, describe: () => 'a guard event' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'ddl-cancelled',
      action: 'cancel',
      session: { pid: ddl.pid, applicationName: 'migration-tool', mode: 'AccessExclusiveLock', relation: 'public.t', usename: 'postgres' },
    });
    expect(events[0]!.type === 'ddl-cancelled' && events[0]!.session.query).toContain('ALTER TABLE public.t ADD COLUMN extra');
    expect(guard.queuedSeen()).toEqual(events);
    // Readers pass again, and the holder still has its lock.
    const reader = await sessions.open('reader');
    expect((await reader.client.query('SELECT count(*)::int AS n FROM public.t')).rows[0].n).toBe(100);
    expect((await h.client.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await h.client.query('COMMIT');
  });

  it('report mode leaves the waiter queued but reports it once', async () => {
    const h = await holder();
    const events: DdlGuardEvent[] = [];
    const guard = await startDdlGuard({
      connection: admin,
      guardPid: h.pid,
      relations: [(await admin.query<{ oid: number }>("SELECT 'public.t'::regclass::oid::int AS oid")).rows[0]!.oid],
      action: 'report',
      intervalMs: 50,
      onEvent: (e) => events.push(e),
    });
    guards.push(guard);
    const ddl = await sessions.open('migration-tool');
    const altered = settle(ddl.client.query('ALTER TABLE public.t ADD COLUMN reported int'));
    await waitUntilWaiting(admin, ddl.pid);
    // A reader now queues behind the ALTER, not behind the guard pid: it is not reported.
    const reader = await sessions.open('reader');
    const read = settle(reader.client.query('SELECT count(*)::int AS n FROM public.t'));
    await waitUntilWaiting(admin, reader.pid);
    await waitFor(() => events.length > 0, { timeoutMs: 2000, intervalMs: 20, describe: () => 'a guard event' });
    // Several more polls: still one report.
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'ddl-queued', action: 'report', session: { pid: ddl.pid, mode: 'AccessExclusiveLock' } });
    expect(guard.queuedSeen()).toHaveLength(1);
    expect(await backendState(admin, ddl.pid)).toBe('active');
    await h.client.query('COMMIT');
    const outcome = await altered;
    expect(outcome.ok).toBe(true);
    expect(await read).toMatchObject({ ok: true, value: { rows: [{ n: 100 }] } });
    await admin.query('ALTER TABLE public.t DROP COLUMN reported');
  });

  it('ignores waiters on other tables and waiters not blocked by the guard pid', async () => {
    const h = await holder();
    const events: DdlGuardEvent[] = [];
    const guard = await startDdlGuard({
      connection: db.connectionString,
      guardPid: h.pid,
      relations: [{ schema: 'public', name: 't' }],
      action: 'cancel',
      intervalMs: 50,
      onEvent: (e) => events.push(e),
    });
    guards.push(guard);
    // Someone else blocks `other`; a DDL waits for them, not for the guard.
    const otherHolder = await sessions.open('other-holder');
    await otherHolder.client.query('BEGIN');
    await otherHolder.client.query('SELECT count(*) FROM public.other');
    const ddl = await sessions.open('ddl-on-other');
    const altered = settle(ddl.client.query('ALTER TABLE public.other ADD COLUMN x int'));
    await waitUntilWaiting(admin, ddl.pid);
    await new Promise((r) => setTimeout(r, 300));
    await guard.pollNow();
    expect(events).toEqual([]);
    await otherHolder.client.query('COMMIT');
    expect((await altered).ok).toBe(true);
    await h.client.query('COMMIT');
  });

  it('stops cleanly, closes its connection, and survives a killed connection', async () => {
    const h = await holder();
    const events: DdlGuardEvent[] = [];
    const guard = await startDdlGuard({
      connection: db.config,
      guardPid: h.pid,
      relations: [{ schema: 'public', name: 't' }],
      action: 'cancel',
      intervalMs: 50,
      applicationName: 'guard-under-test',
      onEvent: (e) => events.push(e),
    });
    const guardPids = async (): Promise<number[]> =>
      (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'guard-under-test'")).rows.map((r) => r.pid);
    const [first] = await guardPids();
    expect(first).toBeDefined();
    await admin.query('SELECT pg_terminate_backend($1)', [first]);
    // It reports the failure as an event and reconnects.
    await waitFor(
      async () => {
        const now = await guardPids();
        return now.length === 1 && now[0] !== first;
      },
      { timeoutMs: 5000, intervalMs: 50, describe: () => 'the guard to reconnect with a new backend' },
    );
    expect(events.some((e) => e.type === 'ddl-guard-error')).toBe(true);
    const [second] = await guardPids();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    // And still works after the reconnect.
    const ddl = await sessions.open('late-ddl');
    const outcome = await settle(ddl.client.query('ALTER TABLE public.t ADD COLUMN late int'));
    expect(outcome.ok).toBe(false);
    await guard.stop();
    await guard.stop();
    await waitFor(async () => (await guardPids()).length === 0, { timeoutMs: 2000, intervalMs: 20, describe: () => 'the guard backend to end' });
    await h.client.query('COMMIT');
  });

  it('refuses bad options and reports a connection failure as connection_failed', async () => {
    await expect(startDdlGuard({ connection: db.config, guardPid: 0, relations: [{ schema: 'public', name: 't' }], action: 'cancel' })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    const err = await settle(
      startDdlGuard({
        connection: { ...db.config, port: 1, connectionTimeoutMillis: 2000 },
        guardPid: 12345,
        relations: [{ schema: 'public', name: 't' }],
        action: 'report',
      }),
    );
    expect(err.ok).toBe(false);
    expect((err as { error: unknown }).error).toBeInstanceOf(PgToolsError);
    expect((err as { error: PgToolsError }).error.code).toBe('connection_failed');
  });
});

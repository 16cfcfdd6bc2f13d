import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { PgToolsError, type Logger } from '@pgtools/core';
import { acquireTableLock, findBlockers, type LockEvent } from '../src/index.js';
import { Sessions, backendState, heldModes, settle } from './helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let admin: pg.Pool;
let sessions: Sessions;

const T1 = [{ schema: 'public', name: 't' }];

beforeAll(async () => {
  cluster = await startPostgres({ name: 'lock-escalation' });
  db = await cluster.createDatabase();
  admin = db.pool();
  await admin.query('CREATE TABLE public.t (id int PRIMARY KEY, v text)');
  await admin.query('CREATE TABLE public."T 2" (id int PRIMARY KEY)');
  await admin.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 1000) g");
  sessions = new Sessions(db);
});

afterEach(async () => {
  await sessions.endAll();
});

afterAll(async () => {
  await cluster?.destroy();
});

/** A session holding ACCESS SHARE on a table in an open, idle transaction. */
async function idleReader(name: string, table = 'public.t'): Promise<{ client: pg.Client; pid: number }> {
  const s = await sessions.open(name);
  await s.client.query('BEGIN');
  await s.client.query(`SELECT count(*) FROM ${table}`);
  return s;
}

function collect(): { events: LockEvent[]; onEvent: (e: LockEvent) => void } {
  const events: LockEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (m: string): void => void lines.push(m);
  return { lines, logger: { debug: push, info: push, warn: push, error: push } };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<PgToolsError> {
  const r = await settle(p);
  expect(r.ok).toBe(false);
  const err = (r as { error: unknown }).error;
  expect(err).toBeInstanceOf(PgToolsError);
  expect((err as PgToolsError).code).toBe(code);
  return err as PgToolsError;
}

describe('acquireTableLock', () => {
  it('takes a free lock on the first try and returns with the transaction open', async () => {
    const me = await sessions.open('me');
    await me.client.query("SET lock_timeout = '9s'");
    const { events, onEvent } = collect();
    const got = await acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 500, onEvent });
    expect(got.tries).toBe(1);
    expect(got.cancelled).toEqual([]);
    expect(await heldModes(admin, me.pid, 'public.t')).toContain('AccessExclusiveLock');
    expect(await backendState(admin, me.pid)).toBe('idle in transaction');
    expect((await me.client.query('SHOW lock_timeout')).rows[0].lock_timeout).toBe('0');
    expect(events.map((e) => e.type)).toEqual(['lock-acquired']);
    await me.client.query('COMMIT');
    // SET LOCAL: the session value is back after the transaction.
    expect((await me.client.query('SHOW lock_timeout')).rows[0].lock_timeout).toBe('9s');
  });

  it('give-up: throws lock_timeout naming the blocker and leaves the reader untouched', async () => {
    const reader = await idleReader('long-reader', 'public."T 2"');
    const me = await sessions.open('me');
    const { events, onEvent } = collect();
    const { logger, lines } = recordingLogger();
    const started = Date.now();
    const err = await expectCode(
      acquireTableLock({
        client: me.client,
        relations: [...T1, { schema: 'public', name: 'T 2' }],
        mode: 'ACCESS EXCLUSIVE',
        waitTimeoutMs: 600,
        onEvent,
        logger,
      }),
      'lock_timeout',
    );
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(600);
    expect(took).toBeLessThan(5000);
    expect(err.message).toContain(`pid ${reader.pid}`);
    expect(err.message).toContain('long-reader');
    expect(lines).toContain('timed out, do not cancel conflicting backends');
    const timeout = events.find((e) => e.type === 'lock-timeout');
    expect(timeout).toBeDefined();
    if (timeout?.type !== 'lock-timeout') throw new Error('unreachable');
    expect(timeout.blockers.map((b) => [b.pid, b.mode, b.granted, b.relation, b.state])).toEqual([
      [reader.pid, 'AccessShareLock', true, 'public."T 2"', 'idle in transaction'],
    ]);
    expect(events.filter((e) => e.type === 'lock-attempt-failed').length).toBeGreaterThan(1);
    expect(events.some((e) => e.type === 'lock-waiting')).toBe(true);
    expect(events.some((e) => e.type === 'backend-cancelled' || e.type === 'backend-terminated')).toBe(false);
    // The reader is untouched, we hold nothing and are outside any transaction.
    expect(await backendState(admin, reader.pid)).toBe('idle in transaction');
    expect((await reader.client.query('SELECT count(*)::int AS n FROM public.t')).rows[0].n).toBe(1000);
    await reader.client.query('COMMIT');
    expect(await heldModes(admin, me.pid, 'public.t')).toEqual([]);
    expect(await backendState(admin, me.pid)).toBe('idle');
  });

  it('lockSql: takes the lock with another statement (a materialized view, which LOCK TABLE refuses), bounded the same way', async () => {
    await admin.query('CREATE MATERIALIZED VIEW public."M v" AS SELECT id FROM public.t');
    const mv = [{ schema: 'public', name: 'M v' }];
    const { rows: oid } = await admin.query(`SELECT 'public."M v"'::regclass::oid::int8 AS oid`);
    const lockSql = 'ALTER MATERIALIZED VIEW public."M v" RENAME TO "M v renamed"';
    const reader = await idleReader('mv-reader', 'public."M v"');
    const me = await sessions.open('me');
    const err = await expectCode(acquireTableLock({ client: me.client, relations: mv, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 300, lockSql }), 'lock_timeout');
    expect(err.message).toContain(`pid ${reader.pid}`);
    // Each failed try was rolled back: the name is still there.
    expect((await admin.query(`SELECT to_regclass('public."M v"') IS NOT NULL AS there`)).rows[0].there).toBe(true);
    await reader.client.query('COMMIT');
    const got = await acquireTableLock({ client: me.client, relations: mv, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 300, lockSql });
    expect(got.tries).toBeGreaterThanOrEqual(1);
    const { rows: held } = await admin.query(`SELECT mode FROM pg_locks WHERE pid = $1 AND relation = $2::int8::oid AND granted`, [me.pid, oid[0].oid]);
    expect(held.map((r) => r.mode)).toContain('AccessExclusiveLock');
    await me.client.query('ROLLBACK');
    await admin.query('DROP MATERIALIZED VIEW public."M v"');
  });

  it('tries grow from firstTryMs up to maxTryMs', async () => {
    await idleReader('reader');
    const me = await sessions.open('me');
    const { events, onEvent } = collect();
    await expectCode(
      acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 1000, maxTryMs: 120, firstTryMs: 20, onEvent }),
      'lock_timeout',
    );
    const lengths = events.flatMap((e) => (e.type === 'lock-attempt-failed' ? [e.tryTimeoutMs] : []));
    expect(lengths.slice(0, 4)).toEqual([20, 40, 80, 120]);
    expect(Math.max(...lengths)).toBe(120);
  });

  it('cancel: cancels the running query of the blocker, then gets the lock', async () => {
    const reader = await sessions.open('sleepy-reader');
    const running = settle(reader.client.query('SELECT pg_sleep(30) FROM public.t LIMIT 1'));
    await waitForState(reader.pid, 'active');
    const me = await sessions.open('me');
    const { events, onEvent } = collect();
    const { logger, lines } = recordingLogger();
    const got = await acquireTableLock({
      client: me.client,
      relations: T1,
      mode: 'ACCESS EXCLUSIVE',
      waitTimeoutMs: 400,
      onBlockers: 'cancel',
      onEvent,
      logger,
    });
    expect(got.waitedMs).toBeGreaterThanOrEqual(400);
    expect(got.cancelled.map((b) => b.pid)).toEqual([reader.pid]);
    expect(got.cancelled[0]!.query).toContain('pg_sleep(30)');
    expect(got.terminated).toEqual([]);
    expect(lines).toContain('canceling conflicted backends');
    expect(events.filter((e) => e.type === 'backend-cancelled').map((e) => (e.type === 'backend-cancelled' ? e.blocker.pid : 0))).toEqual([reader.pid]);
    expect(events.at(-1)).toMatchObject({ type: 'lock-acquired', tries: got.tries });
    const outcome = await running;
    expect(outcome.ok).toBe(false);
    expect((outcome as { error: { code?: string } }).error.code).toBe('57014');
    expect(await heldModes(admin, me.pid, 'public.t')).toContain('AccessExclusiveLock');
    await me.client.query('COMMIT');
    // The reader's session survives a cancel.
    expect((await reader.client.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('cancel gives up after twice waitTimeoutMs when cancelling does not help (idle in transaction)', async () => {
    const reader = await idleReader('idle-holder');
    const me = await sessions.open('me');
    const started = Date.now();
    await expectCode(
      acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 300, onBlockers: 'cancel' }),
      'lock_timeout',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(await backendState(admin, reader.pid)).toBe('idle in transaction');
  });

  it('terminate: kills an idle-in-transaction holder and gets the lock', async () => {
    const reader = await idleReader('idle-holder');
    const me = await sessions.open('me');
    const { events, onEvent } = collect();
    const { logger, lines } = recordingLogger();
    const got = await acquireTableLock({
      client: me.client,
      relations: T1,
      mode: 'ACCESS EXCLUSIVE',
      waitTimeoutMs: 300,
      onBlockers: 'terminate',
      onEvent,
      logger,
    });
    expect(got.waitedMs).toBeGreaterThanOrEqual(600);
    expect(got.terminated.map((b) => [b.pid, b.applicationName, b.state])).toEqual([[reader.pid, 'idle-holder', 'idle in transaction']]);
    expect(lines).toEqual(expect.arrayContaining(['canceling conflicted backends', 'terminating conflicted backends']));
    expect(events.some((e) => e.type === 'backend-terminated' && e.blocker.pid === reader.pid)).toBe(true);
    expect(await heldModes(admin, me.pid, 'public.t')).toContain('AccessExclusiveLock');
    await me.client.query('COMMIT');
    await waitForGone(reader.pid);
  });

  it('excludePids are never cancelled or terminated', async () => {
    const reader = await idleReader('our-own-helper');
    const me = await sessions.open('me');
    const { events, onEvent } = collect();
    const err = await expectCode(
      acquireTableLock({
        client: me.client,
        relations: T1,
        mode: 'ACCESS EXCLUSIVE',
        waitTimeoutMs: 250,
        onBlockers: 'terminate',
        excludePids: [reader.pid],
        onEvent,
      }),
      'lock_timeout',
    );
    expect(err.message).not.toContain(`pid ${reader.pid}`);
    expect(events.some((e) => e.type === 'backend-cancelled' || e.type === 'backend-terminated')).toBe(false);
    expect(await backendState(admin, reader.pid)).toBe('idle in transaction');
  });

  it('for SHARE UPDATE EXCLUSIVE, readers and writers are not blockers', async () => {
    await idleReader('reader');
    const writer = await sessions.open('writer');
    await writer.client.query('BEGIN');
    await writer.client.query('UPDATE public.t SET v = v WHERE id = 1');
    const vacuumLike = await sessions.open('sue-holder');
    await vacuumLike.client.query('BEGIN');
    await vacuumLike.client.query('LOCK TABLE public.t IN SHARE UPDATE EXCLUSIVE MODE');
    const me = await sessions.open('me');
    const blockers = await findBlockers(me.client, T1, 'SHARE UPDATE EXCLUSIVE');
    expect(blockers.map((b) => [b.pid, b.mode])).toEqual([[vacuumLike.pid, 'ShareUpdateExclusiveLock']]);
    await vacuumLike.client.query('COMMIT');
    const got = await acquireTableLock({ client: me.client, relations: T1, mode: 'SHARE UPDATE EXCLUSIVE', waitTimeoutMs: 300 });
    expect(got.tries).toBe(1);
    await me.client.query('COMMIT');
    // The same readers and writers do block ACCESS EXCLUSIVE.
    expect((await findBlockers(me.client, T1, 'ACCESS EXCLUSIVE')).length).toBe(2);
  });

  it('concurrent plain SELECTs keep completing quickly while tries are in progress', async () => {
    await idleReader('long-reader');
    const me = await sessions.open('me');
    const other = await sessions.open('oltp');
    const maxTryMs = 200;
    const escalation = settle(acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 2000, maxTryMs }));
    let done = false;
    void escalation.then(() => {
      done = true;
    });
    const latencies: number[] = [];
    for (let i = 0; i < 2000 && !done; i++) {
      const t0 = performance.now();
      await other.client.query('SELECT v FROM public.t WHERE id = $1', [(i % 1000) + 1]);
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
    const result = await escalation;
    expect(result.ok).toBe(false);
    expect(latencies.length).toBeGreaterThan(20);
    // Loose: a reader waits at most about one try, never the whole wait timeout.
    expect(Math.max(...latencies)).toBeLessThan(maxTryMs + 500);
    expect(Math.max(...latencies)).toBeLessThan(2000);
  });

  it('inTransaction: upgrading SHARE UPDATE EXCLUSIVE keeps the original lock when a try fails', async () => {
    const me = await sessions.open('repack-conn2');
    await me.client.query("SET lock_timeout = '7s'");
    await me.client.query('BEGIN');
    await me.client.query('LOCK TABLE public.t IN SHARE UPDATE EXCLUSIVE MODE');
    const reader = await idleReader('reader');
    await expectCode(acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 400, inTransaction: true }), 'lock_timeout');
    // Still in the same, healthy transaction, still holding SHARE UPDATE EXCLUSIVE.
    expect(await backendState(admin, me.pid)).toBe('idle in transaction');
    expect(await heldModes(admin, me.pid, 'public.t')).toEqual(['ShareUpdateExclusiveLock']);
    expect((await me.client.query('SELECT count(*)::int AS n FROM public.t')).rows[0].n).toBe(1000);
    const intruder = await sessions.open('vacuum-like');
    const sneak = await settle(intruder.client.query('LOCK TABLE public.t IN SHARE UPDATE EXCLUSIVE MODE NOWAIT'));
    expect(sneak.ok).toBe(false);
    expect((await me.client.query('SHOW lock_timeout')).rows[0].lock_timeout).toBe('7s');

    await reader.client.query('COMMIT');
    const got = await acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 400, inTransaction: true });
    expect(got.tries).toBe(1);
    // (AccessShareLock comes from the count(*) above.)
    expect(await heldModes(admin, me.pid, 'public.t')).toEqual(['AccessExclusiveLock', 'AccessShareLock', 'ShareUpdateExclusiveLock']);
    // lock_timeout is back to what the caller had, and no savepoint is left behind.
    expect((await me.client.query('SHOW lock_timeout')).rows[0].lock_timeout).toBe('7s');
    const leftover = await settle(me.client.query('RELEASE SAVEPOINT pgtools_lock_try'));
    expect(leftover.ok).toBe(false);
    await me.client.query('ROLLBACK');
  });

  it('abort stops promptly and rolls back what it started', async () => {
    const reader = await idleReader('reader');
    const me = await sessions.open('me');
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('shutting down')), 300);
    await expectCode(
      acquireTableLock({
        client: me.client,
        relations: T1,
        mode: 'ACCESS EXCLUSIVE',
        waitTimeoutMs: 20_000,
        onBlockers: 'terminate',
        signal: controller.signal,
      }),
      'aborted',
    );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await backendState(admin, me.pid)).toBe('idle');
    expect(await heldModes(admin, me.pid, 'public.t')).toEqual([]);
    expect(await backendState(admin, reader.pid)).toBe('idle in transaction');

    // Already aborted: nothing is tried at all.
    const { events, onEvent } = collect();
    await expectCode(
      acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 1000, signal: AbortSignal.abort(), onEvent }),
      'aborted',
    );
    expect(events).toEqual([]);
  });

  it('abort inside the caller transaction rolls back to the savepoint only', async () => {
    const me = await sessions.open('me');
    await me.client.query('BEGIN');
    await me.client.query('LOCK TABLE public.t IN SHARE UPDATE EXCLUSIVE MODE');
    await idleReader('reader');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 250);
    await expectCode(
      acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 20_000, inTransaction: true, signal: controller.signal }),
      'aborted',
    );
    expect(await backendState(admin, me.pid)).toBe('idle in transaction');
    expect(await heldModes(admin, me.pid, 'public.t')).toEqual(['ShareUpdateExclusiveLock']);
    expect((await me.client.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await me.client.query('COMMIT');
  });

  it('a blocker it may not cancel is reported, and the caller transaction survives the refusal', async () => {
    await admin.query('DO $$ BEGIN CREATE ROLE app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$');
    await admin.query('GRANT ALL ON public.t TO app');
    const superReader = await idleReader('superuser-reader');
    const me = await sessions.open('app-conn', 'app');
    await me.client.query('BEGIN');
    await me.client.query('LOCK TABLE public.t IN SHARE UPDATE EXCLUSIVE MODE');
    const { events, onEvent } = collect();
    await expectCode(
      acquireTableLock({ client: me.client, relations: T1, mode: 'ACCESS EXCLUSIVE', waitTimeoutMs: 250, onBlockers: 'cancel', inTransaction: true, onEvent }),
      'lock_timeout',
    );
    const failed = events.find((e) => e.type === 'backend-signal-failed');
    expect(failed).toMatchObject({ type: 'backend-signal-failed', action: 'cancel', blocker: { pid: superReader.pid } });
    expect(events.some((e) => e.type === 'backend-cancelled')).toBe(false);
    expect(await backendState(admin, superReader.pid)).toBe('idle in transaction');
    // The permission error was confined to a savepoint: the caller's transaction and lock are intact.
    expect((await me.client.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expect(await heldModes(admin, me.pid, 'public.t')).toEqual(['ShareUpdateExclusiveLock']);
    await me.client.query('COMMIT');
  });

  it('refuses the wrong transaction state instead of rolling back the caller', async () => {
    const me = await sessions.open('me');
    await me.client.query('BEGIN');
    await me.client.query('CREATE TABLE public.made_in_tx (id int)');
    await expectCode(acquireTableLock({ client: me.client, relations: T1, mode: 'SHARE', waitTimeoutMs: 100 }), 'invalid_transaction_state');
    await me.client.query('COMMIT');
    expect((await admin.query("SELECT to_regclass('public.made_in_tx') IS NOT NULL AS ok")).rows[0].ok).toBe(true);
    await expectCode(
      acquireTableLock({ client: me.client, relations: T1, mode: 'SHARE', waitTimeoutMs: 100, inTransaction: true }),
      'invalid_transaction_state',
    );
  });

  it('other errors are not retried: wrapped as lock_failed with the SQLSTATE, transaction rolled back', async () => {
    const me = await sessions.open('me');
    const err = await expectCode(
      acquireTableLock({ client: me.client, relations: [{ schema: 'public', name: 'missing' }], mode: 'SHARE', waitTimeoutMs: 1000 }),
      'lock_failed',
    );
    expect(err.sqlState).toBe('42P01');
    expect(await backendState(admin, me.pid)).toBe('idle');
    await expectCode(acquireTableLock({ client: me.client, relations: [], mode: 'SHARE', waitTimeoutMs: 1 }), 'invalid_argument');
    await expectCode(
      acquireTableLock({ client: me.client, relations: T1, mode: 'SHARE MODE; DROP TABLE t; --' as never, waitTimeoutMs: 1 }),
      'invalid_lock_mode',
    );
  });
});

async function waitForState(pid: number, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await backendState(admin, pid)) === state) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`backend ${pid} never reached state ${state}`);
}

async function waitForGone(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await backendState(admin, pid)) === undefined) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`backend ${pid} is still there`);
}

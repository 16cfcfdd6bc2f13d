import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { defaultPgMajor, startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { PgToolsError } from '@pgtools/core';
import { REPACK_ADVISORY_CLASS, releaseAdvisoryTableLock, tryAdvisoryTableLock } from '../src/index.js';
import { Sessions } from './helpers.js';

let cluster: PgCluster;
let db: TestDatabase;
let admin: pg.Pool;
let sessions: Sessions;
let tableOid: number;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'lock-advisory' });
  db = await cluster.createDatabase();
  admin = db.pool();
  await admin.query('CREATE TABLE public.t (id int PRIMARY KEY, v text)');
  await admin.query("INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 100) g");
  tableOid = (await admin.query<{ oid: number }>("SELECT 'public.t'::regclass::oid::int AS oid")).rows[0]!.oid;
  sessions = new Sessions(db);
});

afterEach(async () => {
  await sessions.endAll();
});

afterAll(async () => {
  await cluster?.destroy();
});

describe('advisory table lock', () => {
  it('a second session is refused and told who holds the lock', async () => {
    const a = await sessions.open('holder-app');
    const b = await sessions.open('second-app');
    expect(await tryAdvisoryTableLock(a.client, tableOid)).toEqual({ acquired: true });
    expect(await tryAdvisoryTableLock(b.client, tableOid)).toEqual({
      acquired: false,
      holderPid: a.pid,
      holderApplication: 'holder-app',
    });
    expect(await releaseAdvisoryTableLock(a.client, tableOid)).toBe(true);
    expect(await tryAdvisoryTableLock(b.client, tableOid)).toEqual({ acquired: true });
    // Releasing a lock this session does not hold reports false instead of pretending.
    expect(await releaseAdvisoryTableLock(a.client, tableOid)).toBe(false);
  });

  it("uses pg_repack's exact key: a lock taken with pg_repack's SQL blocks us, and ours blocks that SQL", async () => {
    const repackLike = await sessions.open('pg_repack');
    const ours = await sessions.open('pgtools');
    const pgRepackSql = 'SELECT pg_try_advisory_lock($1, CAST(-2147483648 + $2::bigint AS integer)) AS ok';
    const taken = await repackLike.client.query<{ ok: boolean }>(pgRepackSql, [16185446, tableOid]);
    expect(taken.rows[0]!.ok).toBe(true);
    expect(REPACK_ADVISORY_CLASS).toBe(16185446);
    expect(await tryAdvisoryTableLock(ours.client, tableOid)).toEqual({
      acquired: false,
      holderPid: repackLike.pid,
      holderApplication: 'pg_repack',
    });
    await repackLike.client.query('SELECT pg_advisory_unlock_all()');

    expect((await tryAdvisoryTableLock(ours.client, tableOid)).acquired).toBe(true);
    const refused = await repackLike.client.query<{ ok: boolean }>(pgRepackSql, [16185446, tableOid]);
    expect(refused.rows[0]!.ok).toBe(false);
  });

  it('finds the holder for oids on both sides of 2^31 (the signed key wraps)', async () => {
    const holder = await sessions.open('holder');
    const other = await sessions.open('other');
    for (const oid of [0, 1, 2147483647, 2147483648, 3000000000, 4294967295]) {
      expect(await tryAdvisoryTableLock(holder.client, oid)).toEqual({ acquired: true });
      const r = await tryAdvisoryTableLock(other.client, oid);
      expect(r).toEqual({ acquired: false, holderPid: holder.pid, holderApplication: 'holder' });
      // A neighbouring key is a different lock.
      if (oid < 4294967295) expect(await tryAdvisoryTableLock(other.client, oid + 1)).toEqual({ acquired: true });
      await other.client.query('SELECT pg_advisory_unlock_all()');
      expect(await releaseAdvisoryTableLock(holder.client, oid)).toBe(true);
    }
  });

  it('refuses an oid out of range', async () => {
    const s = await sessions.open('x');
    await expect(tryAdvisoryTableLock(s.client, -1)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(tryAdvisoryTableLock(s.client, 2 ** 32)).rejects.toBeInstanceOf(PgToolsError);
  });

  // Debian builds pg_repack for its own PostgreSQL 15 only; the npm builds of 16-18 have none.
  const pgRepackBin = join('/usr/lib/postgresql/15/bin', 'pg_repack');
  it.skipIf(defaultPgMajor() !== 15 || !existsSync(pgRepackBin))('the real pg_repack refuses a table we hold', async () => {
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_repack');
    const ours = await sessions.open('pgtools');
    expect((await tryAdvisoryTableLock(ours.client, tableOid)).acquired).toBe(true);
    const out = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        pgRepackBin,
        ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-d', db.name, '-t', 'public.t', '--no-kill-backend', '-T', '1'],
        { timeout: 60_000 },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/Another pg_repack command may be running on the table/);
    // And the table was left alone: no pg_repack trigger or log table.
    const leftovers = await admin.query("SELECT 1 FROM pg_trigger WHERE tgrelid = 'public.t'::regclass AND tgname LIKE 'repack%'");
    expect(leftovers.rows).toHaveLength(0);
  });
});

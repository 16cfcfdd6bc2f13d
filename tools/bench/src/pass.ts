import pg from 'pg';
import { quoteIdent } from '@pgtools/core';
import { expectedIdType } from './alter-scenario.js';
import { runContender, type Tools } from './contenders.js';
import { TABLE_NAME } from './fixture.js';
import { startLoad } from './load.js';
import { startLockSampler } from './lock-sampler.js';
import { loadWindowStats, type LoadWindowStats } from './pgbench-log.js';
import type { BenchOptions, ContenderName } from './options.js';
import { TABLE_SIZE_SQL, verifyTable, type Verification } from './verify.js';

/** Where the passes run: the cluster and the template database holding the bloated table. */
export interface PassContext {
  host: string;
  port: number;
  user: string;
  template: string;
  tools: Tools;
  options: BenchOptions;
  /** Called with progress lines. */
  log: (line: string) => void;
}

/** Everything measured in one pass: one contender, one run, one load kind. */
export interface PassResult {
  contender: ContenderName;
  run: number;
  load: 'throttled' | 'unthrottled';
  ok: boolean;
  error?: string;
  /** Repack window (process spawn to exit; the idle window for `no-repack`), ms since the epoch. */
  startedAt: number;
  endedAt: number;
  wallMs: number;
  /** pgtools: time inside `repack()`, without node's start-up. */
  innerMs?: number;
  phases?: Array<{ phase: string; ms: number }>;
  /** The tool's own account of its ACCESS EXCLUSIVE holds (pgtools only). */
  toolHolds?: Array<{ purpose: string; heldMs: number }>;
  /** Holds seen by sampling pg_locks. */
  sampledHolds: Array<{ pid: number; estimateMs: number; lowerMs: number; upperMs: number }>;
  sampleGapMs: number;
  loadStats: LoadWindowStats;
  /** Clients still connected at the end (fewer than configured: some aborted with an error). */
  clientsAlive: number;
  loadErrors?: string;
  /** WAL between the repack's start and end (the load's share included). */
  walBytes: number;
  /** WAL from the repack's start to the end of the tail, and that span's length: blocked load has caught up by then. */
  walWithTailBytes: number;
  walWithTailMs: number;
  maxRssKb?: number;
  cpuS?: number;
  sizeBefore: { heapBytes: number; totalBytes: number };
  verification: Verification;
  loadCommand: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One pass: a fresh copy of the bloated table (a FILE_COPY clone of the template, so every
 * contender starts from the same bytes), a CHECKPOINT, the load, warm-up, the repack (or an
 * idle window) while pg_locks is sampled, the tail, then the load stops and the table is verified.
 *
 * @example
 * ```ts
 * const result = await runPass(ctx, 'pg_repack', 1, 'throttled');
 * console.log(result.wallMs, result.loadStats.maxMs);
 * ```
 */
export async function runPass(ctx: PassContext, contender: ContenderName, run: number, load: 'throttled' | 'unthrottled'): Promise<PassResult> {
  const { options: o } = ctx;
  const database = `bench_${contender.replace(/[^a-z]/g, '_')}_${run}_${load}`;
  const config = (db: string): pg.ClientConfig => ({ host: ctx.host, port: ctx.port, user: ctx.user, database: db, application_name: 'pgtools-bench' });
  const admin = new pg.Client(config('postgres'));
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE ${quoteIdent(ctx.template)} STRATEGY FILE_COPY`);
    const db = new pg.Client(config(database));
    const sampler = new pg.Client(config(database));
    await db.connect();
    await sampler.connect();
    try {
      const { rows: rel } = await db.query<{ oid: number; heap: string; total: string }>(
        `SELECT $1::regclass::oid::int AS oid, s.heap, s.total FROM (${TABLE_SIZE_SQL}) s`,
        [TABLE_NAME],
      );
      const tableOid = rel[0]!.oid;
      const sizeBefore = { heapBytes: Number(rel[0]!.heap), totalBytes: Number(rel[0]!.total) };
      await db.query('CHECKPOINT');
      const running = await startLoad(db, {
        pgbench: `${ctx.tools.binDir}/pgbench`,
        host: ctx.host,
        port: ctx.port,
        user: ctx.user,
        database,
        rows: o.rows,
        clients: o.clients,
        threads: o.threads,
        tps: load === 'throttled' ? o.tps : undefined,
      });
      let stopped: Awaited<ReturnType<typeof running.stop>> | undefined;
      try {
        await sleep(o.warmupS * 1000);
        const locks = startLockSampler(sampler, { tableOid, tableName: TABLE_NAME, intervalMs: o.lockSampleMs });
        const lsn0 = await walLsn(db);
        let outcome: Awaited<ReturnType<typeof runContender>> | undefined;
        let startedAt: number;
        let endedAt: number;
        if (contender === 'no-repack') {
          startedAt = Date.now();
          await sleep(o.baselineS * 1000);
          endedAt = Date.now();
        } else {
          outcome = await runContender(contender, ctx.tools, { host: ctx.host, port: ctx.port, user: ctx.user, database }, o.pgtoolsJobs);
          startedAt = outcome.run.startedAt;
          endedAt = outcome.run.endedAt;
        }
        const lsn1 = await walLsn(db);
        await sleep(o.tailS * 1000);
        const lsn2 = await walLsn(db);
        const tailEnd = Date.now();
        const sampled = await locks.stop();
        stopped = await running.stop(db);
        const verification = await verifyTable(db, { rows: o.rows, amcheck: o.amcheck, idType: expectedIdType(o.scenario, contender) });
        const { rows: wal } = await db.query<{ d1: string; d2: string }>('SELECT pg_wal_lsn_diff($2, $1)::text AS d1, pg_wal_lsn_diff($3, $1)::text AS d2', [
          lsn0,
          lsn1,
          lsn2,
        ]);
        const r = outcome?.run;
        const result: PassResult = {
          contender,
          run,
          load,
          ok: (outcome?.ok ?? true) && verification.correct && stopped.clientsAlive === o.clients,
          startedAt,
          endedAt,
          wallMs: endedAt - startedAt,
          sampledHolds: sampled.holds.map((h) => ({ pid: h.pid, estimateMs: h.estimateMs, lowerMs: h.lowerMs, upperMs: h.upperMs })),
          sampleGapMs: sampled.meanGapMs,
          loadStats: loadWindowStats(stopped.transactions, startedAt, endedAt),
          clientsAlive: stopped.clientsAlive,
          walBytes: Number(wal[0]!.d1),
          walWithTailBytes: Number(wal[0]!.d2),
          walWithTailMs: tailEnd - startedAt,
          sizeBefore,
          verification,
          loadCommand: running.command,
        };
        if (r?.maxRssKb !== undefined) result.maxRssKb = r.maxRssKb;
        if (r?.userS !== undefined && r.sysS !== undefined) result.cpuS = r.userS + r.sysS;
        if (outcome?.pgtools) {
          result.innerMs = outcome.pgtools.innerMs;
          result.phases = outcome.pgtools.result.phases;
          result.toolHolds = outcome.pgtools.result.accessExclusive;
        }
        const errors = [outcome?.error, ...verification.problems];
        if (stopped.clientsAlive !== o.clients)
          errors.push(`only ${stopped.clientsAlive} of ${o.clients} load clients survived: ${stopped.stderr.slice(-500)}`);
        const error = errors.filter(Boolean).join('; ');
        if (error) result.error = error;
        return result;
      } finally {
        if (!stopped) await running.stop(db).catch(() => undefined);
      }
    } finally {
      await sampler.end().catch(() => {});
      await db.end().catch(() => {});
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`).catch(() => {});
    await admin.end().catch(() => {});
  }
}

async function walLsn(client: pg.ClientBase): Promise<string> {
  return (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
}

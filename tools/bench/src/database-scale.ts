import type pg from 'pg';
import { holdsFromSamples, pollRows } from './lock-sampler.js';
import { startLoad } from './load.js';
import { loadWindowStats } from './pgbench-log.js';

/** The many-table database's shape (many-tables.ts builds it): `tables` of `rows` rows `t001...`, `bigTables` of `bigRows` rows `big1...`. */
export interface DatabaseShape {
  tables: number;
  rows: number;
  bigTables: number;
  bigRows: number;
}

/** The load that runs while a contender repacks the whole database (issue 20: the `--database-scale` scenario). */
export interface DatabaseLoad {
  pgbench: string;
  tps: number;
  clients: number;
  threads: number;
  /** Load before the command starts and after it ends, seconds. */
  warmupS: number;
  tailS: number;
  lockSampleMs: number;
}

/** What the load saw during one contender's run. */
export interface LoadMeasure {
  /** Latency of the transactions scheduled while the command ran (`loadWindowStats`), ms. */
  p99Ms: number;
  maxMs: number;
  transactions: number;
  failed: number;
  /** The longest ACCESS EXCLUSIVE on any of the database's tables, as the pg_locks sampler saw it (ms). */
  longestHoldMs: number;
  /** Tables whose rows or counters differ from what the acknowledged updates make them: must be none. */
  mismatches: string[];
  /** Updates the ledger holds (committed), against the transactions pgbench logged as done over the whole load. */
  ledgerUpdates: number;
  loggedTransactions: number;
}

/**
 * Statements run once in the template after the tables exist: a ledger of acknowledged updates,
 * `bench_touch(pick, r)` (reads and bumps `account` of one kept row of table number `pick`, and
 * records it) and `bench_expected`, each table's row count and `account` sum before any load.
 * After a run, every table must hold its rows and its sum plus its ledger entries (`bench_check()`).
 *
 * @example
 * ```ts
 * databaseScaleStatements({ tables: 200, rows: 40000, bigTables: 2, bigRows: 1600000 }).length; // 5
 * ```
 */
export function databaseScaleStatements(shape: DatabaseShape): string[] {
  const { tables, rows, bigTables, bigRows } = shape;
  if (![tables, rows, bigTables, bigRows].every((n) => Number.isInteger(n) && n >= 0)) throw new Error('the database shape takes whole numbers');
  return [
    'CREATE TABLE public.bench_ledger (n bigserial PRIMARY KEY, tbl text NOT NULL, id bigint NOT NULL)',
    // Table names as many-tables.ts makes them (t001..., big1...); the odd ids are the rows it kept.
    `CREATE FUNCTION public.bench_touch(pick int, r bigint) RETURNS void LANGUAGE plpgsql AS $f$
     DECLARE tbl text; n bigint; k bigint; hit bigint;
     BEGIN
       IF pick <= ${tables} THEN tbl := 't' || lpad(pick::text, greatest(3, length(pick::text)), '0'); n := ${rows};
       ELSE tbl := 'big' || (pick - ${tables}); n := ${bigRows}; END IF;
       k := 2 * (r % ((n + 1) / 2)) + 1;
       EXECUTE pg_catalog.format('SELECT payload FROM public.%I WHERE id = $1', tbl) USING k;
       EXECUTE pg_catalog.format('UPDATE public.%I SET account = account + 1 WHERE id = $1', tbl) USING k;
       GET DIAGNOSTICS hit = ROW_COUNT;
       IF hit > 0 THEN INSERT INTO public.bench_ledger (tbl, id) VALUES (tbl, k); END IF;
     END $f$`,
    `CREATE TABLE public.bench_expected AS
       SELECT c.relname::text AS tbl, 0::bigint AS rows, 0::numeric AS account_sum FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname ~ '^(t[0-9]+|big[0-9]+)$'`,
    `DO $d$ DECLARE e record; r bigint; s numeric;
     BEGIN
       ALTER TABLE public.bench_expected ADD PRIMARY KEY (tbl);
       FOR e IN SELECT tbl FROM public.bench_expected LOOP
         EXECUTE pg_catalog.format('SELECT count(*), coalesce(sum(account), 0) FROM public.%I', e.tbl) INTO r, s;
         UPDATE public.bench_expected SET rows = r, account_sum = s WHERE tbl = e.tbl;
       END LOOP;
     END $d$`,
    `CREATE FUNCTION public.bench_check() RETURNS SETOF text LANGUAGE plpgsql AS $f$
     DECLARE e record; r bigint; s numeric; bumps bigint;
     BEGIN
       FOR e IN SELECT * FROM public.bench_expected ORDER BY tbl LOOP
         EXECUTE pg_catalog.format('SELECT count(*), coalesce(sum(account), 0) FROM public.%I', e.tbl) INTO r, s;
         SELECT count(*) INTO bumps FROM public.bench_ledger WHERE tbl = e.tbl;
         IF r <> e.rows OR s <> e.account_sum + bumps THEN
           RETURN NEXT pg_catalog.format('%s: %s rows and account sum %s, expected %s and %s', e.tbl, r, s, e.rows, e.account_sum + bumps);
         END IF;
       END LOOP;
     END $f$`,
  ];
}

/** The tables that do not hold what the acknowledged updates make them, one line each (`bench_check()`). */
export const DATABASE_CHECK_SQL = 'SELECT line FROM public.bench_check() AS line';

/**
 * The pgbench script: one call of `bench_touch` on a table drawn uniformly from all of them.
 *
 * @example
 * ```ts
 * databaseScaleScript({ tables: 200, rows: 40000, bigTables: 2, bigRows: 1600000 }).defines; // { ntables: 202 }
 * ```
 */
export function databaseScaleScript(shape: DatabaseShape): { text: string; defines: Record<string, number> } {
  return {
    text: ['\\set pick random(1, :ntables)', '\\set r random(0, 1000000000)', 'SELECT public.bench_touch(:pick, :r);', ''].join('\n'),
    defines: { ntables: shape.tables + shape.bigTables },
  };
}

/** Samples every `intervalMs` which of `relations` someone holds ACCESS EXCLUSIVE on; `stop()` returns the longest hold seen (ms). */
function startRelationSampler(client: pg.ClientBase, relations: number[], intervalMs: number): { stop(): Promise<number> } {
  const sql = {
    name: 'bench_database_lock_sample',
    text: `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t,
                  coalesce(array_agg(l.relation::text), '{}') AS held
             FROM pg_locks l
            WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.relation = ANY ($1::oid[])`,
    values: [relations],
  };
  const polling = pollRows<{ t: number; held: string[] }>(client, sql, intervalMs);
  return {
    async stop() {
      const samples = (await polling.stop()).map((r) => ({ t: r.t, held: r.held.map(Number) }));
      let longest = 0;
      for (const rel of new Set(samples.flatMap((s) => s.held))) {
        const holds = holdsFromSamples(samples.map((s) => ({ t: s.t, holder: s.held.includes(rel) ? rel : null })));
        for (const h of holds) longest = Math.max(longest, h.estimateMs);
      }
      return longest;
    },
  };
}

/**
 * Runs `command` on database `database` under the scenario's load: warm-up, the command while a
 * `pg_locks` sampler watches every table, the tail; then the load's latencies and the content check.
 * `admin` is a superuser connection to `database` (it stops the load and samples the locks).
 *
 * @example
 * ```ts
 * const { result, measure } = await underDatabaseLoad(admin, conn, load, shape, () => runMeasured('pg_repack', ['-d', 'db']));
 * ```
 */
export async function underDatabaseLoad<T>(
  admin: pg.ClientBase,
  conn: { host: string; port: number; user: string; database: string },
  load: DatabaseLoad,
  shape: DatabaseShape,
  command: () => Promise<T>,
): Promise<{ result: T; measure: LoadMeasure }> {
  const { rows } = await admin.query<{ oid: string }>(
    "SELECT c.oid::text AS oid FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'",
  );
  const running = await startLoad(admin, {
    ...conn,
    pgbench: load.pgbench,
    rows: shape.rows,
    clients: load.clients,
    threads: load.threads,
    tps: load.tps,
    script: databaseScaleScript(shape),
  });
  let stopped: Awaited<ReturnType<typeof running.stop>> | undefined;
  try {
    await sleep(load.warmupS * 1000);
    const sampler = startRelationSampler(
      admin,
      rows.map((r) => Number(r.oid)),
      load.lockSampleMs,
    );
    const startedAt = Date.now();
    let result: T;
    let longestHoldMs: number;
    try {
      result = await command();
    } finally {
      longestHoldMs = await sampler.stop();
    }
    const endedAt = Date.now();
    await sleep(load.tailS * 1000);
    stopped = await running.stop(admin);
    // The same window as the other scenarios: transactions scheduled while the command ran.
    const window = loadWindowStats(stopped.transactions, startedAt, endedAt);
    const mismatches = (await admin.query<{ line: string }>(DATABASE_CHECK_SQL)).rows.map((r) => r.line);
    const ledger = await admin.query<{ n: string }>('SELECT count(*)::text AS n FROM public.bench_ledger');
    return {
      result,
      measure: {
        p99Ms: window.p99Ms ?? 0,
        maxMs: window.maxMs ?? 0,
        transactions: window.transactions,
        failed: window.failed,
        longestHoldMs,
        mismatches,
        ledgerUpdates: Number(ledger.rows[0]?.n ?? 0),
        loggedTransactions: stopped.transactions.filter((t) => !t.failed).length,
      },
    };
  } finally {
    if (stopped === undefined) await running.stop(admin).catch(() => undefined);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

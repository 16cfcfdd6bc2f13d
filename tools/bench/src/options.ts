import { parseArgs } from 'node:util';
import { PgToolsError } from '@pgtools/core';
import { PG_MAJORS, type PgMajor } from '@pgtools/testkit';

/** The contenders of the repack scenario, in their default order. */
export const CONTENDERS = ['no-repack', 'pgtools-catalog', 'pgtools-rename', 'pg_repack', 'vacuum-full'] as const;
/** The contenders of the `alter` scenario (issue 19: int → bigint of the primary key), in their default order. */
export const ALTER_CONTENDERS = ['no-repack', 'pgtools-alter', 'plain-alter'] as const;
export type ContenderName = (typeof CONTENDERS)[number] | (typeof ALTER_CONTENDERS)[number];

/** What the contenders do to the table: repack it (issue 5), or change its key's type (issue 19). */
export const SCENARIOS = ['repack', 'alter'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Everything a benchmark run is configured by. */
export interface BenchOptions {
  /** Rows inserted before every second one is deleted. */
  rows: number;
  /** Rate of the fixed-rate load (pgbench `--rate`). */
  tps: number;
  /** pgbench clients and threads. */
  clients: number;
  threads: number;
  runs: number;
  scenario: Scenario;
  contenders: ContenderName[];
  /** Markdown output file; `undefined` prints only. */
  out: string | undefined;
  /** Raw per-pass results as JSON. */
  json: string | undefined;
  /** Also run each contender under an unthrottled load to measure the throughput it costs. */
  unthrottled: boolean;
  /** Load before the repack starts and after it ends, seconds. */
  warmupS: number;
  tailS: number;
  /** Length of the `no-repack` window, seconds. */
  baselineS: number;
  lockSampleMs: number;
  /** `fsync=on` instead of the test kit's `fsync=off`. */
  fsync: boolean;
  /** Index-build connections for pgtools (`jobs`); undefined: the library's default. */
  pgtoolsJobs: number | undefined;
  /** amcheck (`bt_index_check` with heapallindexed) of every index after every pass. */
  amcheck: boolean;
  /** Measure the cost floors (each step of a repack alone, the load with and without the capture trigger) instead of the contenders. */
  floors: boolean;
  /** The PostgreSQL major of the bench server (the testkit's builds; pg_repack exists for 15 only). */
  pgVersion: PgMajor;
  /** Instead of the contenders on one table: whole-database runs on issue 20's database under the load (database-scale.ts). */
  databaseScale: boolean;
  /** `--table-jobs` values pgtools runs with in the database-scale scenario, each a contender. */
  tableJobs: number[];
  /** With the alter scenario: the table hash-partitioned on `account` into this many partitions (0: a plain table). */
  partitions: number;
  help: boolean;
}

export const USAGE = `pnpm bench:repack [options]

  --rows N              rows inserted before every second one is deleted (default 2000000)
  --tps N               fixed rate of the load (default 400)
  --heavy               the heavy load: --tps 2000 and 16 clients
  --clients N           pgbench clients (default 8, heavy 16); --threads N (default 2)
  --runs N              runs per contender, interleaved A B C A B C (default 3)
  --contenders LIST     comma-separated, from: ${CONTENDERS.join(', ')} (default: all);
                        with --scenario alter from: ${ALTER_CONTENDERS.join(', ')}
  --scenario NAME       repack (default) or alter: int → bigint of the primary key, pgtools --alter
                        against a plain ALTER TABLE, on the table with an integer id, fixed rate only;
                        prints only unless --out is given
  --partitions N        with --scenario alter: the table hash-partitioned on account into N partitions
                        (primary key (id, account)), changed whole by both contenders (default 0: plain)
  --out FILE            markdown output (default docs/benchmarks.md; --no-out to skip)
  --json FILE           raw per-pass results as JSON
  --no-unthrottled      skip the unthrottled pass (throughput during the repack)
  --warmup S            load before each repack (default 3); --tail S after it (default 2)
  --baseline-seconds S  length of the no-repack window (default 5)
  --lock-sample-ms MS   pg_locks sampling interval (default 5)
  --pgtools-jobs N      index-build connections for pgtools (default: the library's, 2)
  --fsync               run the server with fsync=on (default off, as in the test kit)
  --no-amcheck          skip the index checks after each pass
  --pg N                PostgreSQL major of the server: ${PG_MAJORS.join(', ')} (default 15; pg_repack
                        is Debian's build for 15, so it is skipped on the others)
  --database-scale      instead of the contenders: a database of 200 bloated tables of about 5 MB and
                        2 of about 200 MB, repacked whole by pgtools-repack DBNAME (per --table-jobs)
                        and pg_repack -d under the fixed-rate load (--tps, --clients, --threads,
                        --runs, --warmup, --tail, --lock-sample-ms apply); prints only unless --out
  --table-jobs LIST     with --database-scale: pgtools' --table-jobs values (default 1,3)
  --floors              instead of the contenders: each step of a repack alone on an idle server,
                        and the load alone and with the capture trigger (--runs, --rows, --tps,
                        --baseline-seconds apply); prints only unless --out is given
`;

/**
 * Parses the benchmark's command line.
 *
 * @example
 * ```ts
 * const options = parseBenchArgs(['--rows', '100000', '--runs', '1']);
 * options.tps; // 400
 * ```
 */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        rows: { type: 'string' },
        tps: { type: 'string' },
        heavy: { type: 'boolean' },
        clients: { type: 'string' },
        threads: { type: 'string' },
        runs: { type: 'string' },
        contenders: { type: 'string' },
        scenario: { type: 'string' },
        out: { type: 'string' },
        'no-out': { type: 'boolean' },
        json: { type: 'string' },
        'no-unthrottled': { type: 'boolean' },
        warmup: { type: 'string' },
        tail: { type: 'string' },
        'baseline-seconds': { type: 'string' },
        'lock-sample-ms': { type: 'string' },
        'pgtools-jobs': { type: 'string' },
        fsync: { type: 'boolean' },
        'no-amcheck': { type: 'boolean' },
        floors: { type: 'boolean' },
        'database-scale': { type: 'boolean' },
        'table-jobs': { type: 'string' },
        pg: { type: 'string' },
        partitions: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new PgToolsError('invalid_option', (err as Error).message, { cause: err });
  }
  const v = parsed.values;
  const heavy = v.heavy ?? false;
  const floors = v.floors ?? false;
  const databaseScale = v['database-scale'] ?? false;
  if (databaseScale && (floors || v.scenario !== undefined))
    throw new PgToolsError('invalid_option', '--database-scale is a scenario of its own: it does not take --floors or --scenario');
  if (databaseScale && v.pg !== undefined && v.pg.trim() !== '15')
    throw new PgToolsError('invalid_option', '--database-scale runs on PostgreSQL 15, where pg_repack is');
  if (v['table-jobs'] !== undefined && !databaseScale) throw new PgToolsError('invalid_option', '--table-jobs applies to --database-scale only');
  const scenario = scenarioOf(v.scenario);
  if (v.partitions !== undefined && scenario !== 'alter') throw new PgToolsError('invalid_option', '--partitions applies to --scenario alter only');
  if (floors && scenario !== 'repack') throw new PgToolsError('invalid_option', '--floors measures the repack; it does not take --scenario alter');
  const known: readonly string[] = scenario === 'alter' ? ALTER_CONTENDERS : CONTENDERS;
  const contenders =
    v.contenders === undefined
      ? [...known]
      : v.contenders
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  for (const c of contenders) {
    if (!known.includes(c)) {
      throw new PgToolsError('invalid_option', `unknown contender "${c}" for --scenario ${scenario}; known: ${known.join(', ')}`);
    }
  }
  if (contenders.length === 0) throw new PgToolsError('invalid_option', '--contenders names no contender');
  return {
    rows: int('rows', v.rows, 2_000_000, 1000),
    tps: int('tps', v.tps, heavy ? 2000 : 400, 1),
    clients: int('clients', v.clients, heavy ? 16 : 8, 1),
    threads: int('threads', v.threads, 2, 1),
    runs: int('runs', v.runs, 3, 1),
    scenario,
    contenders: [...new Set(contenders)] as ContenderName[],
    // The floors and the alter scenario are one section of the report each: never written over the whole of it by default.
    out: v['no-out'] ? undefined : (v.out ?? (floors || databaseScale || scenario !== 'repack' ? undefined : 'docs/benchmarks.md')),
    json: v.json,
    // Issue 19 measures the schema change under the fixed-rate load only.
    unthrottled: !v['no-unthrottled'] && scenario === 'repack',
    warmupS: num('warmup', v.warmup, 3, 0),
    tailS: num('tail', v.tail, 2, 0),
    baselineS: num('baseline-seconds', v['baseline-seconds'], 5, 0.5),
    lockSampleMs: num('lock-sample-ms', v['lock-sample-ms'], 5, 0),
    fsync: v.fsync ?? false,
    pgtoolsJobs: v['pgtools-jobs'] === undefined ? undefined : int('pgtools-jobs', v['pgtools-jobs'], 1, 1),
    amcheck: !v['no-amcheck'],
    floors,
    pgVersion: pgMajor(v.pg),
    databaseScale,
    tableJobs: (v['table-jobs'] ?? '1,3').split(',').map((j) => int('table-jobs', j, 1, 1)),
    partitions: v.partitions === undefined ? 0 : int('partitions', v.partitions, 0, 2),
    help: v.help ?? false,
  };
}

function scenarioOf(raw: string | undefined): Scenario {
  if (raw === undefined) return 'repack';
  const scenario = SCENARIOS.find((x) => x === raw.trim());
  if (scenario === undefined) throw new PgToolsError('invalid_option', `--scenario must be one of ${SCENARIOS.join(', ')}, got "${raw}"`);
  return scenario;
}

function pgMajor(raw: string | undefined): PgMajor {
  if (raw === undefined) return 15;
  const major = PG_MAJORS.find((m) => String(m) === raw.trim());
  if (major === undefined) throw new PgToolsError('invalid_option', `--pg must be one of ${PG_MAJORS.join(', ')}, got "${raw}"`);
  return major;
}

function num(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < min) throw new PgToolsError('invalid_option', `--${name} must be a number >= ${min}, got "${raw}"`);
  return n;
}

function int(name: string, raw: string | undefined, fallback: number, min: number): number {
  const n = num(name, raw, fallback, min);
  if (!Number.isInteger(n)) throw new PgToolsError('invalid_option', `--${name} must be an integer, got "${raw}"`);
  return n;
}

import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { quoteIdent } from '@pgtools/core';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { findPgRepack } from './contenders.js';
import { databaseScaleStatements, underDatabaseLoad, type DatabaseLoad, type LoadMeasure } from './database-scale.js';
import { runMeasured } from './measured-process.js';
import { benchSettings } from './settings.js';
import { median } from './stats.js';

/** What one many-table measurement builds and runs. */
export interface ManyTablesOptions {
  tables: number;
  rows: number;
  runs: number;
  /** pgtools-repack's `--table-jobs` values to time, each a contender of its own. */
  tableJobs: number[];
  pgRepack: boolean;
  /** Other builds' `bin/pgtools-repack.js` (the main branch, each step of a change), timed alongside at their defaults, by name. */
  otherClis?: Array<{ name: string; path: string }>;
  /** Big bloated tables added to the small ones (issue 20's database: 2 of 1.6M rows). */
  bigTables?: number;
  bigRows?: number;
  /** Run each command under this load (the `--database-scale` scenario); without it the server is idle. */
  load?: Omit<DatabaseLoad, 'pgbench'>;
}

/** Issue 20's database: 200 bloated tables of about 5 MB and 2 of about 200 MB (1.85 GB with their indexes, as pg_database_size measures it). */
export const DATABASE_SCALE = { tables: 200, rows: 40_000, bigTables: 2, bigRows: 1_600_000 } as const;

/** One contender's runs: wall seconds each, and for pgtools the per-phase sums (ms) of each run. */
export interface ManyTablesRow {
  contender: string;
  command: string;
  wallS: number[];
  phaseMs: Array<Record<string, number>>;
  /** pgtools: the longest ACCESS EXCLUSIVE moment of each run, ms. */
  maxHoldMs: number[];
  /** Under load: what the load saw in each run. */
  load: LoadMeasure[];
}

/**
 * Statements for `tables` small bloated tables `public.t001...` (and `bigTables` of `bigRows`, `public.big1...`): `rows` rows each (id, account,
 * payload of ~100 bytes), a primary key and one index, half the rows deleted, VACUUM ANALYZE. The
 * per-table overhead of issue 20 item 3 shows on exactly this shape.
 */
export function manyTablesStatements(tables: number, rows: number, bigTables = 0, bigRows = 0): string[] {
  const out: string[] = [];
  const all = [
    ...Array.from({ length: tables }, (_, i) => ({ name: `t${String(i + 1).padStart(3, '0')}`, rows })),
    ...Array.from({ length: bigTables }, (_, i) => ({ name: `big${i + 1}`, rows: bigRows })),
  ];
  for (const { name, rows } of all) {
    const t = quoteIdent(name);
    out.push(
      `CREATE TABLE public.${t} (id bigint PRIMARY KEY, account int NOT NULL, payload text NOT NULL)`,
      `INSERT INTO public.${t} SELECT g, g % 1000, repeat(md5(g::text), 3) FROM generate_series(1, ${rows}) g`,
      `CREATE INDEX ON public.${t} (account)`,
      `DELETE FROM public.${t} WHERE id % 2 = 0`,
    );
  }
  out.push('VACUUM ANALYZE');
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The built CLI of this checkout (tools/bench/dist -> apps/repack/bin). */
const cliPath = join(here, '..', '..', '..', 'apps', 'repack', 'bin', 'pgtools-repack.js');

async function clone(cluster: PgCluster, template: string, name: string): Promise<void> {
  await cluster.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  await cluster.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)} STRATEGY FILE_COPY`);
  await cluster.query('CHECKPOINT');
}

/**
 * Times `pgtools-repack DBNAME` (per `--table-jobs` value) against `pg_repack -d DBNAME` on a
 * database of many small bloated tables, interleaved (A B C A B C), each on a fresh clone.
 *
 * @example
 * ```ts
 * const rows = await runManyTables({ tables: 40, rows: 40000, runs: 3, tableJobs: [1, 2], pgRepack: true }, console.error);
 * ```
 */
export async function runManyTables(options: ManyTablesOptions, log: (line: string) => void): Promise<ManyTablesRow[]> {
  const cluster = await startPostgres({ settings: benchSettings({ fsync: true }), name: 'many-tables', version: 15 });
  try {
    const pgRepack = options.pgRepack ? findPgRepack(cluster.binDir) : undefined;
    const shape = { tables: options.tables, rows: options.rows, bigTables: options.bigTables ?? 0, bigRows: options.bigRows ?? 0 };
    const template = 'many_tables_template';
    await cluster.query(`CREATE DATABASE ${template}`);
    const client = new pg.Client(cluster.clientConfig(template));
    await client.connect();
    const t0 = Date.now();
    try {
      for (const sql of manyTablesStatements(options.tables, options.rows, shape.bigTables, shape.bigRows)) await client.query(sql);
      if (options.load) for (const sql of databaseScaleStatements(shape)) await client.query(sql);
      if (pgRepack) await client.query('CREATE EXTENSION pg_repack');
      const { rows } = await client.query<{ mb: string }>('SELECT (pg_database_size(current_database()) / 1048576)::text AS mb');
      log(`template: ${options.tables} tables x ${options.rows} rows, ${rows[0]?.mb ?? '?'} MB, built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      await client.end();
    }
    const conn = ['-h', cluster.host, '-p', String(cluster.port), '-U', cluster.superuser];
    const contenders: Array<{ name: string; argv: (db: string) => string[]; pgtools: boolean }> = options.tableJobs.map((n) => ({
      name: `pgtools --table-jobs ${n}`,
      argv: (db: string) => [process.execPath, cliPath, ...conn, '--json', ...(n === 1 ? [] : ['--table-jobs', String(n)]), db],
      pgtools: true,
    }));
    for (const other of [...(options.otherClis ?? [])].reverse()) {
      contenders.unshift({ name: other.name, argv: (db: string) => [process.execPath, other.path, ...conn, '--json', db], pgtools: true });
    }
    if (pgRepack) contenders.push({ name: 'pg_repack -d', argv: (db) => [pgRepack, ...conn, '--elevel', 'WARNING', '-d', db], pgtools: false });
    const rows: ManyTablesRow[] = contenders.map((c) => ({
      contender: c.name,
      command: c.argv('DBNAME').join(' '),
      wallS: [],
      phaseMs: [],
      maxHoldMs: [],
      load: [],
    }));
    for (let run = 1; run <= options.runs; run++) {
      for (const [i, c] of contenders.entries()) {
        const db = `many_tables_${run}_${i}`;
        await clone(cluster, template, db);
        const [cmd, ...args] = c.argv(db);
        const execute = (): ReturnType<typeof runMeasured> => runMeasured(cmd!, args);
        let out: Awaited<ReturnType<typeof runMeasured>>;
        let measure: LoadMeasure | undefined;
        if (options.load) {
          const admin = new pg.Client(cluster.clientConfig(db));
          await admin.connect();
          try {
            const conn = { host: cluster.host, port: cluster.port, user: cluster.superuser, database: db };
            ({ result: out, measure } = await underDatabaseLoad(admin, conn, { ...options.load, pgbench: `${cluster.binDir}/pgbench` }, shape, execute));
          } finally {
            await admin.end();
          }
          if (measure.mismatches.length > 0) throw new Error(`${c.name} changed the content: ${measure.mismatches.slice(0, 5).join('; ')}`);
        } else {
          out = await execute();
        }
        const wall = (out.endedAt - out.startedAt) / 1000;
        if (out.exitCode !== 0) throw new Error(`${c.name} exited ${out.exitCode}: ${(out.stderr || out.stdout).slice(-2000)}`);
        const row = rows[i]!;
        row.wallS.push(wall);
        if (measure) row.load.push(measure);
        if (c.pgtools) {
          const doc = JSON.parse(out.stdout) as {
            tables: Array<{ status: string; phases: Array<{ phase: string; ms: number }>; accessExclusive: Array<{ heldMs: number }> }>;
          };
          const sums: Record<string, number> = {};
          let maxHold = 0;
          for (const t of doc.tables) {
            if (t.status !== 'repacked') throw new Error(`${c.name}: a table was ${t.status}`);
            for (const p of t.phases) sums[p.phase] = (sums[p.phase] ?? 0) + p.ms;
            for (const h of t.accessExclusive) maxHold = Math.max(maxHold, h.heldMs);
          }
          row.phaseMs.push(sums);
          row.maxHoldMs.push(maxHold);
        }
        log(
          `run ${run} ${c.name}: ${wall.toFixed(2)} s${measure ? `, load p99 ${measure.p99Ms.toFixed(1)} ms, max ${measure.maxMs.toFixed(1)} ms, longest ACCESS EXCLUSIVE ${measure.longestHoldMs.toFixed(0)} ms` : ''}`,
        );
        await cluster.query(`DROP DATABASE ${quoteIdent(db)}`);
      }
    }
    return rows;
  } finally {
    await cluster.destroy();
  }
}

/**
 * The results as a markdown table: median wall, each run, and pgtools' phase sums per table (medians over the runs, summed over
 * the tables running at once). Under load also the longest ACCESS EXCLUSIVE the pg_locks sampler saw (worst run), the load's p99
 * (median of the runs) and max latency (worst run), and failed transactions.
 */
export function manyTablesReport(rows: ManyTablesRow[], options: ManyTablesOptions): string {
  const loaded = rows.some((r) => r.load.length > 0);
  const head = ['contender', 'median wall (s)', 'runs (s)', 'longest ACCESS EXCLUSIVE, own report (ms)'];
  if (loaded) head.push('longest ACCESS EXCLUSIVE, sampled (ms)', 'load p99 (ms)', 'load max (ms)', 'failed tx');
  head.push('per table: phase medians (ms)');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 || i === 2 || i === head.length - 1 ? '---' : '---:')).join('|')}|`];
  const worst = (values: number[]): string => (values.length === 0 ? '' : values.reduce((m, v) => Math.max(m, v), 0).toFixed(0));
  for (const r of rows) {
    const phases =
      r.phaseMs.length === 0
        ? ''
        : Object.keys(r.phaseMs[0] ?? {})
            .map((p) => `${p} ${((median(r.phaseMs.map((m) => m[p] ?? 0)) ?? 0) / (options.tables + (options.bigTables ?? 0))).toFixed(0)}`)
            .join(', ');
    const cells = [r.contender, (median(r.wallS) ?? 0).toFixed(2), r.wallS.map((w) => w.toFixed(2)).join(', '), worst(r.maxHoldMs)];
    if (loaded) {
      cells.push(
        worst(r.load.map((m) => m.longestHoldMs)),
        (median(r.load.map((m) => m.p99Ms)) ?? 0).toFixed(1),
        worst(r.load.map((m) => m.maxMs)),
        String(r.load.reduce((n, m) => n + m.failed, 0)),
      );
    }
    cells.push(phases);
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** `pg_repack --version`, for the report. */
export function pgRepackVersion(binDir: string): string | undefined {
  const p = findPgRepack(binDir);
  return p ? execFileSync(p, ['--version'], { encoding: 'utf8' }).trim() : undefined;
}

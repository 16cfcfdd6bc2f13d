import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { quoteIdent } from '@pgtools/core';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { findPgRepack } from './contenders.js';
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
}

/** One contender's runs: wall seconds each, and for pgtools the per-phase sums (ms) of each run. */
export interface ManyTablesRow {
  contender: string;
  command: string;
  wallS: number[];
  phaseMs: Array<Record<string, number>>;
  /** pgtools: the longest ACCESS EXCLUSIVE moment of each run, ms. */
  maxHoldMs: number[];
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
    const template = 'many_tables_template';
    await cluster.query(`CREATE DATABASE ${template}`);
    const client = new pg.Client(cluster.clientConfig(template));
    await client.connect();
    const t0 = Date.now();
    try {
      for (const sql of manyTablesStatements(options.tables, options.rows, options.bigTables ?? 0, options.bigRows ?? 0)) await client.query(sql);
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
    const rows: ManyTablesRow[] = contenders.map((c) => ({ contender: c.name, command: c.argv('DBNAME').join(' '), wallS: [], phaseMs: [], maxHoldMs: [] }));
    for (let run = 1; run <= options.runs; run++) {
      for (const [i, c] of contenders.entries()) {
        const db = `many_tables_${run}_${i}`;
        await clone(cluster, template, db);
        const [cmd, ...args] = c.argv(db);
        const started = process.hrtime.bigint();
        const out = spawnSync(cmd!, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
        const wall = Number(process.hrtime.bigint() - started) / 1e9;
        if (out.status !== 0) throw new Error(`${c.name} exited ${out.status}: ${(out.stderr || out.stdout).slice(-2000)}`);
        const row = rows[i]!;
        row.wallS.push(wall);
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
        log(`run ${run} ${c.name}: ${wall.toFixed(2)} s`);
        await cluster.query(`DROP DATABASE ${quoteIdent(db)}`);
      }
    }
    return rows;
  } finally {
    await cluster.destroy();
  }
}

/** The results as a markdown table: median wall, each run, and pgtools' phase sums per table (medians over the runs, summed over the tables running at once). */
export function manyTablesReport(rows: ManyTablesRow[], options: ManyTablesOptions): string {
  const lines = ['| contender | median wall (s) | runs (s) | longest ACCESS EXCLUSIVE (ms) | per table: phase medians (ms) |', '|---|---:|---|---:|---|'];
  for (const r of rows) {
    const phases =
      r.phaseMs.length === 0
        ? ''
        : Object.keys(r.phaseMs[0] ?? {})
            .map((p) => `${p} ${((median(r.phaseMs.map((m) => m[p] ?? 0)) ?? 0) / (options.tables + (options.bigTables ?? 0))).toFixed(0)}`)
            .join(', ');
    const hold = r.maxHoldMs.length === 0 ? '' : String(Math.max(...r.maxHoldMs));
    lines.push(`| ${r.contender} | ${(median(r.wallS) ?? 0).toFixed(2)} | ${r.wallS.map((w) => w.toFixed(2)).join(', ')} | ${hold} | ${phases} |`);
  }
  return lines.join('\n');
}

/** `pg_repack --version`, for the report. */
export function pgRepackVersion(binDir: string): string | undefined {
  const p = findPgRepack(binDir);
  return p ? execFileSync(p, ['--version'], { encoding: 'utf8' }).trim() : undefined;
}

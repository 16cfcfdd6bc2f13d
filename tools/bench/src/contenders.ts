import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quoteQualified } from '@pgtools/core';
import type { TableResult } from '@pgtools/repack';
import { pgBinDir, type PgMajor } from '@pgtools/testkit';
import { ALTER_ACTION } from './alter-scenario.js';
import { FIXTURE, TABLE_NAME } from './fixture.js';
import { runMeasured, type MeasuredRun } from './measured-process.js';
import type { ContenderName } from './options.js';

/** Where a contender connects. */
export interface Target {
  host: string;
  port: number;
  user: string;
  database: string;
}

/** What one contender run produced beyond the process measurements. */
export interface ContenderOutcome {
  run: MeasuredRun;
  ok: boolean;
  error?: string;
  /** pgtools only: its own result (phases, ACCESS EXCLUSIVE holds) and the time inside `repack()`. */
  pgtools?: { result: TableResult; innerMs: number };
}

/** Locations of the programs the contenders run. */
export interface Tools {
  binDir: string;
  pgRepack: string | undefined;
}

/**
 * Finds pg_repack for PostgreSQL 15: the versioned binary first (the `/usr/bin` one is a
 * wrapper script that would add its own process to the RSS figure).
 *
 * @example
 * ```ts
 * findPgRepack('/usr/lib/postgresql/15/bin'); // '/usr/lib/postgresql/15/bin/pg_repack' or undefined
 * ```
 */
/**
 * Where psql and pgbench are: the server's own directory on 15; Debian's 15 client tools for the
 * npm builds of 16-18, which ship none (both talk to newer servers).
 */
export function clientBinDir(serverBinDir: string, version: PgMajor): string {
  return version === 15 ? serverBinDir : pgBinDir(15);
}

export function findPgRepack(binDir: string): string | undefined {
  return [join(binDir, 'pg_repack'), '/usr/lib/postgresql/15/bin/pg_repack', '/usr/bin/pg_repack'].find((p) => existsSync(p));
}

/** The child script that runs one pgtools repack: built next to this module, or in dist/ when this runs from src/ (tests). */
const childScript = (): string => {
  const next = fileURLToPath(new URL('./pgtools-child.js', import.meta.url));
  return existsSync(next) ? next : fileURLToPath(new URL('../dist/pgtools-child.js', import.meta.url));
};

/**
 * The command a contender runs, as shown in the report.
 *
 * @example
 * ```ts
 * contenderCommand('vacuum-full', tools, target); // ['/usr/lib/postgresql/15/bin/psql', ...]
 * ```
 */
export function contenderCommand(name: Exclude<ContenderName, 'no-repack'>, tools: Tools, t: Target, pgtoolsJobs?: number): string[] {
  const conn = ['-h', t.host, '-p', String(t.port), '-U', t.user];
  switch (name) {
    case 'pgtools-catalog':
    case 'pgtools-rename': {
      const spec = {
        config: { host: t.host, port: t.port, user: t.user, database: t.database },
        table: TABLE_NAME,
        swap: name === 'pgtools-catalog' ? 'catalog' : 'rename',
        ...(pgtoolsJobs === undefined ? {} : { jobs: pgtoolsJobs }),
      };
      return [process.execPath, childScript(), JSON.stringify(spec)];
    }
    case 'pgtools-alter': {
      // `pgtools-repack -t public.bench --alter 'ALTER COLUMN id TYPE bigint'`, through the library in the same child as the repack contenders.
      const spec = {
        config: { host: t.host, port: t.port, user: t.user, database: t.database },
        table: TABLE_NAME,
        swap: 'rename',
        alter: [ALTER_ACTION],
        ...(pgtoolsJobs === undefined ? {} : { jobs: pgtoolsJobs }),
      };
      return [process.execPath, childScript(), JSON.stringify(spec)];
    }
    case 'plain-alter':
      return [
        join(tools.binDir, 'psql'),
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        ...conn,
        '-d',
        t.database,
        '-c',
        `ALTER TABLE ${quoteQualified(FIXTURE.schema, FIXTURE.table)} ${ALTER_ACTION}`,
      ];
    case 'pg_repack':
      if (!tools.pgRepack) throw new Error('pg_repack is not installed');
      return [tools.pgRepack, ...conn, '-d', t.database, '--table', TABLE_NAME, '--elevel', 'WARNING'];
    case 'vacuum-full':
      // ANALYZE too: both online tools analyze the new table by default.
      return [join(tools.binDir, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', ...conn, '-d', t.database, '-c', `VACUUM (FULL, ANALYZE) ${TABLE_NAME}`];
  }
}

/**
 * Runs one contender to completion in its own process and reads its outcome.
 *
 * @example
 * ```ts
 * const outcome = await runContender('pg_repack', tools, target);
 * console.log(outcome.ok, outcome.run.endedAt - outcome.run.startedAt, 'ms');
 * ```
 */
export async function runContender(name: Exclude<ContenderName, 'no-repack'>, tools: Tools, t: Target, pgtoolsJobs?: number): Promise<ContenderOutcome> {
  const [cmd, ...args] = contenderCommand(name, tools, t, pgtoolsJobs);
  const run = await runMeasured(cmd!, args);
  if (name === 'pgtools-catalog' || name === 'pgtools-rename' || name === 'pgtools-alter') {
    try {
      const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as { startedAt: number; endedAt: number; result: { tables: TableResult[] } };
      const table = out.result.tables[0];
      if (!table) return { run, ok: false, error: 'no table in the result' };
      const pgtools = { result: table, innerMs: out.endedAt - out.startedAt };
      if (table.status !== 'repacked') return { run, ok: false, error: `${table.status}: ${table.code ?? ''} ${table.message ?? ''}`.trim(), pgtools };
      return { run, ok: true, pgtools };
    } catch {
      return { run, ok: false, error: `exit ${run.exitCode}: ${run.stderr.trim().slice(-1000)}` };
    }
  }
  if (run.exitCode !== 0) return { run, ok: false, error: `exit ${run.exitCode}: ${(run.stderr || run.stdout).trim().slice(-1000)}` };
  return { run, ok: true };
}

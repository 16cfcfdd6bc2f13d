import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { quoteIdent } from '@pgtools/core';
import { startPostgres } from '@pgtools/testkit';
import { renderAlterReport } from './alter-report.js';
import { fixtureIdType } from './alter-scenario.js';
import { checkAlterTargets } from './alter-targets.js';
import { clientBinDir, findPgRepack, type Tools } from './contenders.js';
import { fixtureStatements, pgbenchScript, TABLE_NAME } from './fixture.js';
import { pgbenchArgs } from './load.js';
import { describeMachine } from './machine.js';
import type { BenchOptions, ContenderName } from './options.js';
import { runPass, type PassResult } from './pass.js';
import { renderReport, resultsTable } from './report.js';
import { benchSettings } from './settings.js';
import { TABLE_SIZE_SQL } from './verify.js';
import { checkTargets, summarize, type ContenderSummary, type TargetCheck } from './summary.js';

/** What a benchmark run produced. */
export interface BenchmarkResult {
  passes: PassResult[];
  summaries: ContenderSummary[];
  targets: TargetCheck[];
  /** The markdown table alone. */
  table: string;
  /** The whole markdown document. */
  report: string;
  /** True when every pass ran, was correct and no contender had to be skipped. */
  allOk: boolean;
}

const TEMPLATE = 'bench_template';

/**
 * Runs the whole benchmark: its own PostgreSQL (15 unless `--pg` says otherwise), the bloated template table, then every
 * contender `runs` times, interleaved, under the fixed-rate load (and again unthrottled), and
 * renders the report. With `scenario: 'alter'` the table's id is an integer, the contenders widen
 * it to bigint, and the targets and the report are issue 19's. Progress lines go to `log`.
 *
 * @example
 * ```ts
 * import { parseBenchArgs, runBenchmark } from '@pgtools/bench';
 *
 * const result = await runBenchmark(parseBenchArgs(['--rows', '100000', '--runs', '1']), {
 *   command: 'pnpm bench:repack --rows 100000 --runs 1',
 *   log: (line) => console.error(line),
 * });
 * console.log(result.table);
 * ```
 */
export async function runBenchmark(options: BenchOptions, { command, log }: { command: string; log: (line: string) => void }): Promise<BenchmarkResult> {
  const settings = benchSettings({ fsync: options.fsync });
  const machine = describeMachine();
  const notes: string[] = [];
  let contenders: ContenderName[] = [...options.contenders];
  log(
    `starting PostgreSQL ${options.pgVersion} with ${Object.entries(settings)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')}`,
  );
  const cluster = await startPostgres({ settings, name: 'bench', version: options.pgVersion });
  try {
    const tools: Tools = { binDir: clientBinDir(cluster.binDir, cluster.version), pgRepack: findPgRepack(cluster.binDir) };
    let pgRepackVersion: string | undefined;
    if (tools.pgRepack) {
      pgRepackVersion = execFileSync(tools.pgRepack, ['--version'], { encoding: 'utf8' })
        .trim()
        .replace(/^pg_repack\s*/, '');
    } else if (contenders.includes('pg_repack')) {
      contenders = contenders.filter((c) => c !== 'pg_repack');
      notes.push('pg_repack skipped: not installed (Debian: `apt-get install postgresql-15-repack`).');
    }

    const t0 = Date.now();
    log(`building the template table: ${options.rows} rows`);
    await cluster.query(`CREATE DATABASE ${quoteIdent(TEMPLATE)}`);
    const client = new pg.Client(cluster.clientConfig(TEMPLATE));
    await client.connect();
    let table: { heapMB: number; totalMB: number; liveRows: number; buildS: number };
    let postgresVersion: string;
    try {
      for (const sql of fixtureStatements(options.rows, fixtureIdType(options.scenario), options.partitions)) await client.query(sql);
      if (options.amcheck) await client.query('CREATE EXTENSION amcheck');
      if (contenders.includes('pg_repack')) {
        try {
          await client.query('CREATE EXTENSION pg_repack');
        } catch (err) {
          contenders = contenders.filter((c) => c !== 'pg_repack');
          notes.push(`pg_repack skipped: CREATE EXTENSION pg_repack failed (${(err as Error).message}).`);
        }
      }
      const { rows } = await client.query<{ heap: string; total: string; live: string; version: string }>(
        `SELECT s.heap, s.total, (SELECT count(*) FROM ${TABLE_NAME})::text AS live, version() AS version FROM (${TABLE_SIZE_SQL}) s`,
        [TABLE_NAME],
      );
      const r = rows[0]!;
      postgresVersion = r.version.replace(/ on .*$/, '');
      table = { heapMB: Number(r.heap) / 1048576, totalMB: Number(r.total) / 1048576, liveRows: Number(r.live), buildS: (Date.now() - t0) / 1000 };
      await client.query('CHECKPOINT');
    } finally {
      await client.end();
    }
    log(
      `template ready in ${table.buildS.toFixed(1)} s: ${table.liveRows} live rows, heap ${table.heapMB.toFixed(0)} MB, total ${table.totalMB.toFixed(0)} MB`,
    );

    const ctx = { host: cluster.host, port: cluster.port, user: cluster.superuser, template: TEMPLATE, tools, options, log };
    const loads: Array<'throttled' | 'unthrottled'> = options.unthrottled ? ['throttled', 'unthrottled'] : ['throttled'];
    const total = options.runs * contenders.length * loads.length;
    const passes: PassResult[] = [];
    let failedToRun = 0;
    let n = 0;
    let loadCommand = '';
    for (let run = 1; run <= options.runs; run++) {
      for (const contender of contenders) {
        for (const load of loads) {
          n++;
          try {
            const p = await runPass(ctx, contender, run, load);
            passes.push(p);
            if (load === 'throttled') loadCommand = p.loadCommand;
            log(
              `[${n}/${total}] ${contender} run ${run} ${load}: wall ${(p.wallMs / 1000).toFixed(2)} s, ` +
                `load p99 ${p.loadStats.p99Ms?.toFixed(1) ?? '—'} ms max ${p.loadStats.maxMs?.toFixed(1) ?? '—'} ms, ${p.loadStats.tps.toFixed(0)} tps, ` +
                `AE ${p.sampledHolds.map((h) => h.estimateMs.toFixed(0)).join('+') || '—'} ms, WAL ${(p.walBytes / 1048576).toFixed(0)} MB` +
                `${p.maxRssKb ? `, RSS ${(p.maxRssKb / 1024).toFixed(0)} MB` : ''}, ${p.ok ? 'ok' : `FAILED: ${p.error}`}`,
            );
          } catch (err) {
            failedToRun++;
            const message = `${contender} run ${run} ${load} could not run: ${(err as Error).message}`;
            notes.push(message);
            log(`[${n}/${total}] ${message}`);
          }
        }
      }
    }

    const summaries = summarize(passes, contenders);
    const alter = options.scenario === 'alter';
    const targets = alter ? checkAlterTargets(summaries) : checkTargets(summaries);
    if (!loadCommand) {
      loadCommand = `pgbench ${pgbenchArgs(
        {
          pgbench: 'pgbench',
          host: cluster.host,
          port: cluster.port,
          user: cluster.superuser,
          database: '<db>',
          rows: options.rows,
          clients: options.clients,
          threads: options.threads,
          tps: options.tps,
        },
        '<script>',
        '<tmp>/tx',
      ).join(' ')}`;
    }
    const report = (alter ? renderAlterReport : renderReport)({
      command,
      date: new Date().toISOString(),
      machine,
      postgresVersion,
      pgRepackVersion,
      settings,
      options: { ...options, contenders },
      table,
      loadCommand,
      loadScript: pgbenchScript(),
      summaries,
      targets,
      passes,
      notes,
    });
    return {
      passes,
      summaries,
      targets,
      table: resultsTable(summaries),
      report,
      allOk: failedToRun === 0 && passes.every((p) => p.ok) && contenders.length === options.contenders.length,
    };
  } finally {
    await cluster.destroy();
  }
}

import { cleanupLeftovers, planRepack, repack, type RepackResult, type TableResult } from '@pgtools/repack';
import { createStreamLogger, PgToolsError } from '@pgtools/core';
import pkg from '../package.json' with { type: 'json' };
import { EXIT, HELP, parseCliArgs, UsageError, type CliOptions } from './args.js';
import { connectionConfig, promptPassword } from './connection.js';
import { createRenderer } from './render.js';

const NOT_YET: Array<[keyof CliOptions, string]> = [
  ['all', '-a/--all'],
  ['parentTables', '-I/--parent-table'],
  ['schemas', '-c/--schema'],
  ['tablespace', '-s/--tablespace'],
  ['moveIndexes', '-S/--moveidx'],
  ['orderBy', '-o/--order-by'],
  ['indexes', '-i/--index'],
  ['onlyIndexes', '-x/--only-indexes'],
  ['excludeExtensions', '-C/--exclude-extension'],
  ['ifBloatedPct', '--if-bloated'],
  ['maxReplicaLag', '--max-replica-lag'],
  ['maxRate', '--max-rate'],
];

/** Runs pgtools-repack with `argv` (without node and script) and resolves with the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCliArgs(argv);
    for (const [key, flag] of NOT_YET) {
      const v = options[key];
      if (v === true || (Array.isArray(v) && v.length > 0) || (typeof v === 'string' || typeof v === 'number')) {
        throw new UsageError(`${flag} is not supported by this version of pgtools-repack yet`);
      }
    }
    if (!options.help && !options.version && !options.cleanup && options.tables.length === 0) {
      throw new UsageError('no table given: use -t/--table (whole-database runs are not supported yet)');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`pgtools-repack: ${err.message}\nTry "pgtools-repack --help" for more information.\n`);
      return EXIT.usage;
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (options.version) {
    process.stdout.write(`pgtools-repack ${pkg.version}\n`);
    return EXIT.ok;
  }

  let password: string | undefined;
  if (options.connection.password === 'force') {
    try {
      password = await promptPassword('Password: ');
    } catch (err) {
      process.stderr.write(`pgtools-repack: ${(err as Error).message}\n`);
      return EXIT.usage;
    }
  }
  const db = connectionConfig(options.connection, env, password);
  const logger = createStreamLogger(process.stderr, { level: options.echo ? 'debug' : 'warn', json: false });
  const renderer = createRenderer(process.stderr, { echo: options.echo, quiet: options.json });
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\npgtools-repack: interrupted; stopping safely and cleaning up (press Ctrl-C again to quit at once)\n');
      controller.abort(new Error('interrupted'));
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (options.cleanup) {
      const report = await cleanupLeftovers(db, { waitTimeoutMs: options.waitTimeoutSec * 1000, logger });
      if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        for (const r of report.removed) process.stderr.write(`INFO: removed ${r}\n`);
        for (const k of report.kept) process.stderr.write(`WARNING: kept ${k.object}: ${k.reason}\n`);
        if (report.removed.length === 0 && report.kept.length === 0) process.stderr.write('INFO: no leftovers found\n');
      }
      return report.kept.length > 0 ? EXIT.failed : EXIT.ok;
    }
    if (options.dryRun) {
      const plans = [];
      for (const table of options.tables) plans.push(...(await planRepack(db, { table, swap: options.swap })));
      if (options.json) process.stdout.write(`${JSON.stringify({ dryRun: true, tables: plans }, null, 2)}\n`);
      else for (const p of plans) process.stdout.write(`${renderer.plan(p).join('\n')}\n`);
      return plans.every((p) => p.ok) ? EXIT.ok : plans.some((p) => p.problems.some((x) => x.severity === 'refuse')) ? EXIT.failed : EXIT.skipped;
    }
    const tables: TableResult[] = [];
    for (const table of options.tables) {
      const result: RepackResult = await repack(db, {
        table,
        swap: options.swap,
        waitTimeoutMs: options.waitTimeoutSec * 1000,
        onBlockers: options.noKillBackend ? 'give-up' : 'terminate',
        onDdl: options.noKillBackend ? 'give-up' : 'cancel',
        snapshotWaitMs: options.snapshotWaitSec * 1000,
        analyze: !options.noAnalyze,
        jobs: options.jobs,
        signal: controller.signal,
        logger,
        onEvent: renderer.onEvent,
        ...(options.echo ? { onQuery: (sql: string) => renderer.echo(sql) } : {}),
      });
      tables.push(...result.tables);
      renderer.clear();
      if (!options.json) for (const t of result.tables) process.stderr.write(`${renderer.summary(t).join('\n')}\n`);
      if (controller.signal.aborted) break;
    }
    const exitCode = tables.some((t) => t.status === 'failed') ? EXIT.failed : tables.some((t) => t.status === 'skipped') ? EXIT.skipped : EXIT.ok;
    if (options.json) process.stdout.write(`${JSON.stringify({ exitCode, tables }, null, 2)}\n`);
    return exitCode;
  } catch (err) {
    renderer.clear();
    if (err instanceof PgToolsError) {
      process.stderr.write(`pgtools-repack: ERROR: ${err.message}\n`);
      if (err.hint) process.stderr.write(`HINT: ${err.hint}\n`);
      return err.code === 'table_not_found' || err.code === 'invalid_name' ? EXIT.usage : EXIT.failed;
    }
    const e = err as Error & { code?: string };
    process.stderr.write(`pgtools-repack: ERROR: ${e.message}${e.code === 'ECONNREFUSED' ? ' (is the server running? check -h/-p or PGHOST/PGPORT)' : ''}\n`);
    return EXIT.failed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

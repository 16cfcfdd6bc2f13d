import type pg from 'pg';
import {
  checkServerVersion,
  cleanupLeftovers,
  exitCodeOf,
  inspectServer,
  listDatabases,
  parseOrderBy,
  alterRequest,
  parseColumnOrder,
  parseReplicaLag,
  planRepack,
  readProgress,
  repack,
  repackIndexes,
  resolveSwapMode,
  type RepackResult,
  type ServerInfo,
  type TablePlan,
  type TableResult,
  type TargetSelection,
} from '@pgtools/repack';
import { createStreamLogger, PgToolsError, silentLogger, SQLSTATE } from '@pgtools/core';
import pkg from '../package.json' with { type: 'json' };
import { applyOptions, EXIT, HELP, parseCliArgs, UsageError, type CliOptions } from './args.js';
import { connectionConfig, promptPassword } from './connection.js';
import { verbosityOf } from './elevel.js';
import { allowInvalidIndexes, findInvalidIndexes } from './invalid-indexes.js';
import { checkPrivileges } from './privileges.js';
import { createRenderer } from './render.js';
import { statusLines } from './status.js';

/** Thrown codes that mean "fix the command line or point it elsewhere" (exit 2) rather than a failed run. */
const USAGE_CODES = [
  'table_not_found',
  'invalid_name',
  'index_not_found',
  'schema_not_found',
  'invalid_option',
  'no_target',
  'catalog_swap_requires_superuser',
  'unsupported_server_version',
];

/** The dry run's first line: the server and the swap a run would use. */
function serverLine(server: ServerInfo, swap: CliOptions['swap']): string {
  const mode = resolveSwapMode(swap, server.superuser);
  const why = swap === 'auto' ? ` (--swap=auto: ${server.superuser ? 'superuser' : 'not a superuser'})` : '';
  return `server: PostgreSQL ${server.version} (server_version_num ${server.versionNum}); swap: ${mode}${why}`;
}

/** pg_repack's own refusals of flag combinations (bin/pg_repack.c), plus ours; UsageError means exit 2. */
export function checkCombinations(o: CliOptions): void {
  // -a with -d DBNAME (pg_repack 1.4.8+): DBNAME is only where the list of databases is read.
  if (o.all) {
    if (o.tables.length > 0 || o.parentTables.length > 0) throw new UsageError('cannot repack specific table(s) in all databases');
    if (o.schemas.length > 0) throw new UsageError('cannot repack specific schema(s) in all databases');
    if (o.indexes.length > 0) throw new UsageError('cannot repack specific index(es) in all databases');
  }
  if (o.status && (o.cleanup || o.all || o.dryRun)) throw new UsageError('--status cannot be combined with --cleanup, --all or --dry-run');
  if (o.onlyIndexes && o.tables.length === 0 && o.parentTables.length === 0) {
    throw new UsageError('cannot repack all indexes of database, specify the table(s) via --table (-t) or --parent-table (-I)');
  }
  if (o.indexes.length > 0 && o.onlyIndexes) throw new UsageError('cannot specify --index (-i) and --only-indexes (-x) together');
  // -s with -x/-i moves the indexes (pg_repack: "pg_repack -d test --index idx --tablespace tbs").
  if ((o.indexes.length > 0 || o.onlyIndexes) && (o.orderBy !== undefined || o.noOrder || o.ifBloatedPct !== undefined)) {
    throw new UsageError('--index/--only-indexes rebuild indexes only: --order-by, --no-order and --if-bloated do not apply');
  }
  if (o.indexes.length > 0 && o.schemas.length > 0) throw new UsageError('cannot specify --index (-i) and --schema (-c) together');
  if (o.moveIndexes && o.tablespace === undefined) throw new UsageError('cannot specify --moveidx (-S) without --tablespace (-s)');
  if (o.orderBy !== undefined) {
    try {
      parseOrderBy(o.orderBy);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (o.maxReplicaLag !== undefined) {
    try {
      parseReplicaLag(o.maxReplicaLag);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (o.alter.length > 0 || o.columnOrder !== undefined) {
    const flag = o.alter.length > 0 ? '--alter' : '--column-order';
    if (o.tables.length !== 1 || o.parentTables.length > 0 || o.schemas.length > 0 || o.all) throw new UsageError(`${flag} needs exactly one --table (-t)`);
    if (o.indexes.length > 0 || o.onlyIndexes) throw new UsageError(`${flag} rewrites the table: --index/--only-indexes do not apply`);
    if (o.swap === 'catalog') throw new UsageError(`${flag} needs the rename swap: --swap=catalog cannot be used with it`);
    try {
      alterRequest({ alter: o.alter, columnOrder: columnOrderOf(o) });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (o.maxRate !== undefined && o.maxRate <= 0) throw new UsageError('--max-rate expects a positive number of rows per second');
}

/** The same connection settings aimed at another database (for -a). */
/** `--column-order` as names (checked by checkCombinations first). */
function columnOrderOf(o: Pick<CliOptions, 'columnOrder'>): string[] | undefined {
  return o.columnOrder === undefined ? undefined : parseColumnOrder(o.columnOrder);
}

function forDatabase(config: pg.ClientConfig, database: string): pg.ClientConfig {
  if (config.connectionString) {
    const url = new URL(config.connectionString);
    url.pathname = `/${encodeURIComponent(database)}`;
    return { ...config, connectionString: url.toString() };
  }
  return { ...config, database };
}

/** Runs pgtools-repack with `argv` (without node and script) and resolves with the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCliArgs(argv);
    if (!options.help && !options.version) checkCombinations(options);
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
  const verbosity = verbosityOf(options.elevel, options.echo);
  const logger = verbosity.logger === 'silent' ? silentLogger : createStreamLogger(process.stderr, { level: verbosity.logger, json: false });
  const renderer = createRenderer(process.stderr, { echo: options.echo, quiet: options.json, verbosity, concurrentTables: (options.tableJobs ?? 1) > 1 });
  // Lines of the CLI itself, filtered by -E like the renderer's.
  const say = (kind: 'info' | 'warning' | 'error', text: string): void => {
    if (renderer.shows(kind)) process.stderr.write(`${text}\n`);
  };
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
    if (options.status) {
      const rows = await readProgress(db);
      process.stdout.write(options.json ? `${JSON.stringify({ tables: rows }, null, 2)}\n` : `${statusLines(rows).join('\n')}\n`);
      return EXIT.ok;
    }
    if (options.cleanup) {
      const report = await cleanupLeftovers(db, { waitTimeoutMs: options.waitTimeoutSec * 1000, logger });
      if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        for (const r of report.removed) say('info', `INFO: removed ${r}`);
        for (const k of report.kept) say('warning', `WARNING: kept ${k.object}: ${k.reason}`);
        if (report.removed.length === 0 && report.kept.length === 0) say('info', 'INFO: no leftovers found');
      }
      return report.kept.length > 0 ? EXIT.failed : EXIT.ok;
    }
    const selection: TargetSelection = {
      tables: options.tables,
      schemas: options.schemas,
      parentTables: options.parentTables,
      excludeExtensions: options.excludeExtensions,
      // pg_repack without -t, -I, -c or -i: every table of the database.
      allTables: options.tables.length === 0 && options.parentTables.length === 0 && options.schemas.length === 0 && options.indexes.length === 0,
    };
    const databases = options.all ? await listDatabases(db) : [undefined];
    const tables: Array<TableResult & { database?: string }> = [];
    const plans: Array<TablePlan & { database?: string }> = [];
    let server: ServerInfo | undefined;
    for (const database of databases) {
      if (controller.signal.aborted) break;
      const target = database === undefined ? db : forDatabase(db, database);
      const tag = <T extends object>(x: T): T & { database?: string } => (database === undefined ? x : { database, ...x });
      if (database !== undefined && !options.json) say('info', `INFO: repacking database "${database}"`);
      // Before anything else: a server outside the tested range is refused here, naming both (exit 2).
      const here = await inspectServer(target);
      checkServerVersion(here.versionNum, here.version);
      server ??= here;
      // pg_repack's client-side superuser check, turned into "what this role needs"; -k skips it like pg_repack's.
      if (!options.noSuperuserCheck) {
        await checkPrivileges(target, { selection, swap: options.swap, indexesOnly: options.onlyIndexes || options.indexes.length > 0 });
      }
      if (options.dryRun) {
        const found = await planRepack(target, {
          ...selection,
          swap: options.swap,
          ...(options.orderBy !== undefined ? { orderBy: options.orderBy } : options.noOrder ? { orderBy: false } : {}),
          ...(options.tablespace !== undefined ? { tablespace: options.tablespace } : {}),
          ...(options.ifBloatedPct !== undefined ? { ifBloatedPct: options.ifBloatedPct } : {}),
          ...(options.alter.length > 0 ? { alter: options.alter } : {}),
          ...(options.columnOrder !== undefined ? { columnOrder: columnOrderOf(options) } : {}),
        });
        plans.push(...found.map((p) => tag(options.noErrorOnInvalidIndex ? allowInvalidIndexes(p) : p)));
        continue;
      }
      const common = {
        waitTimeoutMs: options.waitTimeoutSec * 1000,
        onBlockers: options.noKillBackend ? ('give-up' as const) : ('terminate' as const),
        signal: controller.signal,
        logger,
        onEvent: renderer.onEvent,
        ...(options.echo ? { onQuery: (sql: string) => renderer.echo(sql) } : {}),
      };
      const indexesOnly = options.onlyIndexes || options.indexes.length > 0;
      // --no-error-on-invalid-index: rebuild the invalid indexes first, so the repack finds none; a
      // table whose rebuild failed reports that failure instead of "invalid index".
      const unrepaired = new Set<string>();
      if (!indexesOnly && options.noErrorOnInvalidIndex) {
        const invalid = await findInvalidIndexes(target, selection);
        if (invalid.length > 0) {
          for (const i of invalid)
            say(
              'warning',
              `WARNING: invalid index ${i.index} on "${i.table}": rebuilding it first with REINDEX INDEX CONCURRENTLY (--no-error-on-invalid-index)`,
            );
          const rebuilt = await repackIndexes(target, { indexes: invalid.map((i) => i.index), ...common });
          for (const t of rebuilt.tables.filter((x) => x.status !== 'repacked')) {
            unrepaired.add(t.table);
            tables.push(tag(t));
          }
        }
      }
      const result: RepackResult = indexesOnly
        ? await repackIndexes(target, {
            ...selection,
            allTables: false,
            ...(options.indexes.length > 0 ? { indexes: options.indexes } : {}),
            ...(options.tablespace !== undefined ? { tablespace: options.tablespace } : {}),
            ...common,
          })
        : await repack(target, {
            ...selection,
            ...common,
            swap: options.swap,
            onDdl: options.noKillBackend ? 'give-up' : 'cancel',
            snapshotWaitMs: options.snapshotWaitSec * 1000,
            analyze: !options.noAnalyze,
            ...applyOptions(options),
            ...(options.jobs !== undefined ? { jobs: options.jobs } : {}),
            ...(options.tableJobs !== undefined ? { tableConcurrency: options.tableJobs } : {}),
            ...(options.orderBy !== undefined ? { orderBy: options.orderBy } : options.noOrder ? { orderBy: false } : {}),
            ...(options.ifBloatedPct !== undefined ? { ifBloatedPct: options.ifBloatedPct } : {}),
            ...(options.maxRate !== undefined ? { maxRate: options.maxRate } : {}),
            ...(options.alter.length > 0 ? { alter: options.alter } : {}),
            ...(options.columnOrder !== undefined ? { columnOrder: columnOrderOf(options) } : {}),
            ...(options.maxReplicaLag !== undefined ? { maxReplicaLag: options.maxReplicaLag } : {}),
            ...(options.tablespace !== undefined ? { tablespace: options.tablespace, moveIndexes: options.moveIndexes } : {}),
          });
      tables.push(...result.tables.filter((t) => !(unrepaired.has(t.table) && t.code === 'invalid_index')).map(tag));
      renderer.clear();
    }
    if (options.dryRun) {
      const swap = server ? resolveSwapMode(options.swap, server.superuser) : undefined;
      if (options.json)
        process.stdout.write(`${JSON.stringify({ dryRun: true, ...(server ? { server: { ...server, swap } } : {}), tables: plans }, null, 2)}\n`);
      else {
        if (server) process.stdout.write(`${serverLine(server, options.swap)}\n`);
        for (const p of plans) process.stdout.write(`${renderer.plan(p).join('\n')}\n`);
      }
      const wouldRun = plans.filter((p) => p.selected);
      return wouldRun.every((p) => p.ok) ? EXIT.ok : wouldRun.some((p) => p.problems.some((x) => x.severity === 'refuse')) ? EXIT.failed : EXIT.skipped;
    }
    const exitCode = exitCodeOf(tables);
    if (options.json) process.stdout.write(`${JSON.stringify({ exitCode, tables }, null, 2)}\n`);
    else {
      for (const t of tables) {
        say(t.status === 'failed' ? 'error' : t.status === 'skipped' ? 'warning' : 'info', renderer.summary(t).join('\n'));
        // The server itself refused the catalog update (hardened or managed server): the rename swap needs no catalog write.
        if (t.status === 'failed' && t.swap === 'catalog' && t.sqlState === SQLSTATE.insufficientPrivilege) {
          say(
            'error',
            `HINT: the server refused the catalog swap (permission denied); "${t.table}" is intact: run again with --swap=rename, which needs only ownership of the table`,
          );
        }
      }
      const unfinished = tables.some((t) => t.status === 'skipped' || t.status === 'failed');
      if (tables.length > 1 || tables.some((t) => t.status !== 'repacked')) say(unfinished ? 'warning' : 'info', renderer.summaryTable(tables).join('\n'));
    }
    return exitCode;
  } catch (err) {
    renderer.clear();
    if (err instanceof PgToolsError) {
      process.stderr.write(`pgtools-repack: ERROR: ${err.message}\n`);
      if (err.hint && !err.message.includes(err.hint)) process.stderr.write(`HINT: ${err.hint}\n`);
      return USAGE_CODES.includes(err.code) ? EXIT.usage : EXIT.failed;
    }
    const e = err as Error & { code?: string };
    process.stderr.write(`pgtools-repack: ERROR: ${e.message}${e.code === 'ECONNREFUSED' ? ' (is the server running? check -h/-p or PGHOST/PGPORT)' : ''}\n`);
    return EXIT.failed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

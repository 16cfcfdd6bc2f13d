import { parseArgs } from 'node:util';
import { parseElevel, type Elevel } from './elevel.js';

/** Exit codes shared by both CLIs (../shared/interfaces.md). */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  skipped: 3,
} as const;

export type SwapMode = 'auto' | 'catalog' | 'rename';

/** What the command line asked for, before any connection is made. */
export interface CliOptions {
  help: boolean;
  version: boolean;
  all: boolean;
  tables: string[];
  parentTables: string[];
  schemas: string[];
  tablespace: string | undefined;
  moveIndexes: boolean;
  orderBy: string | undefined;
  noOrder: boolean;
  dryRun: boolean;
  /** Undefined: the library's default (2 connections, 1 when the pool has no spare one). */
  jobs: number | undefined;
  /** `--table-jobs`: tables repacked at once (library `tableConcurrency`). */
  tableJobs: number | undefined;
  indexes: string[];
  onlyIndexes: boolean;
  waitTimeoutSec: number;
  noKillBackend: boolean;
  noAnalyze: boolean;
  noSuperuserCheck: boolean;
  excludeExtensions: string[];
  /**
   * `--no-error-on-invalid-index` (pg_repack 1.5): repack a table even though it has an invalid
   * index. Default false (`--error-on-invalid-index`, pg_repack 1.5.2's default): such a table fails.
   */
  noErrorOnInvalidIndex: boolean;
  /** `--apply-count`: log entries replayed per batch; undefined: the library's default. */
  applyCount: number | undefined;
  /** `--switch-threshold`: swap once at most this many entries are left; undefined: the library's default. */
  switchThreshold: number | undefined;
  connection: {
    dbname: string | undefined;
    host: string | undefined;
    port: number | undefined;
    user: string | undefined;
    /** -w: never prompt; -W: always prompt. */
    password: 'never' | 'force' | 'auto';
  };
  echo: boolean;
  /** `-E`: pg_repack's message level; undefined: the CLI's usual output (INFO). */
  elevel: Elevel | undefined;
  swap: SwapMode;
  /** `--alter` (repeatable): ALTER TABLE actions for an online schema change of the one `-t` table. */
  alter: string[];
  /** `--column-order`: the new definition's columns, comma-separated, in the order the table is rewritten with. */
  columnOrder: string | undefined;
  json: boolean;
  cleanup: boolean;
  /** `--status`: print the repacks running in the database (their progress rows), then exit. */
  status: boolean;
  ifBloatedPct: number | undefined;
  maxReplicaLag: string | undefined;
  maxRate: number | undefined;
  snapshotWaitSec: number;
}

/** A command-line mistake; the CLI prints it with the usage hint and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const spec = {
  all: { type: 'boolean', short: 'a' },
  table: { type: 'string', short: 't', multiple: true },
  'parent-table': { type: 'string', short: 'I', multiple: true },
  schema: { type: 'string', short: 'c', multiple: true },
  tablespace: { type: 'string', short: 's' },
  moveidx: { type: 'boolean', short: 'S' },
  'order-by': { type: 'string', short: 'o' },
  'no-order': { type: 'boolean', short: 'n' },
  'dry-run': { type: 'boolean', short: 'N' },
  jobs: { type: 'string', short: 'j' },
  'table-jobs': { type: 'string' },
  index: { type: 'string', short: 'i', multiple: true },
  'only-indexes': { type: 'boolean', short: 'x' },
  'wait-timeout': { type: 'string', short: 'T' },
  'no-kill-backend': { type: 'boolean', short: 'D' },
  'no-analyze': { type: 'boolean', short: 'Z' },
  'no-superuser-check': { type: 'boolean', short: 'k' },
  'exclude-extension': { type: 'string', short: 'C', multiple: true },
  'error-on-invalid-index': { type: 'boolean' },
  'no-error-on-invalid-index': { type: 'boolean' },
  'apply-count': { type: 'string' },
  'switch-threshold': { type: 'string' },
  dbname: { type: 'string', short: 'd' },
  host: { type: 'string', short: 'h' },
  port: { type: 'string', short: 'p' },
  username: { type: 'string', short: 'U' },
  'no-password': { type: 'boolean', short: 'w' },
  password: { type: 'boolean', short: 'W' },
  echo: { type: 'boolean', short: 'e' },
  elevel: { type: 'string', short: 'E' },
  swap: { type: 'string' },
  alter: { type: 'string', multiple: true },
  'column-order': { type: 'string' },
  json: { type: 'boolean' },
  cleanup: { type: 'boolean' },
  status: { type: 'boolean' },
  'if-bloated': { type: 'string' },
  'max-replica-lag': { type: 'string' },
  'max-rate': { type: 'string' },
  'snapshot-wait': { type: 'string' },
  version: { type: 'boolean', short: 'V' },
  help: { type: 'boolean', short: '?' },
} as const;

/** The library's defaults (packages/repack/src/options.ts: applyBatchSize 10 000, switchThreshold 1 000). */
const LIBRARY_APPLY_BATCH = 10_000;
const LIBRARY_SWITCH_BELOW = 1_000;

/**
 * pg_repack's `--apply-count N` and `--switch-threshold T` as the library's options. pg_repack keeps
 * replaying while a batch applied more than T (bin/pg_repack.c, `num > switch_threshold`); the
 * library stops once a batch applied fewer than `switchThreshold`, so that is T + 1. With only
 * `--apply-count`, the threshold keeps pg_repack's proportion (1000 and 100) up to the library's default.
 *
 * @example
 * ```ts
 * applyOptions({ applyCount: 1000, switchThreshold: undefined }); // { applyBatchSize: 1000, switchThreshold: 101 }
 * ```
 */
export function applyOptions(o: Pick<CliOptions, 'applyCount' | 'switchThreshold'>): { applyBatchSize?: number; switchThreshold?: number } {
  const threshold = o.switchThreshold ?? (o.applyCount === undefined ? undefined : Math.min(Math.floor(o.applyCount / 10), LIBRARY_SWITCH_BELOW - 1));
  return {
    ...(o.applyCount !== undefined ? { applyBatchSize: o.applyCount } : {}),
    ...(threshold !== undefined ? { switchThreshold: threshold + 1 } : {}),
  };
}

function wholeNumber(flag: string, value: string | undefined, least: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < least) throw new UsageError(`${flag} expects a whole number of at least ${least}, got "${value}"`);
  return n;
}

function nonNegativeNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || value.trim() === '') throw new UsageError(`${flag} expects a non-negative number, got "${value}"`);
  return n;
}

/**
 * Turns argv into {@link CliOptions} with pg_repack 1.4.8's flags and ours. Throws
 * {@link UsageError} on anything it cannot take literally.
 */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: spec, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^.*?: /, ''));
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`too many arguments: ${positionals.slice(1).join(' ')}`);
  const swap = values.swap ?? 'auto';
  if (swap !== 'auto' && swap !== 'catalog' && swap !== 'rename') {
    throw new UsageError(`--swap must be auto, catalog or rename, got "${swap}"`);
  }
  const jobs = values.jobs === undefined ? undefined : nonNegativeNumber('--jobs', values.jobs, 1);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new UsageError(`--jobs expects a whole number of at least 1, got "${values.jobs}"`);
  const tableJobsText = values['table-jobs'];
  const tableJobs = tableJobsText === undefined ? undefined : Number(tableJobsText);
  if (tableJobs !== undefined && (tableJobsText?.trim() === '' || !Number.isInteger(tableJobs) || tableJobs < 1)) {
    throw new UsageError(`--table-jobs expects a whole number of at least 1, got "${tableJobsText}"`);
  }
  const port = values.port === undefined ? undefined : nonNegativeNumber('--port', values.port, 0);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`--port expects a TCP port, got "${values.port}"`);
  if (values['no-password'] && values.password) throw new UsageError('-w/--no-password and -W/--password cannot be used together');
  if (values['no-order'] && values['order-by'] !== undefined) throw new UsageError('-n/--no-order and -o/--order-by cannot be used together');
  const ifBloated = values['if-bloated'] === undefined ? undefined : nonNegativeNumber('--if-bloated', values['if-bloated'], 0);
  if (ifBloated !== undefined && ifBloated > 100) throw new UsageError('--if-bloated is a percentage between 0 and 100');
  const applyCount = wholeNumber('--apply-count', values['apply-count'], 1);
  const switchThreshold = wholeNumber('--switch-threshold', values['switch-threshold'], 0);
  // pg_repack's own check (bin/pg_repack.c): the batch must be able to apply more than the threshold.
  if (switchThreshold !== undefined && switchThreshold >= (applyCount ?? LIBRARY_APPLY_BATCH)) {
    throw new UsageError(
      `switch_threshold must be less than apply_count (--switch-threshold ${switchThreshold}, --apply-count ${applyCount ?? `${LIBRARY_APPLY_BATCH} by default`})`,
    );
  }
  let elevel: Elevel | undefined;
  if (values.elevel !== undefined) {
    elevel = parseElevel(values.elevel);
    if (elevel === undefined) throw new UsageError(`invalid elevel: ${values.elevel} (DEBUG, INFO, NOTICE, WARNING, ERROR, LOG, FATAL or PANIC)`);
  }
  const dbnameFlag = values.dbname;
  const positional = positionals[0];
  if (dbnameFlag !== undefined && positional !== undefined && dbnameFlag !== positional) {
    throw new UsageError(`database given twice: -d ${dbnameFlag} and ${positional}`);
  }
  return {
    help: values.help ?? false,
    version: values.version ?? false,
    all: values.all ?? false,
    tables: values.table ?? [],
    parentTables: values['parent-table'] ?? [],
    schemas: values.schema ?? [],
    tablespace: values.tablespace,
    moveIndexes: values.moveidx ?? false,
    orderBy: values['order-by'],
    noOrder: values['no-order'] ?? false,
    dryRun: values['dry-run'] ?? false,
    jobs,
    tableJobs,
    indexes: values.index ?? [],
    onlyIndexes: values['only-indexes'] ?? false,
    waitTimeoutSec: nonNegativeNumber('--wait-timeout', values['wait-timeout'], 60),
    noKillBackend: values['no-kill-backend'] ?? false,
    noAnalyze: values['no-analyze'] ?? false,
    noSuperuserCheck: values['no-superuser-check'] ?? false,
    excludeExtensions: values['exclude-extension'] ?? [],
    // --error-on-invalid-index is pg_repack 1.5.2's default and deprecated there; the other one wins, as in pg_repack.
    noErrorOnInvalidIndex: values['no-error-on-invalid-index'] ?? false,
    applyCount,
    switchThreshold,
    connection: {
      dbname: dbnameFlag ?? positional,
      host: values.host,
      port,
      user: values.username,
      password: values['no-password'] ? 'never' : values.password ? 'force' : 'auto',
    },
    echo: values.echo ?? false,
    elevel,
    swap,
    alter: values.alter ?? [],
    columnOrder: values['column-order'],
    json: values.json ?? false,
    cleanup: values.cleanup ?? false,
    status: values.status ?? false,
    ifBloatedPct: ifBloated,
    maxReplicaLag: values['max-replica-lag'],
    maxRate: values['max-rate'] === undefined ? undefined : nonNegativeNumber('--max-rate', values['max-rate'], 0),
    snapshotWaitSec: nonNegativeNumber('--snapshot-wait', values['snapshot-wait'], 60),
  };
}

export const HELP = `pgtools-repack re-organizes PostgreSQL tables online, without a server extension.

Usage:
  pgtools-repack [OPTION]... [DBNAME]

Options:
  -a, --all                 repack all databases
  -t, --table=TABLE         repack specific table only (repeatable); a partitioned
                            table means its leaf partitions one by one
  -I, --parent-table=TABLE  repack specific parent table and its inheritors
  -c, --schema=SCHEMA       repack tables in specific schema only (repeatable)
  -s, --tablespace=TBLSPC   move repacked tables to a new tablespace (with -x/-i: the indexes)
  -S, --moveidx             move repacked indexes to TBLSPC too
  -o, --order-by=COLUMNS    order by columns instead of cluster keys
  -n, --no-order            do vacuum full instead of cluster
  -N, --dry-run             print the plan and estimates; take no lock, change nothing
      --alter=ACTION        online schema change of the one -t table (repeatable): one
                            ALTER TABLE action each, e.g. 'ALTER COLUMN id TYPE bigint',
                            'ADD COLUMN c t [DEFAULT expr] [NOT NULL]', 'DROP COLUMN c',
                            'ADD COLUMN c t GENERATED ALWAYS AS (expr) STORED',
                            'ADD COLUMN c bigint GENERATED ALWAYS AS IDENTITY',
                            'ALTER COLUMN c SET DEFAULT expr' (or DROP DEFAULT),
                            'ALTER COLUMN c SET NOT NULL' (or DROP NOT NULL),
                            'ADD [CONSTRAINT name] CHECK (expr)', '... UNIQUE (cols)',
                            '... FOREIGN KEY (cols) REFERENCES t [(cols)] [ON DELETE ...]'
                            (a partitioned table changes with all its partitions at once)
      --column-order=COLS   rewrite the one -t table with its columns in this order:
                            every column of the new definition (after --alter), once,
                            comma-separated, e.g. 'id,created_at,amount'
  -j, --jobs=NUM            build each table's indexes over NUM connections (default 2)
      --table-jobs=NUM      repack up to NUM tables at once in a run of several tables
                            (DBNAME, -a, -c, -I, a partitioned table; default 1)
  -i, --index=INDEX         move only the specified index
  -x, --only-indexes        move only indexes of the specified table
  -T, --wait-timeout=SECS   timeout to cancel other backends on conflict (default 60)
  -D, --no-kill-backend     don't kill other backends when timed out; skip the table
  -Z, --no-analyze          don't analyze at end
  -k, --no-superuser-check  skip superuser checks in client
  -C, --exclude-extension   don't repack tables which belong to specific extension
      --no-error-on-invalid-index  repack even though an invalid index is found
                            (its index is rebuilt first with REINDEX INDEX CONCURRENTLY)
      --error-on-invalid-index     don't repack a table with an invalid index (default)
      --apply-count=NUM     log entries to replay in one batch (default 10000)
      --switch-threshold=NUM  swap once at most NUM entries are left to catch up
                            (default 999; a tenth of --apply-count when only that is given)

pgtools options:
      --swap=MODE           auto (default), catalog (superuser; keeps the table OID)
                            or rename (table owner; moves dependent objects)
      --json                print one JSON document with per-table results
      --cleanup             remove leftovers of an interrupted run (and its progress
                            row), then exit
      --status              show the repacks running in DBNAME (table, phase, rows
                            copied, log backlog, ETA, PID; "interrupted" when the run
                            is gone), then exit; with --json as one JSON document
      --if-bloated=PCT      only repack tables with at least PCT% reclaimable space
      --max-replica-lag=LAG pause while a standby lags more than LAG (bytes or duration)
      --max-rate=ROWS       cap the copy and apply at ROWS rows per second
      --snapshot-wait=SECS  wait this long for older snapshots before the swap (default 60)

Connection options:
  -d, --dbname=DBNAME       database to connect (a connection URI is accepted too)
  -h, --host=HOSTNAME       database server host or socket directory
  -p, --port=PORT           database server port
  -U, --username=USERNAME   user name to connect as
  -w, --no-password         never prompt for password
  -W, --password            force password prompt
  DATABASE_URL and the PG* environment variables and ~/.pgpass are honoured.

Generic options:
  -e, --echo                echo queries
  -E, --elevel=LEVEL        set output message level: DEBUG, INFO (default), NOTICE,
                            WARNING, ERROR, LOG, FATAL or PANIC
  -V, --version             output version information, then exit
  -?, --help                show this help, then exit

Servers: PostgreSQL 15 to 18; another version is refused before anything is created (exit 2).
Exit codes: 0 done (tables left out by --if-bloated count as done), 1 failed (tables intact),
2 bad usage or unsupported server, 3 some table skipped because it could not be done safely.
`;

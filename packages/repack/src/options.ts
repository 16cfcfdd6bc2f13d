import { PgToolsError, type Logger } from '@pgtools/core';
import { parseReplicaLag, type ReplicaLagLimit } from './throttle.js';
import type { RepackEvent } from './events.js';
import type { TableRef } from './table-info.js';
import { alterRequest, type AlterRequest } from './alter-request.js';

export type { ReplicaLagLimit };

export type SwapMode = 'auto' | 'catalog' | 'rename';
export type BlockerPolicy = 'give-up' | 'cancel' | 'terminate';

/** Points where a test (or a careful operator script) can pause a run; see `RepackOptions.pausePoint`. */
export type PausePoint =
  | 'after-advisory-lock'
  | 'after-capture'
  | 'during-copy'
  | 'after-copy'
  | 'after-indexes'
  | 'during-apply'
  | 'before-swap'
  | 'swap-planned'
  | 'after-swap'
  // `--alter` on a partitioned table (alter-tree-swap.ts): every leaf caught up and planned; the whole tree swapped, before the commit.
  | 'tree-swap-planned'
  | 'tree-after-swap'
  /** After a rename swap's commit, before the materialized views over the table are rebuilt (only when there are any). */
  | 'matview-created'
  /** A materialized view's replacement is filled and indexed, before its switch. */
  | 'matview-built';

/** Which tables a run works on; combined, they add up (each table once). Nothing given is refused (`no_target`): say `allTables` for every table. */
export interface TargetSelection {
  /** One table: `'schema.name'` (quoted parts allowed) or `{ schema, name }`. A partitioned table means its leaf partitions. */
  table?: TableRef;
  /** More tables (the CLI's repeated `-t`). */
  tables?: TableRef[];
  /** Every ordinary table of these schemas (`-c`). */
  schemas?: string[];
  /** These tables and every table inheriting from them, partitions included (`-I`). */
  parentTables?: TableRef[];
  /** Leave out tables that belong to these extensions (`-C`). */
  excludeExtensions?: string[];
  /** Every ordinary table of the database (the CLI without `-t`, `-c` or `-I`); never implied. */
  allTables?: boolean;
}

/** A column of `orderBy`: validated against the table, quoted by us. */
export interface OrderByTerm {
  column: string;
  descending?: boolean;
  nulls?: 'first' | 'last';
}

export interface RepackOptions extends TargetSelection {
  /** `catalog` keeps the table's OID (superuser); `rename` works for the owner; `auto` picks catalog when superuser. */
  swap?: SwapMode;
  /** How long to try for each short ACCESS EXCLUSIVE moment before escalating. Default 60 s. */
  waitTimeoutMs?: number;
  /** What to do with sessions that block those moments after `waitTimeoutMs`. Default `'give-up'`: harm nobody. */
  onBlockers?: BlockerPolicy;
  /** A DDL statement that queues behind our lock during the copy stalls every reader: cancel it (default) or give up. */
  onDdl?: 'cancel' | 'give-up';
  /** How long to wait before the swap for transactions whose snapshot predates the copy. Default 60 s. */
  snapshotWaitMs?: number;
  /** ANALYZE the table afterwards. Default true. */
  analyze?: boolean;
  /** Schema for the log and shadow tables. Default `pgtools`. */
  toolSchema?: string;
  /** Log entries applied per batch. Default 10 000. */
  applyBatchSize?: number;
  /** Take the swap lock once a batch applies fewer entries than this. Default 1 000. */
  switchThreshold?: number;
  /**
   * Pages copied per statement. Default: with the catalog swap, the whole table in one
   * `CREATE TABLE ... AS` (the server's bulk-insert path, ~15% faster; progress is estimated from
   * the WAL written, every second); with the rename swap, or when `maxRate` or a byte
   * `maxReplicaLag` needs pauses between statements, 8192 (64 MB, exact progress per chunk).
   */
  copyChunkPages?: number | undefined;
  /**
   * Connections for index builds: each index of the shadow is built on its own connection, largest
   * first. Default 2 (one extra connection during the index phase; 1 when the caller's pool is full).
   */
  jobs?: number | undefined;
  /**
   * Tables repacked at the same time in a run of several tables (a schema, a parent, a partitioned
   * table's leaves, the whole database): a whole number, default 1. Each table keeps its own advisory
   * lock, its own short lock moments and its own result; the disk check of each counts the copies
   * running alongside, `maxRate` is shared by them, and every one pauses for `maxReplicaLag`. Each
   * table uses two connections of the caller's pool (plus index jobs when the pool has room): with a
   * pool, at most half its `max` tables run at once.
   */
  tableConcurrency?: number | undefined;
  /**
   * Physical order of the rewritten table: `'col [DESC] [NULLS FIRST|LAST], ...'` (the CLI's `-o`) or terms.
   * Default: the table's CLUSTER index (btree) when it has one. `false`: no ordering (`-n`).
   */
  orderBy?: string | OrderByTerm[] | false | undefined;
  /** Only repack tables whose estimated reclaimable space is at least this percentage; others are `filtered`. */
  ifBloatedPct?: number | undefined;
  /** Cap on rows per second for the copy chunks and the apply batches. */
  maxRate?: number | undefined;
  /**
   * Pause the copy and the apply while a standby in pg_stat_replication lags more than this:
   * `{ bytes }` (replay position behind the current WAL position) or `{ ms }` (its replay_lag).
   * A string like `'16MB'`, `'1048576'`, `'30s'` or `'500ms'` is parsed the same way.
   */
  maxReplicaLag?: ReplicaLagLimit | string;
  /** Put the rewritten table in this tablespace (`-s`); the swap moves the table there. */
  tablespace?: string | undefined;
  /** With `tablespace`, put the rebuilt indexes there too (`-S`). */
  moveIndexes?: boolean;
  /** Refuse a table when free disk is clearly not enough for its copy, where it can be checked. Default true. */
  checkDisk?: boolean;
  /** `application_name` of our sessions. */
  applicationName?: string;
  /**
   * Online schema change (the CLI's repeated `--alter`): ALTER TABLE actions, each without `ALTER TABLE
   * name`, carried out by rewriting the table into a shadow with the new definition (rename swap, one
   * ordinary table). Supported: `ALTER COLUMN c [SET DATA] TYPE t [USING expr]`, `ALTER COLUMN c SET
   * DEFAULT expr | DROP DEFAULT`, `ALTER COLUMN c SET NOT NULL | DROP NOT NULL`, `ADD COLUMN c t [DEFAULT
   * expr] [NOT NULL]`, `DROP COLUMN c`, `ADD [CONSTRAINT name] CHECK (expr) | UNIQUE (cols) | FOREIGN KEY
   * (cols) REFERENCES t [(cols)] [ON DELETE a] [ON UPDATE a]` (validated before the swap: a violating
   * row fails the table with `alter_constraint_violated` and its key); anything
   * else is refused (`alter_unsupported`) before anything is made.
   */
  alter?: string[] | undefined;
  /**
   * Online schema change (the CLI's `--column-order`): the new definition's columns, every one exactly
   * once, in the order the table is rewritten with (after the `alter` actions: added columns by their
   * new names, dropped ones left out). Alone it rewrites the table in that order. A missing or extra
   * column is refused (`alter_refused`) before anything is made.
   */
  columnOrder?: string[] | undefined;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
  onEvent?: ((event: RepackEvent) => void) | undefined;
  /** Called with the text of every statement before it runs (the CLI's `--echo`). */
  onQuery?: ((sql: string) => void) | undefined;
  /** Awaited at each named point; fault tests use it to stop the run deterministically in every phase. */
  pausePoint?: ((point: PausePoint, info: { table: string; pids: number[] }) => Promise<void> | void) | undefined;
}

type Optional = 'signal' | 'logger' | 'onEvent' | 'pausePoint' | 'onQuery' | 'orderBy' | 'ifBloatedPct' | 'maxRate' | 'tablespace' | 'jobs' | 'copyChunkPages';
export type ResolvedOptions = Required<Omit<RepackOptions, Optional | keyof TargetSelection | 'maxReplicaLag' | 'alter' | 'columnOrder'>> &
  Pick<RepackOptions, Optional> & { maxReplicaLag: ReplicaLagLimit | undefined; alter: AlterRequest | undefined };

export function resolveOptions(options: Omit<RepackOptions, keyof TargetSelection>): ResolvedOptions {
  if (options.maxRate !== undefined && !(options.maxRate > 0))
    throw new PgToolsError('invalid_option', `maxRate must be a positive number of rows per second, got ${options.maxRate}`);
  if (options.ifBloatedPct !== undefined && !(options.ifBloatedPct >= 0 && options.ifBloatedPct <= 100)) {
    throw new PgToolsError('invalid_option', `ifBloatedPct must be a percentage between 0 and 100, got ${options.ifBloatedPct}`);
  }
  if (options.moveIndexes && options.tablespace === undefined) throw new PgToolsError('invalid_option', 'moveIndexes needs a tablespace');
  const tableConcurrency = options.tableConcurrency ?? 1;
  if (!Number.isInteger(tableConcurrency) || tableConcurrency < 1) {
    throw new PgToolsError('invalid_option', `tableConcurrency must be a whole number of at least 1, got ${String(options.tableConcurrency)}`);
  }
  const alter = alterRequest(options);
  return {
    tableConcurrency,
    alter,
    orderBy: options.orderBy,
    ifBloatedPct: options.ifBloatedPct,
    maxRate: options.maxRate,
    maxReplicaLag: typeof options.maxReplicaLag === 'string' ? parseReplicaLag(options.maxReplicaLag) : options.maxReplicaLag,
    tablespace: options.tablespace,
    moveIndexes: options.moveIndexes ?? false,
    checkDisk: options.checkDisk ?? true,
    swap: options.swap ?? 'auto',
    waitTimeoutMs: options.waitTimeoutMs ?? 60_000,
    onBlockers: options.onBlockers ?? 'give-up',
    onDdl: options.onDdl ?? 'cancel',
    snapshotWaitMs: options.snapshotWaitMs ?? 60_000,
    analyze: options.analyze ?? true,
    toolSchema: options.toolSchema ?? 'pgtools',
    applyBatchSize: options.applyBatchSize ?? 10_000,
    switchThreshold: options.switchThreshold ?? 1_000,
    copyChunkPages: options.copyChunkPages === undefined ? undefined : Math.max(1, options.copyChunkPages),
    jobs: options.jobs === undefined ? undefined : Math.max(1, options.jobs),
    applicationName: options.applicationName ?? 'pgtools-repack',
    signal: options.signal,
    logger: options.logger,
    onEvent: options.onEvent,
    pausePoint: options.pausePoint,
    onQuery: options.onQuery,
  };
}

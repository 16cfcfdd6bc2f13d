import type { Logger } from '@pgtools/core';
import type { RepackEvent } from './events.js';
import type { TableRef } from './table-info.js';

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
  | 'after-swap';

export interface RepackOptions {
  /** The table: `'schema.name'` (quoted parts allowed) or `{ schema, name }`. A partitioned table means its leaf partitions. */
  table: TableRef;
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
  /** Pages copied per statement during the copy (progress granularity). Default 8192 (64 MB). */
  copyChunkPages?: number;
  /** Connections for index builds. Default 1. */
  jobs?: number;
  /** `application_name` of our sessions. */
  applicationName?: string;
  signal?: AbortSignal;
  logger?: Logger;
  onEvent?: (event: RepackEvent) => void;
  /** Called with the text of every statement before it runs (the CLI's `--echo`). */
  onQuery?: (sql: string) => void;
  /** Awaited at each named point; fault tests use it to stop the run deterministically in every phase. */
  pausePoint?: (point: PausePoint, info: { table: string; pids: number[] }) => Promise<void> | void;
}

export type ResolvedOptions = Required<Omit<RepackOptions, 'signal' | 'logger' | 'onEvent' | 'pausePoint' | 'onQuery' | 'table'>> &
  Pick<RepackOptions, 'signal' | 'logger' | 'onEvent' | 'pausePoint' | 'onQuery'>;

export function resolveOptions(options: Omit<RepackOptions, 'table'>): ResolvedOptions {
  return {
    swap: options.swap ?? 'auto',
    waitTimeoutMs: options.waitTimeoutMs ?? 60_000,
    onBlockers: options.onBlockers ?? 'give-up',
    onDdl: options.onDdl ?? 'cancel',
    snapshotWaitMs: options.snapshotWaitMs ?? 60_000,
    analyze: options.analyze ?? true,
    toolSchema: options.toolSchema ?? 'pgtools',
    applyBatchSize: options.applyBatchSize ?? 10_000,
    switchThreshold: options.switchThreshold ?? 1_000,
    copyChunkPages: options.copyChunkPages ?? 8192,
    jobs: Math.max(1, options.jobs ?? 1),
    applicationName: options.applicationName ?? 'pgtools-repack',
    signal: options.signal,
    logger: options.logger,
    onEvent: options.onEvent,
    pausePoint: options.pausePoint,
    onQuery: options.onQuery,
  };
}

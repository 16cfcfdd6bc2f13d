/** How a table's run ended. `filtered` counts as done; `skipped` could not be done safely; `failed` left the table intact. */
export type TableStatus = 'repacked' | 'filtered' | 'skipped' | 'failed';

/** The process exit code of each status; a run exits with the worst of its tables (failed > skipped > done). */
export const STATUS_EXIT: Readonly<Record<TableStatus, 0 | 1 | 3>> = { repacked: 0, filtered: 0, skipped: 3, failed: 1 };

/**
 * The one table of table outcomes (like `DCS_ERROR` for etcd): every stable code a table result
 * can carry, and the status it gives in either mode (full repack and indexes only), in the plan
 * and in the CLI. A code that is not listed fails the table.
 */
export const REPACK_OUTCOMES = {
  below_bloat_threshold: 'filtered',
  bloat_unknown: 'filtered',
  no_usable_key: 'skipped',
  repack_running: 'skipped',
  pg_repack_running: 'skipped',
  lock_timeout: 'skipped',
  old_snapshots: 'skipped',
  ddl_waiting: 'skipped',
  insufficient_disk: 'skipped',
  catalog_swap_requires_superuser: 'skipped',
  unlogged_table: 'failed',
  temporary_table: 'failed',
  not_a_table: 'failed',
  partitioned_table: 'failed',
  invalid_index: 'failed',
  rename_swap_unsupported: 'failed',
  publication_all_tables: 'failed',
  invalid_order_by: 'failed',
  tablespace_not_found: 'failed',
  swap_failed: 'failed',
  permission_denied: 'failed',
  aborted: 'failed',
  repack_failed: 'failed',
  alter_refused: 'failed',
  alter_conversion_failed: 'failed',
  alter_constraint_violated: 'failed',
  // `--alter` on a partitioned table: another partition failed, or the partitions changed during the run (alter-tree.ts).
  partition_failed: 'failed',
  partition_tree_changed: 'failed',
  matview_rebuild_failed: 'failed',
} as const satisfies Record<string, Exclude<TableStatus, 'repacked'>>;

/** A stable outcome code. */
export type OutcomeCode = keyof typeof REPACK_OUTCOMES;

/**
 * Codes that make a table ineligible: a table named explicitly fails with them, one found through
 * a schema, a parent or a whole-database run is skipped instead.
 */
export const ELIGIBILITY_CODES: ReadonlySet<string> = new Set(['unlogged_table', 'temporary_table', 'not_a_table', 'partitioned_table']);

/**
 * The status a table ends with for `code`.
 *
 * @example
 * ```ts
 * import { outcomeOf } from '@pgtools/repack';
 * outcomeOf('lock_timeout');                            // 'skipped' (exit 3), in both modes
 * outcomeOf('unlogged_table', { discovered: true });    // 'skipped': found by a schema or database run
 * outcomeOf('something_new');                           // 'failed'
 * ```
 */
export function outcomeOf(code: string, o: { discovered?: boolean } = {}): Exclude<TableStatus, 'repacked'> {
  if (o.discovered && ELIGIBILITY_CODES.has(code)) return 'skipped';
  return Object.hasOwn(REPACK_OUTCOMES, code) ? REPACK_OUTCOMES[code as OutcomeCode] : 'failed';
}

/**
 * The run's exit code from its tables' statuses.
 *
 * @example
 * ```ts
 * import { exitCodeOf } from '@pgtools/repack';
 * exitCodeOf([{ status: 'repacked' }, { status: 'skipped' }]); // 3
 * ```
 */
export function exitCodeOf(tables: ReadonlyArray<{ status: TableStatus }>): 0 | 1 | 3 {
  return tables.reduce<0 | 1 | 3>((worst, t) => {
    const code = STATUS_EXIT[t.status];
    return code === 1 || worst === 1 ? 1 : code === 3 || worst === 3 ? 3 : 0;
  }, 0);
}

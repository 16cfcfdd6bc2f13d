import type { IndexInfo, TableInfo } from './table-info.js';

/** Why a table cannot be repacked as asked. `skip` problems end the run with exit code 3, `refuse` with 1. */
export interface Problem {
  code: string;
  message: string;
  /** What the user can do about it. */
  fix?: string;
  severity: 'refuse' | 'skip' | 'warn';
}

export interface PrecheckResult {
  key: IndexInfo | undefined;
  problems: Problem[];
}

/** Our trigger name prefix and pg_repack's trigger name, to find leftovers and conflicts. */
export const PGREPACK_TRIGGER = 'repack_trigger';

function isUsableKey(index: IndexInfo): boolean {
  return (
    index.isUnique &&
    index.isValid &&
    index.isImmediate &&
    !index.isPartial &&
    !index.hasExpressions &&
    index.keyColumnsNotNull &&
    index.keyColumns.every((c) => c !== null)
  );
}

/**
 * Picks the row identity the change log replays by: the primary key, else the smallest usable
 * unique index (valid, immediate, not partial, no expressions, every key column NOT NULL).
 * INCLUDE columns are not part of the key.
 *
 * @example
 * ```ts
 * const key = chooseKey(info.indexes);
 * if (!key) console.log('no usable key');
 * ```
 */
export function chooseKey(indexes: readonly IndexInfo[]): IndexInfo | undefined {
  const usable = indexes.filter(isUsableKey);
  return usable.find((i) => i.isPrimary) ?? [...usable].sort((a, b) => a.keyColumns.length - b.keyColumns.length || a.sizeBytes - b.sizeBytes)[0];
}

function explainMissingKey(info: TableInfo): Problem {
  const unique = info.indexes.filter((i) => i.isUnique);
  const reasons = unique.map((i) => {
    if (!i.isImmediate) return `${i.name} is DEFERRABLE (replaying changes by a deferrable key can silently lose rows)`;
    if (!i.isValid) return `${i.name} is invalid`;
    if (i.isPartial) return `${i.name} is partial`;
    if (i.hasExpressions) return `${i.name} has expressions`;
    if (!i.keyColumnsNotNull) {
      const cols = i.keyColumns.filter((c): c is string => c !== null).filter((c) => !info.columns.find((col) => col.name === c)?.notNull);
      return `${i.name} has nullable key column${cols.length === 1 ? '' : 's'} ${cols.join(', ')}`;
    }
    return `${i.name} is not usable`;
  });
  return {
    code: 'no_usable_key',
    severity: 'skip',
    message: `table ${info.display} has no primary key or usable unique index` + (reasons.length > 0 ? ` (${reasons.join('; ')})` : ''),
    fix: 'add a primary key, or a unique index on NOT NULL columns that is not partial, not deferrable and has no expressions',
  };
}

/**
 * Checks a table against everything that would make an online repack unsafe, without touching it.
 *
 * @example
 * ```ts
 * const { key, problems } = precheck(await inspectTable(client, 'public.orders'), { swap: 'catalog' });
 * ```
 */
export function precheck(info: TableInfo, options: { swap: 'catalog' | 'rename'; publicationsForAllTables?: string[] }): PrecheckResult {
  const problems: Problem[] = [];
  if (info.relkind === 'p') {
    problems.push({
      code: 'partitioned_table',
      severity: 'refuse',
      message: `${info.display} is a partitioned table; its leaf partitions are repacked one by one`,
    });
  } else if (info.relkind !== 'r') {
    problems.push({ code: 'not_a_table', severity: 'refuse', message: `${info.display} is not an ordinary table (relkind ${info.relkind})` });
  }
  if (info.persistence === 'u') {
    problems.push({
      code: 'unlogged_table',
      severity: 'refuse',
      message: `${info.display} is UNLOGGED; an online repack of an unlogged table is not supported`,
      fix: 'use VACUUM FULL (its content is not crash-safe anyway), or ALTER TABLE ... SET LOGGED first',
    });
  } else if (info.persistence === 't') {
    problems.push({ code: 'temporary_table', severity: 'refuse', message: `${info.display} is a temporary table of another session` });
  }
  const key = chooseKey(info.indexes);
  if (info.relkind === 'r' && !key) problems.push(explainMissingKey(info));
  for (const index of info.indexes) {
    if (!index.isValid) {
      problems.push({
        code: 'invalid_index',
        severity: 'refuse',
        message: `index ${index.name} on ${info.display} is invalid (an interrupted CREATE INDEX CONCURRENTLY?)`,
        fix: `REINDEX INDEX CONCURRENTLY, or DROP INDEX CONCURRENTLY ${index.name}, then run again`,
      });
    }
  }
  const pgRepackTrigger = info.triggers.find((t) => t.name === PGREPACK_TRIGGER);
  if (pgRepackTrigger) {
    problems.push({
      code: 'pg_repack_running',
      severity: 'skip',
      message: `${info.display} has pg_repack's trigger "${PGREPACK_TRIGGER}": pg_repack is working on it or left it behind`,
      fix: 'wait for pg_repack to finish, or clean up its leftovers (DROP EXTENSION pg_repack CASCADE; CREATE EXTENSION pg_repack)',
    });
  }
  // A partition is swapped by detaching and attaching it (@pgtools/swap refuses the cases it cannot do cheaply).
  if (options.swap === 'rename' && info.hasInheritance) {
    problems.push({
      code: 'rename_swap_unsupported',
      severity: 'refuse',
      message: `${info.display} has inheritance; --swap=rename cannot move it`,
      fix: 'use --swap=catalog (superuser)',
    });
  }
  for (const publication of options.publicationsForAllTables ?? []) {
    problems.push({
      code: 'publication_all_tables',
      severity: 'refuse',
      message: `publication ${publication} is FOR ALL TABLES: the shadow table would be replicated to subscribers that do not have it`,
      fix: 'add the tables to the publication explicitly instead of FOR ALL TABLES, or repack with a different tool on this database',
    });
  }
  return { key, problems };
}

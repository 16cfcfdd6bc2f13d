import type pg from 'pg';
import { quoteQualified, SQLSTATE, sqlStateOf } from '@pgtools/core';
import type { QualifiedName } from './table-run.js';

/**
 * One short try at ACCESS EXCLUSIVE on a partition's partitioned table, ONLY (its other partitions
 * stay free), in the swap's transaction, after the leaf and the shadow are locked: the rename swap's
 * DETACH PARTITION needs it, and must not wait for it while holding the leaf. The try lasts `tryMs`
 * (keep it under `deadlock_timeout`: a query that holds the partitioned table and waits for the leaf
 * then never deadlocks with us, we give way). True when granted; false leaves the transaction as it
 * was (the try runs in its own savepoint, lock_timeout back to its value either way).
 *
 * @example
 * ```ts
 * if (!(await tryLockPartitionedTable(client, { schema: 'public', name: 'events' }, 200))) await client.query('ROLLBACK TO SAVEPOINT swap');
 * ```
 */
export async function tryLockPartitionedTable(client: pg.ClientBase, parent: QualifiedName, tryMs: number): Promise<boolean> {
  await client.query('SAVEPOINT pgtools_parent_lock');
  const { rows } = await client.query<{ before: string }>(`SELECT current_setting('lock_timeout') AS before, set_config('lock_timeout', $1, true)`, [
    String(Math.max(1, Math.round(tryMs))),
  ]);
  try {
    await client.query(`LOCK TABLE ONLY ${quoteQualified(parent.schema, parent.name)} IN ACCESS EXCLUSIVE MODE`);
  } catch (err) {
    if (sqlStateOf(err) !== SQLSTATE.lockNotAvailable) throw err;
    // Undoes the failed LOCK and the setting with it.
    await client.query('ROLLBACK TO SAVEPOINT pgtools_parent_lock');
    return false;
  }
  await client.query(`SELECT set_config('lock_timeout', $1, true)`, [rows[0]?.before ?? '0']);
  await client.query('RELEASE SAVEPOINT pgtools_parent_lock');
  return true;
}

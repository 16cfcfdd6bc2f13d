import { PgToolsError, quoteQualified, sqlStateOf } from '@pgtools/core';
import { releaseAdvisoryTableLock } from '@pgtools/lock';
import { buildDropCaptureSql, type CdcObjects } from '@pgtools/cdc';
import type { Guard, QualifiedName, TableRun } from '../table-run.js';

export interface CleanupInput {
  guard: Guard;
  capture: CdcObjects;
  /** After the swap: the old table's storage, under the shadow's name. */
  shadow: QualifiedName;
  table: QualifiedName;
  /** What the swap left to run after its commit. */
  afterSwap: string[];
  /** Set when the statistics carried over through the swap: the reason the ANALYZE is left out. */
  statisticsKept?: string | undefined;
}

/**
 * The cleanup and analyze phases, after the swap committed, then the table's new size. Outside
 * the lock, side by side: the guard drops the log (it keeps rows of the old table's type, so it
 * goes first) and the old storage, validates foreign keys and lets go of the advisory lock, while
 * the work connection analyzes the new table. Neither needs a lock the other holds (ANALYZE only
 * conflicts with a validation of the same table, which then simply waits). A crash here leaves
 * only tool objects for the next run.
 */
export async function runCleanup(run: TableRun, input: CleanupInput): Promise<void> {
  const { work, opts, result } = run;
  const { guard, capture, shadow, table, afterSwap, statisticsKept } = input;
  const cleanup = run.phase('cleanup', async () => {
    // One round trip, one implicit transaction (all of it or none), committed without waiting for the
    // WAL flush: a crash that loses it leaves only tool objects for the next run, the swap itself was
    // flushed. The log goes first: it keeps rows of the old table's type.
    await guard.client.query(
      ['SET LOCAL synchronous_commit = off', ...buildDropCaptureSql(capture), `DROP TABLE ${quoteQualified(shadow.schema, shadow.name)}`].join(';\n'),
    );
    run.capture = undefined;
    run.shadow = undefined;
    // Each validation on its own: one that fails leaves its constraint NOT VALID (still enforced for new rows), the others go on.
    const failed: string[] = [];
    for (const sql of afterSwap) {
      try {
        await guard.client.query(sql);
      } catch (err) {
        if (sqlStateOf(err) !== '23503' || !run.opts.alter) throw err;
        failed.push(`${sql}: ${(err as Error).message}${(err as { detail?: string }).detail ? ` (${(err as { detail?: string }).detail})` : ''}`);
      }
    }
    await releaseAdvisoryTableLock(guard.client, run.tableOid);
    run.advisoryHeld = false;
    if (failed.length > 0) {
      // A row that violates a foreign key came in after the check before the swap (a referenced row deleted in the last moments, say).
      throw new PgToolsError(
        'alter_constraint_violated',
        `${run.display} was rewritten and swapped, but validating a foreign key after the swap failed: ${failed.join('; ')}. ` +
          'The constraint stays NOT VALID (it is enforced for every new row): fix the rows, then run the statement again',
      );
    }
  });
  // The row count must have come through the swap too: PostgreSQL 18's CREATE INDEX leaves the
  // shadow's reltuples at -1 (never counted), and only an ANALYZE (or VACUUM) sets it then.
  const kept = opts.analyze && statisticsKept !== undefined && (await rowCountKnown(work, table)) ? statisticsKept : undefined;
  if (kept) {
    result.analyzeSkipped = kept;
    run.logger.info(`${run.display}: no ANALYZE, ${kept}`);
  }
  const analyze =
    opts.analyze && !kept
      ? run.phase('analyze', async () => {
          await work.query(`ANALYZE ${quoteQualified(table.schema, table.name)}`);
        })
      : Promise.resolve();
  const [cleaned, analyzed] = await Promise.allSettled([cleanup, analyze]);
  if (cleaned.status === 'rejected') throw cleaned.reason;
  if (analyzed.status === 'rejected') throw analyzed.reason;
  const { rows: after } = await work.query<{ heap: string; total: string }>(
    // By name: the rename swap gives the table a new OID.
    'SELECT pg_relation_size(c.oid)::text AS heap, pg_total_relation_size(c.oid)::text AS total FROM pg_class c WHERE c.oid = to_regclass($1)',
    [quoteQualified(table.schema, table.name)],
  );
  if (after[0]) result.sizeAfter = { heapBytes: Number(after[0].heap), totalBytes: Number(after[0].total) };
}

async function rowCountKnown(client: TableRun['work'], table: QualifiedName): Promise<boolean> {
  const { rows } = await client.query<{ known: boolean | null }>('SELECT reltuples >= 0 AS known FROM pg_class WHERE oid = to_regclass($1)', [
    quoteQualified(table.schema, table.name),
  ]);
  return rows[0]?.known === true;
}

import { PgToolsError, quoteIdent, quoteQualified } from '@pgtools/core';
import type { RenameTableFacts } from './rename-facts.js';
import type { StepContext } from './rename-step-context.js';

// The rename swap of a leaf partition: the old leaf is detached and the new one attached with the
// same bound. Lock footprint on the partitioned table, in the swap's transaction: DETACH PARTITION
// (not CONCURRENTLY, which cannot run in a transaction) takes ACCESS EXCLUSIVE on it, so every query
// through the partitioned table waits until the commit; ATTACH PARTITION needs SHARE UPDATE
// EXCLUSIVE (PostgreSQL 12+), already covered. The new leaf carries a CHECK of its partition
// constraint, validated while the shadow was filled, so the ATTACH scans nothing; it is dropped again
// right after. The caller takes the partitioned table's lock (LOCK TABLE ONLY) with the two tables'.

/**
 * The name of the CHECK that carries the partition constraint on the new leaf (dropped in the swap).
 *
 * @example
 * ```ts
 * partitionBoundCheckName(16400); // 'pgtools_partition_bound_16400'
 * ```
 */
export function partitionBoundCheckName(originalOid: number): string {
  return `pgtools_partition_bound_${originalOid}`;
}

/**
 * What keeps the rename swap from moving a partition, each with what the user can do instead
 * (the caller's message adds: use --swap=catalog as a superuser). `wholeTree`: the leaf is swapped
 * with every other leaf of its partitioned table (RenameStepOptions.partitionTree). Pure.
 */
export function partitionBlockers(t: RenameTableFacts, wholeTree = false): string[] {
  const p = t.partition;
  if (p === null) return t.table.isPartition ? ['the table is a partition whose partitioned table could not be read'] : [];
  const parent = quoteQualified(p.parentSchema, p.parentName);
  const blockers: string[] = [];
  if (!p.parentOwned) blockers.push(`the current role does not own the partitioned table ${parent}, which detaching and attaching the partition needs`);
  // Swapped with the whole tree, the default partition is attached last, after the others: nothing to scan.
  if (p.otherDefault !== null && !wholeTree) {
    blockers.push(
      `the partitioned table ${parent} has a default partition ${p.otherDefault}, which attaching the new partition would scan under ACCESS EXCLUSIVE ` +
        `(detach ${p.otherDefault} first, or repack it alone)`,
    );
  }
  for (const fk of t.foreignKeysOut.filter((f) => f.inherited)) {
    blockers.push(`foreign key ${quoteIdent(fk.name)} comes from ${parent}, and attaching the new partition would validate it under ACCESS EXCLUSIVE`);
  }
  // Swapped with the whole tree, the caller drops the partitioned table's foreign keys before any leaf is detached.
  for (const fk of wholeTree ? [] : t.foreignKeysIn.filter((f) => f.inherited)) {
    blockers.push(
      `foreign key ${quoteIdent(fk.name)} of ${quoteQualified(fk.schema, fk.table)} references ${parent}, and detaching the partition would check every referenced row under ACCESS EXCLUSIVE`,
    );
  }
  return blockers;
}

/**
 * The shadow of a partition gets its partition constraint as a CHECK, validated on the empty table
 * and then by every row the copy and the log apply write. Pure.
 */
export function partitionShadowStatements(t: RenameTableFacts, target: string): string[] {
  const constraint = t.partition?.constraint;
  if (constraint == null) return [];
  return [`ALTER TABLE ${target} ADD CONSTRAINT ${quoteIdent(partitionBoundCheckName(t.table.oid))} CHECK (${constraint})`];
}

/** The old leaf leaves its partitioned table first: its inherited constraints become its own, its cloned triggers go. */
export function detachPartitionSteps(ctx: StepContext): void {
  const p = ctx.attached.partition;
  if (p === null) return;
  ctx.swap('partition', `ALTER TABLE ${quoteQualified(p.parentSchema, p.parentName)} DETACH PARTITION ${ctx.T}`);
}

/**
 * The new leaf joins the partitioned table with the old bound once its constraints and indexes
 * carry the original names (ATTACH attaches the equivalent indexes and constraints it finds, and
 * clones the partitioned table's triggers); each index is then attached explicitly to the partitioned
 * index its original belonged to, which fails, rolling the swap back, should ATTACH have picked
 * another equivalent index; then the CHECK that spared the scan goes.
 */
export function attachPartitionSteps(ctx: StepContext): void {
  const p = ctx.attached.partition;
  if (p === null) return;
  const { T, swap } = ctx;
  swap('partition', `ALTER TABLE ${quoteQualified(p.parentSchema, p.parentName)} ATTACH PARTITION ${T} ${p.bound}`);
  for (const ip of p.indexParents) {
    const name = ctx.indexName.get(ip.index);
    if (name === undefined) throw new PgToolsError('rename_swap_failed', `index with OID ${ip.index} of the partition has no copy on the new table`);
    swap('partition', `ALTER INDEX ${ip.parent} ATTACH PARTITION ${quoteQualified(ctx.original.schema, name)}`);
  }
  if (p.constraint !== null) swap('partition', `ALTER TABLE ${T} DROP CONSTRAINT ${quoteIdent(partitionBoundCheckName(ctx.original.oid))}`);
}

import { quoteLiteral } from '@pgtools/core';
import { countLog } from '@pgtools/cdc';
import type { RenameSwapPlan } from '@pgtools/swap';
import { CATCH_UP_ROUNDS, caughtUp } from './catch-up.js';
import type { TableRun } from './table-run.js';
import type { SwapInput } from './phases/swap.js';
import type { TreeFacts } from './alter-tree-refusal.js';

/** The message of the tree check's error (SQLSTATE 55000). */
export const TREE_CHANGED = 'pgtools: the partitions or the foreign keys referencing the partitioned table changed';

/**
 * A leaf's rename swap cut where the whole-tree swap puts the partitioned table's ALTER: the check,
 * then everything up to the old leaf's DETACH and the trade of names (`detach`), then from the new
 * leaf's ATTACH on (`attach`: the partitioned table must have the new definition by then). Pure.
 */
export function leafSteps(plan: RenameSwapPlan): { check: string; detach: string[]; attach: string[] } {
  const check = plan.steps.find((s) => s.phase === 'check')?.sql;
  const swap = plan.steps.filter((s) => s.phase === 'swap');
  const detachAt = swap.findIndex((s) => s.name === 'partition');
  const attachAt = swap.findIndex((s, i) => i > detachAt && s.name === 'partition');
  if (check === undefined || detachAt < 0 || attachAt < 0) {
    throw new Error(`the rename swap plan of ${plan.original.schema}.${plan.original.name} does not detach and attach a partition`);
  }
  return { check, detach: swap.slice(0, attachAt).map((s) => s.sql), attach: swap.slice(attachAt).map((s) => s.sql) };
}

/**
 * Raises TREE_CHANGED (SQLSTATE 55000) unless the partitioned table still has exactly the given
 * partitions and the same foreign keys referencing it (by referencing table and name), read again
 * under the swap's lock. Pure.
 */
export function treeCheckSql(tree: Pick<TreeFacts, 'oid' | 'foreignKeysIn'>, leafOids: readonly number[]): string {
  const leaves = [...leafOids].sort((a, b) => a - b).join(',');
  const fks = tree.foreignKeysIn
    .map((f) => `${f.table}.${f.name}`)
    .sort()
    .join('\n');
  const oid = Number(tree.oid);
  if (!Number.isSafeInteger(oid) || oid <= 0) throw new Error(`not an OID: ${tree.oid}`);
  let tag = 'pgtools';
  const body = `BEGIN
  IF (SELECT pg_catalog.string_agg(i.inhrelid::text, ',' ORDER BY i.inhrelid) FROM pg_catalog.pg_inherits i WHERE i.inhparent = ${oid}::oid) IS DISTINCT FROM ${quoteLiteral(leaves)}
     OR COALESCE((SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, c.relname) || '.' || con.conname, E'\\n' ORDER BY 1)
                    FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                   WHERE con.contype = 'f' AND con.conparentid = 0 AND con.confrelid = ${oid}::oid), '') IS DISTINCT FROM ${quoteLiteral(fks)}
  THEN
    RAISE EXCEPTION USING ERRCODE = '55000', MESSAGE = ${quoteLiteral(TREE_CHANGED)};
  END IF;
END`;
  while (body.includes(`$${tag}$`)) tag += '_';
  return `DO $${tag}$ ${body} $${tag}$`;
}

/** Replays a held leaf's log until it caught up (as the table swap does before each lock attempt). */
export async function catchUpLeaf(run: TableRun, input: SwapInput): Promise<void> {
  let previous: number | undefined;
  for (let round = 0; ; round++) {
    const applied = await input.applyOnce(run.work, false);
    await input.throttle.after(run.work, applied, 'apply');
    run.checkAbort();
    const remaining = round + 2 >= CATCH_UP_ROUNDS ? await countLog(run.work, input.capture) : undefined;
    if (caughtUp({ applied, remaining, previous, round, switchThreshold: run.opts.switchThreshold })) return;
    previous = remaining;
  }
}

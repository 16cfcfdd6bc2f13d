import { PgToolsError, quoteQualified, type Queryable } from '@pgtools/core';
import type { AlterRequest } from './alter-request.js';
import { probeAlter } from './alter-probe.js';
import { readTree, refuseParentViews, treeRefusal, type TreeFacts } from './alter-tree-refusal.js';
import type { Problem } from './precheck.js';
import type { RepackTarget } from './targets.js';
import { inspectTable } from './table-info.js';

/** What the dry run of `--alter` on a partitioned table adds to each leaf's plan. */
export interface TreeDryRun {
  tree: TreeFacts;
  /** Why the run would refuse the whole table (then nothing of it is done). */
  problem: Problem | undefined;
  /** The locks of a leaf: its own moments, then the one swap of the whole table. */
  locks: (leaf: string) => string[];
}

/**
 * The dry run's look at a partitioned table given to `--alter`: the tree's refusals and the
 * partitioned table's trial (alter-probe.ts, rolled back), as the run makes them before anything.
 */
export async function treeDryRun(client: Queryable, target: RepackTarget, request: AlterRequest): Promise<TreeDryRun> {
  const tree = await readTree(client, target);
  let problem: Problem | undefined;
  try {
    const refusal = treeRefusal(tree, request.actions, request.columnOrder);
    if (refusal) throw refusal;
    const plan = await probeAlter(client, await inspectTable(client, target), [], request, undefined, 'tree-parent');
    await refuseParentViews(client, tree, plan.changes.retyped);
  } catch (err) {
    if (!(err instanceof PgToolsError)) throw err;
    problem = { code: err.code, severity: 'refuse', message: err.message };
  }
  const parent = quoteQualified(tree.schema, tree.name);
  return {
    tree,
    problem,
    locks: (leaf) => [
      `ACCESS EXCLUSIVE on ${leaf} for a moment: create the change-capture trigger`,
      `SHARE UPDATE EXCLUSIVE on ${leaf} until every partition of ${parent} is ready: keeps DDL and VACUUM out, reads and writes continue`,
      `ACCESS EXCLUSIVE on ${parent} and all its ${tree.leaves.length} partitions for a moment, one transaction: apply each partition's last changes, ` +
        `detach the old partitions, change ${parent} (catalog only) and attach the new ones`,
    ],
  };
}

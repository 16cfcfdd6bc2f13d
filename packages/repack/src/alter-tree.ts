import { PgToolsError, silentLogger, wrapPgError } from '@pgtools/core';
import type { ConnectionSource } from './connection-source.js';
import type { ResolvedOptions } from './options.js';
import { emptyTableResult, type TableResult } from './result.js';
import type { RepackTarget } from './targets.js';
import type { RunShared } from './run-shared.js';
import { outcomeOf } from './outcomes.js';
import { repackOneTable } from './repack-table.js';
import { inspectTable } from './table-info.js';
import { probeAlter } from './alter-probe.js';
import { readTree, refuseParentViews, treeRefusal, type TreeFacts } from './alter-tree-refusal.js';
import type { AlterPlan } from './alter-plan.js';
import { runTreeSwap, type HeldLeaf } from './alter-tree-swap.js';

/**
 * `--alter` on a partitioned table: PostgreSQL keeps one definition for the table and its
 * partitions, so they change together. Every leaf gets its own shadow with the new definition, its
 * own capture, copy, index builds and catch-up (the table machinery, run side by side, each on its
 * work and guard connections); then one swap (alter-tree-swap.ts) detaches every old leaf, gives the
 * partitioned table the new definition (catalog only: it has no rows of its own) and attaches the
 * shadows with the old bounds, under one transaction. The partitioned table keeps its OID, so its
 * grants, the foreign keys referencing it, its publications and the views over it stay its own.
 * Refuses first, before anything is made (alter-tree-refusal.ts), what it does not carry out.
 * Returns the leaves' results, in the tree's order; a refusal is one failed result for the table.
 */
export async function alterPartitionedTable(
  source: ConnectionSource,
  target: RepackTarget,
  opts: ResolvedOptions,
  shared: RunShared | undefined,
  /** Connections the caller's pool allows (undefined: the run opens its own). */
  poolMax: number | undefined,
): Promise<TableResult[]> {
  const logger = opts.logger ?? silentLogger;
  let tree: TreeFacts;
  let plan: AlterPlan;
  const client = await source.connect();
  try {
    tree = await readTree(client, target);
    const refusal = treeRefusal(tree, opts.alter?.actions ?? [], opts.alter?.columnOrder);
    if (refusal) throw refusal;
    if (poolMax !== undefined && poolMax < 2 * tree.leaves.length + 1) {
      throw new PgToolsError(
        'alter_refused',
        `--alter on ${tree.display}: its ${tree.leaves.length} partitions are altered side by side, each on two connections, and the swap needs one more: ` +
          `${2 * tree.leaves.length + 1} in all, the pool allows ${poolMax}; give a larger pool (or a connection string); nothing was changed`,
      );
    }
    // Each leaf holds a work, a guard and (until its swap) a DDL watcher connection, and the swap one more.
    const needed = 3 * tree.leaves.length + 1;
    const { rows } = await client.query<{ free: number }>(
      `SELECT pg_catalog.current_setting('max_connections')::int - pg_catalog.current_setting('superuser_reserved_connections')::int
              - (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')::int AS free`,
    );
    if ((rows[0]?.free ?? needed) < needed) {
      throw new PgToolsError(
        'alter_refused',
        `--alter on ${tree.display}: its ${tree.leaves.length} partitions are altered side by side and need about ${needed} connections; the server has ${rows[0]?.free ?? 0} free ` +
          '(raise max_connections, or detach partitions and alter them in smaller partitioned tables); nothing was changed',
      );
    }
    const info = await inspectTable(client, { schema: tree.schema, name: tree.name });
    plan = await probeAlter(client, info, [], opts.alter ?? { actions: [], columnOrder: undefined }, logger, 'tree-parent');
    await refuseParentViews(client, tree, plan.changes.retyped);
  } catch (err) {
    return [failedResult(target.display, err)];
  } finally {
    await source.release(client);
  }
  logger.info(`--alter on ${tree.display}: ${tree.leaves.length} partitions, swapped together`);
  const held = new TreeBarrier(tree.leaves.length, (leaves) => runTreeSwap(source, { tree, plan, leaves, opts }));
  const results = await Promise.all(
    tree.leaves.map((leaf, i) =>
      repackOneTable(source, { ...leaf, discovered: false, treeLeaf: true }, opts, shared, (run, input) => held.arrive(i, { run, input })).then((r) => {
        held.ended(i, r);
        return r;
      }),
    ),
  );
  return results;
}

function failedResult(display: string, err: unknown): TableResult {
  const e = err instanceof PgToolsError ? err : wrapPgError(err, 'repack_failed', `--alter on ${display} failed`);
  const result = emptyTableResult(display);
  result.status = outcomeOf(e.code);
  result.code = e.code;
  result.message = e.message;
  return result;
}

/**
 * Where the leaves wait for each other: once every leaf arrived ready, `swap` runs once and each
 * arrival resolves with its after-commit statements; a leaf that ends without arriving (it failed,
 * nothing of it was swapped) makes every arrival fail, so every leaf is left intact.
 */
class TreeBarrier {
  private readonly waiting = new Map<number, { leaf: HeldLeaf; resolve: (s: string[]) => void; reject: (e: unknown) => void }>();
  private failed: PgToolsError | undefined;
  private swapped = false;

  constructor(
    private readonly count: number,
    private readonly swap: (leaves: HeldLeaf[]) => Promise<string[][]>,
  ) {}

  arrive(i: number, leaf: HeldLeaf): Promise<string[]> {
    if (this.failed) return Promise.reject(this.failed);
    const done = new Promise<string[]>((resolve, reject) => this.waiting.set(i, { leaf, resolve, reject }));
    if (this.waiting.size === this.count) void this.fire();
    return done;
  }

  /** A leaf's run ended; before the swap that means it failed and the tree cannot be swapped. */
  ended(i: number, result: TableResult): void {
    if (this.swapped || this.waiting.has(i) || this.failed) return;
    this.failed = new PgToolsError(
      'partition_failed',
      `another partition of the table failed (${result.table}: ${result.message ?? result.status}), so the partitioned table is not swapped; this partition is unchanged`,
    );
    for (const w of this.waiting.values()) w.reject(this.failed);
    this.waiting.clear();
  }

  private async fire(): Promise<void> {
    const order = [...this.waiting.keys()].sort((a, b) => a - b);
    const entries = order.map((i) => this.waiting.get(i)!);
    this.swapped = true;
    try {
      const after = await this.swap(entries.map((e) => e.leaf));
      entries.forEach((e, k) => e.resolve(after[k] ?? []));
    } catch (err) {
      for (const e of entries) e.reject(err);
    }
  }
}

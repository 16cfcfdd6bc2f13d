import type { TableRun } from './table-run.js';
import type { SwapInput } from './phases/swap.js';

/**
 * Where a leaf of a partitioned table altered whole (alter-tree.ts) waits instead of its own swap:
 * given the run and everything its swap would have used, it resolves once the whole tree was swapped
 * and committed, with what the leaf must run after the commit; it rejects when the tree swap did not
 * happen (another leaf failed, the lock was not obtained), the leaf still intact.
 */
export type LeafHold = (run: TableRun, input: SwapInput) => Promise<string[]>;

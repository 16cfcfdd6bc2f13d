import { displayName, PgToolsError, silentLogger, sqlStateOf, wrapPgError, type Queryable } from '@pgtools/core';
import { lockNotHeldError, SWAP_CHECK_STATE, withCatalogSearchPath, type TableInfo } from './catalog.js';
import type { RenameFacts, RenameMoved, RenameStepOptions, RenameSwapStep } from './rename-facts.js';
import { CHANGED_MESSAGE, PARENT_LOCK_MESSAGE } from './rename-fingerprint.js';
import { readRenameFacts } from './rename-read.js';
import { renameSwapRefusal } from './rename-refusal.js';
import { renameSwapSteps } from './rename-steps.js';
import { recreatesViews } from './rename-views.js';
import type { IndexPair, RelationName, SwapCommonOptions } from './types.js';

export type { RenameSwapStep } from './rename-facts.js';

export interface RenameSwapOptions extends SwapCommonOptions, RenameStepOptions {
  /** The user's table; afterwards it is the old copy, renamed to the shadow's schema and name. */
  original: RelationName;
  /** The full-definition shadow from {@link createRenameShadow}; afterwards it carries the original's name. */
  shadow: RelationName;
  /** Every index of the original with its copy on the shadow (built from {@link shadowIndexDefinitions}). */
  indexPairs: readonly IndexPair[];
}

export interface RenameSwapResult {
  /** OID of the table that now has the original's name (the former shadow). */
  tableOid: number;
  /** OID of the old table, now named like the shadow; drop it with {@link dropShadow}. */
  oldTableOid: number;
  moved: RenameMoved;
  /** Statements the caller should run after COMMIT (only with foreignKeyValidation 'after-commit'). */
  afterCommit: string[];
  /** Every statement run, in order. */
  statements: string[];
}

/**
 * Puts a rebuilt table in place of the original by renaming, for a table owner without superuser (managed
 * services). Everything attached to the original's OID is moved to the new table: indexes and constraint names,
 * CHECK/NOT NULL (already on the shadow; PostgreSQL 18's NOT NULL constraints take the original names; NOT VALID
 * CHECK and NOT NULL constraints are added, still NOT VALID), foreign keys in both directions, triggers with their enabled state,
 * RLS flags and policies, table and column grants, comments, reloptions, replica identity, CLUSTER mark,
 * per-column statistics targets and options, extended statistics, sequences OWNED BY its columns, identity
 * sequences (continuing from the old value), views (CREATE OR REPLACE, so they keep their OID, grants and
 * dependents; with retyped `columnChanges` dropped and created again, views over them included, see
 * rename-views.ts) and publication membership. What it cannot move makes it refuse with `rename_swap_unsupported`
 * before changing anything. Runs in the caller's transaction, which must hold ACCESS EXCLUSIVE on both tables
 * and, for a partition (detached and attached again, see rename-partition.ts), on its partitioned table
 * (`LOCK TABLE ONLY parent`, which DETACH PARTITION needs: every query through it waits until the commit).
 * It is {@link prepareRenameSwap} followed by {@link executeRenameSwap}.
 *
 * @example
 * ```ts
 * import { renameSwap, dropShadow } from '@pgtools/swap';
 * await client.query('BEGIN');
 * await client.query('LOCK TABLE public.orders, pgtools.table_16385 IN ACCESS EXCLUSIVE MODE');
 * await renameSwap(client, {
 *   original: { schema: 'public', name: 'orders' },
 *   shadow: { schema: 'pgtools', name: 'table_16385' },
 *   indexPairs: [{ original: { schema: 'public', name: 'orders_pkey' }, shadow: { schema: 'pgtools', name: 'index_16390' } }],
 * });
 * await client.query('COMMIT');
 * await dropShadow(client, { schema: 'pgtools', name: 'table_16385' }); // the old table now has this name
 * ```
 */
export async function renameSwap(client: Queryable, options: RenameSwapOptions): Promise<RenameSwapResult> {
  return executeRenameSwap(client, await prepareRenameSwap(client, options));
}

/**
 * The statements of a planned rename swap, for a caller that sends them in one multi-statement round
 * trip with its own while it holds ACCESS EXCLUSIVE on both tables: `check` raises an error unless the
 * lock is held and nothing the plan relies on changed (send it first), then `steps` in order. Map a
 * failure with {@link renameSwapError}; call {@link finishRenameSwap} once they ran.
 *
 * @example
 * ```ts
 * import { renameSwapStatements, finishRenameSwap } from '@pgtools/swap';
 * const { check, steps } = renameSwapStatements(plan);
 * await client.query([check, ...steps].join(';\n'));
 * const result = finishRenameSwap(plan);
 * ```
 */
export function renameSwapStatements(plan: RenameSwapPlan): { check: string; steps: string[] } {
  const check = plan.steps.find((s) => s.phase === 'check');
  if (!check) throw new PgToolsError('rename_swap_failed', 'the rename swap plan has no check step');
  return { check: check.sql, steps: plan.steps.filter((s) => s.phase === 'swap').map((s) => s.sql) };
}

/**
 * The error for a failure of {@link renameSwapStatements} on the server (the transaction must be
 * rolled back either way): `swap_precondition` when the lock is not held, `rename_swap_stale` when
 * something attached to the table changed since {@link prepareRenameSwap} (prepare again),
 * `rename_swap_failed` otherwise.
 *
 * @example
 * ```ts
 * import { renameSwapError } from '@pgtools/swap';
 * try { await client.query(sql); } catch (err) { throw renameSwapError(plan, err); }
 * ```
 */
export function renameSwapError(plan: RenameSwapPlan, err: unknown): PgToolsError {
  const notLocked = lockNotHeldError(err, plan.original, plan.shadow);
  if (notLocked) return notLocked;
  const orig = displayName(plan.original.schema, plan.original.name);
  const partition = plan.facts.attached.partition;
  if (partition !== null && sqlStateOf(err) === SWAP_CHECK_STATE && (err as Error | undefined)?.message === PARENT_LOCK_MESSAGE) {
    const parent = displayName(partition.parentSchema, partition.parentName);
    return new PgToolsError(
      'swap_precondition',
      `this transaction does not hold ACCESS EXCLUSIVE on ${parent}, which detaching the partition ${orig} needs: run LOCK TABLE ONLY ${parent} IN ACCESS EXCLUSIVE MODE in it too`,
      { cause: err },
    );
  }
  if (sqlStateOf(err) === SWAP_CHECK_STATE && (err as Error | undefined)?.message === CHANGED_MESSAGE) {
    return new PgToolsError(
      'rename_swap_stale',
      `something attached to ${orig} (a grant, a view, a comment, ...) changed since the rename swap was planned; roll back and plan it again`,
      { cause: err },
    );
  }
  return wrapPgError(err, 'rename_swap_failed', `rename swap of ${orig} failed (roll the transaction back)`);
}

/**
 * Reports a rename swap whose statements ran (events `rename_step` for each, then `rename_swapped`).
 *
 * @example
 * ```ts
 * import { finishRenameSwap } from '@pgtools/swap';
 * const { afterCommit } = finishRenameSwap(plan);
 * ```
 */
export function finishRenameSwap(plan: RenameSwapPlan): RenameSwapResult {
  const { options } = plan;
  const logger = options.logger ?? silentLogger;
  const run = plan.steps.filter((s) => s.phase === 'swap');
  for (const { name, sql } of run) {
    options.onEvent?.({ type: 'rename_step', step: name, sql });
    logger.debug('rename swap step', { step: name, sql });
  }
  logger.info('rename swap done', { table: displayName(plan.original.schema, plan.original.name), statements: run.length });
  options.onEvent?.({ type: 'rename_swapped', table: options.original, shadow: options.shadow });
  return plan.result;
}

/**
 * The part of the rename swap that needs ACCESS EXCLUSIVE on both tables, in one round trip: the
 * lock and change check, then every statement of the plan. Throws `swap_precondition`,
 * `rename_swap_stale` and `rename_swap_failed` (see {@link renameSwapError}).
 *
 * @example
 * ```ts
 * import { executeRenameSwap } from '@pgtools/swap';
 * await executeRenameSwap(client, plan); // plan from prepareRenameSwap, inside the locking transaction
 * ```
 */
export async function executeRenameSwap(client: Queryable, plan: RenameSwapPlan): Promise<RenameSwapResult> {
  const { check, steps } = renameSwapStatements(plan);
  // The statements were written with pg_catalog first in the search path (as pg_get_*def printed them).
  await withCatalogSearchPath(client, async () => {
    try {
      await client.query([check, ...steps].join(';\n'));
    } catch (err) {
      throw renameSwapError(plan, err);
    }
  });
  return finishRenameSwap(plan);
}

/**
 * A rename swap worked out by {@link prepareRenameSwap}: the facts it was worked out from (their
 * fingerprint is checked again under ACCESS EXCLUSIVE) and every statement, in order.
 */
export interface RenameSwapPlan {
  original: TableInfo;
  shadow: TableInfo;
  fingerprint: string;
  /** The check, the swap's statements and those to run after the commit ({@link RenameSwapStep.phase}). */
  steps: RenameSwapStep[];
  result: RenameSwapResult;
  options: RenameSwapOptions;
  facts: RenameFacts;
}

/**
 * Everything of the rename swap that needs no ACCESS EXCLUSIVE: the ownership check, the inventory of
 * what is attached to the original (refusing with `rename_swap_unsupported` what cannot be moved),
 * the shadow's definition, the index pairs, giving the shadow the original's owner, and every
 * statement of the swap. Run it while the table's structure is protected (a SHARE UPDATE EXCLUSIVE
 * lock held by this transaction keeps most DDL out); {@link renameSwapStatements} then checks, under
 * ACCESS EXCLUSIVE, that nothing the plan relies on changed meanwhile (a GRANT or a new view needs no
 * such lock). Reading view definitions takes ACCESS SHARE on each view until the transaction ends:
 * run it outside the transaction that will hold the locks (in autocommit, on another connection of
 * the same role) so DDL on those views is not held up meanwhile. Throws `rename_swap_not_owner`,
 * `rename_swap_unsupported`, `swap_precondition`. It is {@link readRenameFacts} (every catalog read),
 * then the pure {@link renameSwapRefusal} and {@link renameSwapSteps}.
 *
 * @example
 * ```ts
 * import { prepareRenameSwap, executeRenameSwap } from '@pgtools/swap';
 * const plan = await prepareRenameSwap(client, { original, shadow, indexPairs });
 * await client.query('LOCK TABLE public.orders, pgtools.table_16385 IN ACCESS EXCLUSIVE MODE');
 * const result = await executeRenameSwap(client, plan);
 * ```
 */
export async function prepareRenameSwap(client: Queryable, options: RenameSwapOptions): Promise<RenameSwapPlan> {
  const read = await readRenameFacts(client, options.original, options.shadow, options.indexPairs, { viewTree: recreatesViews(options.columnChanges) });
  // A leaf of a partitioned table swapped whole: the caller moves the foreign keys referencing the partitioned table.
  const facts = options.partitionTree
    ? { ...read, attached: { ...read.attached, foreignKeysIn: read.attached.foreignKeysIn.filter((fk) => !fk.inherited) } }
    : read;
  const accepted = renameSwapRefusal(facts, options);
  if (accepted instanceof PgToolsError) throw accepted;
  options.onEvent?.({ type: 'swap_validated', mode: 'rename', table: options.original, shadow: options.shadow, indexes: accepted.pairs.length });
  const { steps, moved } = renameSwapSteps(facts, options);
  const result: RenameSwapResult = {
    tableOid: facts.shadow.oid,
    oldTableOid: facts.original.oid,
    moved,
    afterCommit: steps.filter((s) => s.phase === 'after-commit').map((s) => s.sql),
    statements: steps.filter((s) => s.phase === 'swap').map((s) => s.sql),
  };
  return { original: facts.original, shadow: facts.shadow, fingerprint: facts.fingerprint, steps, result, options, facts };
}

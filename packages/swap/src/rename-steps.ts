import { displayName, PgToolsError, quoteIdent, quoteLiteral, quoteQualified } from '@pgtools/core';
import type { ResolvedIndexPair } from './preconditions.js';
import type { RenameFacts, RenameMoved, RenameStepOptions, RenameSwapStep } from './rename-facts.js';
import { renameCheckSql } from './rename-fingerprint.js';
import { attachPartitionSteps, detachPartitionSteps } from './rename-partition.js';
import { pairNotNulls, renameSwapRefusal, type RenameSwapAccepted } from './rename-refusal.js';
import type { StepContext } from './rename-step-context.js';
import { grantSteps, identitySteps, policySteps, publicationSteps, settingSteps, statisticsSteps, triggerSteps, viewSteps } from './rename-steps-attached.js';

/** Every statement of a rename swap, as data, and what it moves. */
export interface RenameSwapSteps {
  /** In order: the `check`, the `swap` steps, then the `after-commit` ones. */
  steps: RenameSwapStep[];
  moved: RenameMoved;
}

/**
 * Builds every statement of the rename swap from the facts alone (pure): the check under the lock,
 * then, in order, giving the shadow the original's owner, detaching what points at the old table,
 * moving the old names out of the way, the two tables trading places, and rebuilding on the new table
 * what was attached to the old one (a partition: detaching the old leaf, attaching the new one;
 * indexes and constraint names, foreign keys both ways, triggers,
 * RLS and policies, grants, settings, comments, identity sequences, statistics, views, publications).
 * Refuses first, with the error of {@link renameSwapRefusal}, what it cannot do; throws
 * `rename_swap_failed` for catalog contents it does not know (a policy command, a privilege).
 *
 * @example
 * ```ts
 * const { steps } = renameSwapSteps(await readRenameFacts(client, original, shadow, indexPairs), { foreignKeyValidation: 'after-commit' });
 * ```
 */
export function renameSwapSteps(facts: RenameFacts, options: RenameStepOptions = {}): RenameSwapSteps {
  const accepted = renameSwapRefusal(facts, options);
  if (accepted instanceof PgToolsError) throw accepted;
  const { original, shadow } = facts;
  const parentOid = facts.attached.partition?.parentOid ?? null;
  const steps: RenameSwapStep[] = [{ name: 'check', sql: renameCheckSql(original, shadow, facts.fingerprint, parentOid), phase: 'check' }];
  const later: RenameSwapStep[] = [];
  const ctx: StepContext = {
    facts,
    attached: facts.attached,
    original,
    shadow,
    T: quoteQualified(original.schema, original.name),
    swap: (name, sql) => steps.push({ name, sql, phase: 'swap' }),
    afterCommit: (name, sql) => later.push({ name, sql, phase: 'after-commit' }),
    moved: {
      indexes: [],
      constraints: [],
      foreignKeysOut: [],
      foreignKeysIn: [],
      triggers: [],
      policies: [],
      views: [],
      publications: [],
      sequencesReowned: [],
      identityContinued: [],
      statistics: [],
      grants: 0,
    },
    indexName: new Map(),
    droppedColumns: new Set(options.columnChanges?.dropped ?? []),
  };
  detachSteps(ctx, accepted);
  tradeSteps(ctx);
  indexSteps(ctx, accepted.pairs, options);
  attachPartitionSteps(ctx);
  foreignKeySteps(ctx, options);
  triggerSteps(ctx, options);
  policySteps(ctx);
  grantSteps(ctx);
  settingSteps(ctx);
  identitySteps(ctx);
  statisticsSteps(ctx, accepted.statPairs);
  viewSteps(ctx, options);
  publicationSteps(ctx);
  return { steps: [...steps, ...later], moved: ctx.moved };
}

/** The owner change, then detaching what points at the old table and moving its names out of the way. */
function detachSteps(ctx: StepContext, accepted: RenameSwapAccepted): void {
  const { attached: inv, original, shadow, T, swap } = ctx;
  if (shadow.ownerOid !== original.ownerOid) {
    // Under the swap's lock, not now: outside it ALTER OWNER would take ACCESS EXCLUSIVE on the
    // shadow in the caller's transaction, which may keep writing to it from another session.
    swap('owner', `ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} OWNER TO ${quoteIdent(original.owner)}`);
  }
  // A partition leaves its partitioned table first (rename-partition.ts).
  detachPartitionSteps(ctx);
  // Detach what points at the old table while it still has its name.
  for (const pub of inv.publications) {
    swap('publication', `ALTER PUBLICATION ${quoteIdent(pub.name)} DROP TABLE ${T}`);
  }
  for (const fk of inv.foreignKeysIn) {
    swap('foreign key', `ALTER TABLE ${quoteQualified(fk.schema, fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  }
  // The old table's own foreign keys go too: their triggers on the referenced tables would keep checking stale rows.
  for (const fk of inv.foreignKeysOut) {
    swap('foreign key', `ALTER TABLE ${T} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  }
  for (const p of accepted.pairs) {
    swap('index', `ALTER INDEX ${quoteQualified(p.original.schema, p.original.name)} RENAME TO ${quoteIdent(`pgtools_old_${p.original.oid}`)}`);
  }
  for (const s of inv.identitySequences) {
    swap('sequence', `ALTER SEQUENCE ${quoteQualified(s.schema, s.name)} RENAME TO ${quoteIdent(`pgtools_old_${s.oid}`)}`);
  }
  for (const s of inv.statistics) {
    swap('statistics', `ALTER STATISTICS ${quoteQualified(s.schema, s.name)} RENAME TO ${quoteIdent(`pgtools_old_${s.oid}`)}`);
  }
}

/** The tables trade places. */
function tradeSteps(ctx: StepContext): void {
  const { attached: inv, original, shadow, T, swap } = ctx;
  const tmpNew = `pgtools_swap_new_${shadow.oid}`;
  const tmpOld = `pgtools_swap_old_${original.oid}`;
  const sameSchema = original.schema === shadow.schema;
  // Serial sequences are re-owned between the two moves: SET SCHEMA carries a table's owned
  // sequences along, and neither sequence should leave the schema it lives in.
  swap('rename', `ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} RENAME TO ${quoteIdent(tmpNew)}`);
  if (!sameSchema) swap('rename', `ALTER TABLE ${quoteQualified(shadow.schema, tmpNew)} SET SCHEMA ${quoteIdent(original.schema)}`);
  swap('rename', `ALTER TABLE ${T} RENAME TO ${quoteIdent(tmpOld)}`);
  swap('rename', `ALTER TABLE ${quoteQualified(original.schema, tmpNew)} RENAME TO ${quoteIdent(original.name)}`);
  for (const s of inv.serialSequences) {
    swap('sequence', `ALTER SEQUENCE ${quoteQualified(s.schema, s.name)} OWNED BY ${T}.${quoteIdent(s.column)}`);
    ctx.moved.sequencesReowned.push(displayName(s.schema, s.name));
  }
  if (!sameSchema) swap('rename', `ALTER TABLE ${quoteQualified(original.schema, tmpOld)} SET SCHEMA ${quoteIdent(shadow.schema)}`);
  swap('rename', `ALTER TABLE ${quoteQualified(shadow.schema, tmpOld)} RENAME TO ${quoteIdent(shadow.name)}`);
}

/**
 * Indexes take the original names; constraints are attached to them (which names the index after the
 * constraint); NOT NULL constraints take the original names, NOT VALID ones and NOT VALID CHECKs are
 * added; then the constraints' comments.
 */
function indexSteps(ctx: StepContext, pairs: readonly ResolvedIndexPair[], options: RenameStepOptions): void {
  const { attached: inv, original, T, swap } = ctx;
  for (const p of pairs) {
    const current = quoteQualified(original.schema, p.shadow.name);
    const o = p.original;
    const constraint = o.constraintType === 'p' || o.constraintType === 'u' ? o.constraintName : null;
    if (constraint !== null) {
      const kind = o.constraintType === 'p' ? 'PRIMARY KEY' : 'UNIQUE';
      const deferrable = o.deferrable ? (o.deferred ? ' DEFERRABLE INITIALLY DEFERRED' : ' DEFERRABLE') : '';
      swap('constraint', `ALTER TABLE ${T} ADD CONSTRAINT ${quoteIdent(constraint)} ${kind} USING INDEX ${quoteIdent(p.shadow.name)}${deferrable}`);
      ctx.moved.constraints.push(constraint);
      if (constraint !== o.name) {
        swap('index', `ALTER INDEX ${quoteQualified(original.schema, constraint)} RENAME TO ${quoteIdent(o.name)}`);
      }
    } else {
      swap('index', `ALTER INDEX ${current} RENAME TO ${quoteIdent(o.name)}`);
    }
    ctx.indexName.set(o.oid, o.name);
    ctx.moved.indexes.push(o.name);
    const detail = inv.indexDetails.find((d) => d.oid === o.oid);
    const idx = quoteQualified(original.schema, o.name);
    for (const st of detail?.statTargets ?? []) {
      swap('index', `ALTER INDEX ${idx} ALTER COLUMN ${st.position} SET STATISTICS ${st.target}`);
    }
    if (detail?.comment != null) swap('comment', `COMMENT ON INDEX ${idx} IS ${quoteLiteral(detail.comment)}`);
  }
  // Added UNIQUE constraints take over their index (built on the shadow, it moved with the table and is renamed to the constraint).
  for (const u of options.columnChanges?.constraints?.uniques ?? []) {
    swap('constraint', `ALTER TABLE ${T} ADD CONSTRAINT ${quoteIdent(u.name)} UNIQUE USING INDEX ${quoteIdent(u.index)}`);
    ctx.moved.constraints.push(u.name);
  }
  // NOT NULL constraints (PostgreSQL 18+) take the original's names, and NOT VALID ones are added (no scan),
  // before the comments name them.
  for (const [from, to] of pairNotNulls(ctx.facts).pairs) {
    if (from.name !== to.name) swap('constraint', `ALTER TABLE ${T} RENAME CONSTRAINT ${quoteIdent(from.name)} TO ${quoteIdent(to.name)}`);
  }
  // NOT VALID CHECKs too, with NOT VALID and NO INHERIT in their definitions; a partition's before the ATTACH,
  // which wants the partitioned table's CHECKs on the new leaf.
  // Not on a column whose NOT NULL the caller set or dropped (an online schema change): the shadow has what it asked for.
  const nullability = new Set(options.columnChanges?.nullability ?? []);
  for (const n of [...inv.notNulls.filter((x) => !nullability.has(x.column)), ...inv.checks].filter((x) => !x.validated)) {
    swap('constraint', `ALTER TABLE ${T} ADD CONSTRAINT ${quoteIdent(n.name)} ${n.def}`);
    ctx.moved.constraints.push(n.name);
  }
  for (const c of inv.constraintComments) {
    swap('comment', `COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${T} IS ${quoteLiteral(c.comment)}`);
  }
}

/** Foreign keys: the captured definitions name the referenced table as schema.name, which now means the new table. */
function foreignKeySteps(ctx: StepContext, options: RenameStepOptions): void {
  const { attached: inv, T, swap } = ctx;
  const validate: Array<{ table: string; name: string }> = [];
  const addFk = (table: string, fk: { name: string; def: string; validated: boolean; comment: string | null }): void => {
    swap('foreign key', `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.def}${fk.validated ? ' NOT VALID' : ''}`);
    if (fk.validated) validate.push({ table, name: fk.name });
    if (fk.comment !== null) swap('comment', `COMMENT ON CONSTRAINT ${quoteIdent(fk.name)} ON ${table} IS ${quoteLiteral(fk.comment)}`);
  };
  for (const fk of inv.foreignKeysOut) {
    addFk(T, fk);
    ctx.moved.foreignKeysOut.push(fk.name);
  }
  // Added foreign keys: the caller checked the rows before the swap; validated as the moved ones are.
  for (const fk of options.columnChanges?.constraints?.foreignKeys ?? []) {
    addFk(T, { ...fk, validated: true, comment: null });
    ctx.moved.foreignKeysOut.push(fk.name);
  }
  for (const fk of inv.foreignKeysIn) {
    addFk(quoteQualified(fk.schema, fk.table), fk);
    ctx.moved.foreignKeysIn.push(`${displayName(fk.schema, fk.table)}.${fk.name}`);
  }
  for (const v of validate) {
    const sql = `ALTER TABLE ${v.table} VALIDATE CONSTRAINT ${quoteIdent(v.name)}`;
    if ((options.foreignKeyValidation ?? 'inside') === 'inside') swap('foreign key', sql);
    else ctx.afterCommit('foreign key', sql);
  }
}

import { displayName, PgToolsError, quoteIdent, quoteLiteral, quoteQualified } from '@pgtools/core';
import { oidLiteral } from './catalog.js';
import { createViewSql, parseReloptions, reloptionsClause } from './reloptions.js';
import { aclSteps } from './acl-steps.js';
import type { RenameStepOptions, StatObject } from './rename-facts.js';
import type { StepContext } from './rename-step-context.js';
import { recreatesViews, recreateViewSteps } from './rename-views.js';

// The pure builders of the rename swap's statements for what is attached to the table, each
// appending to the context in the order renameSwapSteps calls them.

const POLICY_COMMANDS: Record<string, string> = { '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' };
const TRIGGER_STATES: Record<string, string> = { D: 'DISABLE TRIGGER', R: 'ENABLE REPLICA TRIGGER', A: 'ENABLE ALWAYS TRIGGER' };
/** The state of a trigger a partition inherited: attaching clones the partitioned table's, whose state may differ. */
const INHERITED_TRIGGER_STATES: Record<string, string> = { ...TRIGGER_STATES, O: 'ENABLE TRIGGER' };

/** A statistics target worth setting: PostgreSQL 17+ keeps NULL for the default where earlier versions keep -1. */
const explicitTarget = (target: number | null): target is number => target !== null && target >= 0;

/** Triggers (but the excluded ones) with their enabled state and comments; a partition's inherited ones come with the ATTACH. */
export function triggerSteps(ctx: StepContext, options: Pick<RenameStepOptions, 'excludeTriggers'>): void {
  const { T, swap } = ctx;
  const exclude = new Set(options.excludeTriggers ?? []);
  for (const tg of ctx.attached.triggers) {
    if (exclude.has(tg.name)) continue;
    if (!tg.inherited) swap('trigger', tg.def);
    const state = (tg.inherited ? INHERITED_TRIGGER_STATES : TRIGGER_STATES)[tg.enabled];
    if (state) swap('trigger', `ALTER TABLE ${T} ${state} ${quoteIdent(tg.name)}`);
    if (tg.comment !== null) swap('comment', `COMMENT ON TRIGGER ${quoteIdent(tg.name)} ON ${T} IS ${quoteLiteral(tg.comment)}`);
    ctx.moved.triggers.push(tg.name);
  }
}

/** Row level security flags and the policies, with their roles ('' is PUBLIC) and comments. */
export function policySteps(ctx: StepContext): void {
  const { attached: inv, T, swap } = ctx;
  if (inv.rowSecurity) swap('row security', `ALTER TABLE ${T} ENABLE ROW LEVEL SECURITY`);
  if (inv.forceRowSecurity) swap('row security', `ALTER TABLE ${T} FORCE ROW LEVEL SECURITY`);
  for (const p of inv.policies) {
    const cmd = POLICY_COMMANDS[p.cmd];
    if (!cmd) throw new PgToolsError('rename_swap_failed', `policy ${p.name} has an unknown command ${JSON.stringify(p.cmd)}`);
    const roles = p.roles.map((r) => (r === '' ? 'PUBLIC' : quoteIdent(r))).join(', ');
    swap(
      'policy',
      `CREATE POLICY ${quoteIdent(p.name)} ON ${T} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${cmd} TO ${roles}` +
        (p.qual !== null ? ` USING (${p.qual})` : '') +
        (p.withCheck !== null ? ` WITH CHECK (${p.withCheck})` : ''),
    );
    if (p.comment !== null) swap('comment', `COMMENT ON POLICY ${quoteIdent(p.name)} ON ${T} IS ${quoteLiteral(p.comment)}`);
    ctx.moved.policies.push(p.name);
  }
}

/** Makes the new table's ACL equal to the old one's; a column the caller dropped on purpose (an online schema change) takes its grants with it, as DROP COLUMN does. */
export function grantSteps(ctx: StepContext): void {
  const { attached: inv } = ctx;
  ctx.moved.grants = aclSteps(
    ctx.swap,
    {
      target: ctx.T,
      owner: ctx.original.owner,
      current: ctx.facts.shadowGrantees,
      aclIsNull: inv.tableAclIsNull,
      grants: inv.tableGrants,
      columnGrants: inv.columnGrants,
    },
    ctx.droppedColumns,
  );
}

/** Table settings: reloptions, replica identity, CLUSTER mark, per-column statistics targets, options and comments, the table's comment. */
export function settingSteps(ctx: StepContext): void {
  const { attached: inv, original, T, swap } = ctx;
  const cur = ctx.facts.shadowReloptions;
  const reset = [
    ...parseReloptions(cur.heap)
      .filter((o) => !parseReloptions(original.reloptions).some((x) => x.name === o.name))
      .map((o) => quoteIdent(o.name)),
    ...parseReloptions(cur.toast)
      .filter((o) => !parseReloptions(original.toastReloptions).some((x) => x.name === o.name))
      .map((o) => `toast.${quoteIdent(o.name)}`),
  ];
  if (reset.length > 0) swap('reloptions', `ALTER TABLE ${T} RESET (${reset.join(', ')})`);
  const set = reloptionsClause(original.reloptions, original.toastReloptions);
  if (set) swap('reloptions', `ALTER TABLE ${T} SET (${set})`);
  if (inv.replicaIdentity === 'i' && inv.replicaIdentityIndex !== null) {
    swap('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY USING INDEX ${quoteIdent(newIndexName(ctx, inv.replicaIdentityIndex))}`);
  } else if (inv.replicaIdentity === 'f') {
    swap('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY FULL`);
  } else if (inv.replicaIdentity === 'n') {
    swap('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY NOTHING`);
  }
  if (inv.clusterIndex !== null) swap('cluster', `ALTER TABLE ${T} CLUSTER ON ${quoteIdent(newIndexName(ctx, inv.clusterIndex))}`);
  for (const col of inv.columns) {
    // A column the caller dropped on purpose takes its settings and comment with it, as DROP COLUMN does.
    if (ctx.droppedColumns.has(col.name)) continue;
    const c = quoteIdent(col.name);
    if (explicitTarget(col.statTarget)) swap('column', `ALTER TABLE ${T} ALTER COLUMN ${c} SET STATISTICS ${col.statTarget}`);
    // Options named pg_* are kept by the server itself (some builds record one on every column); only user options are copied.
    const userOptions = col.options.filter((o) => !o.startsWith('pg_'));
    if (userOptions.length > 0) swap('column', `ALTER TABLE ${T} ALTER COLUMN ${c} SET (${reloptionsClause(userOptions)})`);
    swap('comment', `COMMENT ON COLUMN ${T}.${c} IS ${col.comment === null ? 'NULL' : quoteLiteral(col.comment)}`);
  }
  if (inv.tableComment !== null) swap('comment', `COMMENT ON TABLE ${T} IS ${quoteLiteral(inv.tableComment)}`);
}

/** The name an index of the original has on the new table (every index is paired, so every one has one). */
function newIndexName(ctx: StepContext, oid: number): string {
  const name = ctx.indexName.get(oid);
  if (name === undefined) throw new PgToolsError('rename_swap_failed', `index with OID ${oid} of the table has no copy on the new table`);
  return name;
}

/**
 * Identity columns continue from the old sequence's value and take its name. The new table's
 * identity sequences were read in the shadow's schema; by then they moved with it.
 */
export function identitySteps(ctx: StepContext): void {
  const { original, swap } = ctx;
  for (const old of ctx.attached.identitySequences) {
    const fresh = ctx.facts.shadowIdentitySequences.find((s) => s.column === old.column);
    if (!fresh) throw new PgToolsError('rename_swap_failed', `identity column ${old.column} has no sequence on the new table`);
    // Read under the lock, as part of the swap: the old sequence may still be advancing until then.
    swap(
      'sequence',
      `SELECT pg_catalog.setval(${oidLiteral(fresh.oid)}::pg_catalog.regclass, s.v, true)
         FROM (SELECT pg_catalog.pg_sequence_last_value(${oidLiteral(old.oid)}::pg_catalog.regclass) AS v) s WHERE s.v IS NOT NULL`,
    );
    swap('sequence', `ALTER SEQUENCE ${quoteQualified(original.schema, fresh.name)} RENAME TO ${quoteIdent(old.name)}`);
    ctx.moved.identityContinued.push(old.column);
  }
}

/** The shadow's statistics objects take the original's schema, name, target and comment. */
export function statisticsSteps(ctx: StepContext, statPairs: ReadonlyArray<readonly [StatObject, StatObject]>): void {
  const { swap } = ctx;
  for (const [from, to] of statPairs) {
    if (from.schema !== to.schema) {
      swap('statistics', `ALTER STATISTICS ${quoteQualified(from.schema, from.name)} SET SCHEMA ${quoteIdent(to.schema)}`);
    }
    const st = quoteQualified(to.schema, to.name);
    swap('statistics', `ALTER STATISTICS ${quoteQualified(to.schema, from.name)} RENAME TO ${quoteIdent(to.name)}`);
    if (explicitTarget(to.target)) swap('statistics', `ALTER STATISTICS ${st} SET STATISTICS ${to.target}`);
    if (to.comment !== null) swap('comment', `COMMENT ON STATISTICS ${st} IS ${quoteLiteral(to.comment)}`);
    ctx.moved.statistics.push(to.name);
  }
}

/**
 * Views keep their OID (so grants, owner, comments and views built on them stay): only the query is
 * re-bound. With retyped columns they are dropped and created again instead (rename-views.ts).
 */
export function viewSteps(ctx: StepContext, options: Pick<RenameStepOptions, 'columnChanges'>): void {
  if (recreatesViews(options.columnChanges)) {
    recreateViewSteps(ctx);
    return;
  }
  for (const v of ctx.attached.views) {
    ctx.swap('view', createViewSql('CREATE OR REPLACE VIEW', quoteQualified(v.schema, v.name), v.reloptions, v.def));
    ctx.moved.views.push(displayName(v.schema, v.name));
  }
}

/** The new table joins the publications the old one left, with their column lists and row filters. */
export function publicationSteps(ctx: StepContext): void {
  for (const pub of ctx.attached.publications) {
    const cols = pub.columns ? ` (${pub.columns.map((c) => quoteIdent(c)).join(', ')})` : '';
    const where = pub.filter !== null ? ` WHERE (${pub.filter})` : '';
    ctx.swap('publication', `ALTER PUBLICATION ${quoteIdent(pub.name)} ADD TABLE ONLY ${ctx.T}${cols}${where}`);
    ctx.moved.publications.push(pub.name);
  }
}

import {
  displayName,
  PgToolsError,
  quoteIdent,
  quoteLiteral,
  quoteQualified,
  silentLogger,
  sqlStateOf,
  wrapPgError,
  type Queryable,
} from '@pgtools/core';
import { accessExclusiveCheck, loadColumns, loadTable, lockNotHeldError, oidLiteral, preconditionError, SWAP_CHECK_STATE, withCatalogSearchPath, type TableInfo } from './catalog.js';
import { resolveIndexPairs } from './preconditions.js';
import { parseReloptions, reloptionsClause } from './reloptions.js';
import { inspectForRename, statisticsSql, type AclEntry, type RenameInventory } from './rename-inspect.js';
import type { IndexPair, RelationName, SwapCommonOptions } from './types.js';

export interface RenameSwapOptions extends SwapCommonOptions {
  /** The user's table; afterwards it is the old copy, renamed to the shadow's schema and name. */
  original: RelationName;
  /** The full-definition shadow from {@link createRenameShadow}; afterwards it carries the original's name. */
  shadow: RelationName;
  /** Every index of the original with its copy on the shadow (built from {@link shadowIndexDefinitions}). */
  indexPairs: readonly IndexPair[];
  /** Trigger names on the original not to recreate (the repack's capture trigger). */
  excludeTriggers?: readonly string[];
  /** OIDs of the caller's helper tables that depend on the table (e.g. a change log of its row type) and are dropped before the swap. */
  ignoreRelations?: readonly number[];
  /**
   * `'inside'` (default): foreign keys are re-added NOT VALID and validated in this transaction, so they are exactly
   * as before at commit. `'after-commit'`: they stay NOT VALID and the VALIDATE statements are returned in
   * `afterCommit`, to run after the commit (VALIDATE takes only SHARE UPDATE EXCLUSIVE).
   */
  foreignKeyValidation?: 'inside' | 'after-commit';
}

export interface RenameSwapResult {
  /** OID of the table that now has the original's name (the former shadow). */
  tableOid: number;
  /** OID of the old table, now named like the shadow; drop it with {@link dropShadow}. */
  oldTableOid: number;
  moved: {
    indexes: string[];
    constraints: string[];
    foreignKeysOut: string[];
    foreignKeysIn: string[];
    triggers: string[];
    policies: string[];
    views: string[];
    publications: string[];
    sequencesReowned: string[];
    identityContinued: string[];
    statistics: string[];
    grants: number;
  };
  /** Statements the caller should run after COMMIT (only with foreignKeyValidation 'after-commit'). */
  afterCommit: string[];
  /** Every statement run, in order. */
  statements: string[];
}

const PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']);
const POLICY_COMMANDS: Record<string, string> = { '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' };

/**
 * Puts a rebuilt table in place of the original by renaming, for a table owner without superuser (managed
 * services). Everything attached to the original's OID is moved to the new table: indexes and constraint names,
 * CHECK/NOT NULL (already on the shadow), foreign keys in both directions, triggers with their enabled state,
 * RLS flags and policies, table and column grants, comments, reloptions, replica identity, CLUSTER mark,
 * per-column statistics targets and options, extended statistics, sequences OWNED BY its columns, identity
 * sequences (continuing from the old value), views (CREATE OR REPLACE, so they keep their OID, grants and
 * dependents) and publication membership. What it cannot move makes it refuse with `rename_swap_unsupported`
 * before changing anything. Runs in the caller's transaction, which must hold ACCESS EXCLUSIVE on both tables.
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
 * One text that changes whenever something the rename swap moves, or names in its statements,
 * changes: the table's own row (name, owner, ACL, options, RLS, replica identity), its columns
 * (ACLs, statistics targets, options), every object depending on it, its indexes or its row and
 * array types (described by name, so renaming a sequence, a view or a publication counts), the
 * indexes' names and statistics targets, constraint, trigger and policy definitions as the server
 * prints them (referenced tables, functions and role names included), views' query trees and
 * options, publication membership, statistics objects and every comment on them. It takes no lock
 * (pg_get_viewdef would lock each view until the caller's transaction ends).
 */
function fingerprintSql(tableOid: number): string {
  const t = oidLiteral(tableOid);
  return `WITH objs AS (
      SELECT ${t} AS oid
      UNION ALL SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = ${t}
      UNION ALL SELECT con.oid FROM pg_catalog.pg_constraint con WHERE con.conrelid = ${t} OR con.confrelid = ${t}
      UNION ALL SELECT tg.oid FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = ${t}
      UNION ALL SELECT pol.oid FROM pg_catalog.pg_policy pol WHERE pol.polrelid = ${t}
      UNION ALL SELECT st.oid FROM pg_catalog.pg_statistic_ext st WHERE st.stxrelid = ${t}),
    refs AS (
      SELECT o.oid FROM objs o
      UNION ALL SELECT c.reltype FROM pg_catalog.pg_class c WHERE c.oid = ${t}
      UNION ALL SELECT ty.typarray FROM pg_catalog.pg_class c JOIN pg_catalog.pg_type ty ON ty.oid = c.reltype WHERE c.oid = ${t}),
    deps AS (
      SELECT d.* FROM pg_catalog.pg_depend d WHERE d.refobjid IN (SELECT r.oid FROM refs r)),
    views AS (
      SELECT DISTINCT rw.ev_class AS oid FROM deps d JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
       WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass)
    SELECT pg_catalog.md5(pg_catalog.concat_ws(' | ',
      (SELECT pg_catalog.concat_ws(',', c.relname, c.relnamespace, c.relowner, c.relacl, c.reloptions, c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.reltype,
                                   (SELECT tc.reloptions FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid))
         FROM pg_catalog.pg_class c WHERE c.oid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', a.attrelid, a.attnum, a.attname, a.attacl, a.attstattarget, a.attoptions), ';' ORDER BY a.attrelid, a.attnum)
         FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = ${t} OR a.attrelid IN (SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = ${t})),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', d.classid, d.objid, d.objsubid, d.refobjid, d.refobjsubid, d.deptype,
                                                         pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)), ';'
                                    ORDER BY d.classid, d.objid, d.objsubid, d.refobjid, d.refobjsubid)
         FROM deps d),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', i.indexrelid, ic.relname, i.indisclustered, i.indisreplident, i.indisvalid), ';' ORDER BY i.indexrelid)
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', tg.oid, tg.tgenabled, pg_catalog.pg_get_triggerdef(tg.oid)), ';' ORDER BY tg.oid)
         FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = ${t} AND NOT tg.tgisinternal),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', con.oid, con.conname, con.convalidated, con.conrelid::pg_catalog.regclass,
                                                         pg_catalog.pg_get_constraintdef(con.oid)), ';' ORDER BY con.oid)
         FROM pg_catalog.pg_constraint con WHERE con.conrelid = ${t} OR con.confrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', pol.oid, pol.polname, pol.polpermissive, pol.polcmd, pol.polroles::pg_catalog.regrole[],
                                                         pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid)), ';' ORDER BY pol.oid)
         FROM pg_catalog.pg_policy pol WHERE pol.polrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', v.oid, vc.relname, vc.relnamespace, vc.relowner, vc.reloptions, pg_catalog.md5(rw.ev_action::pg_catalog.text)), ';' ORDER BY v.oid)
         FROM views v JOIN pg_catalog.pg_class vc ON vc.oid = v.oid
         JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = v.oid AND rw.rulename = '_RETURN'),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', pr.oid, p.pubname, p.pubowner, pr.prqual::pg_catalog.text, pr.prattrs), ';' ORDER BY pr.oid)
         FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid WHERE pr.prrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', st.oid, st.stxname, st.stxnamespace, st.stxstattarget), ';' ORDER BY st.oid)
         FROM pg_catalog.pg_statistic_ext st WHERE st.stxrelid = ${t}),
      (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(',', x.objoid, x.classoid, x.objsubid, x.description), ';' ORDER BY x.objoid, x.classoid, x.objsubid)
         FROM pg_catalog.pg_description x WHERE x.objoid IN (SELECT o.oid FROM objs o)))) AS f`;
}

async function readFingerprint(client: Queryable, tableOid: number): Promise<string> {
  const { rows } = await client.query<{ f: string }>(fingerprintSql(tableOid));
  return rows[0]?.f ?? '';
}

const CHANGED_MESSAGE = 'pgtools rename swap: the table changed since the swap was planned';

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
  const check = `DO $pgtools$ BEGIN
      ${accessExclusiveCheck(plan.original, plan.shadow)}
      IF (${fingerprintSql(plan.original.oid)}) IS DISTINCT FROM ${quoteLiteral(plan.fingerprint)} THEN
        RAISE EXCEPTION USING ERRCODE = '${SWAP_CHECK_STATE}', MESSAGE = '${CHANGED_MESSAGE}';
      END IF;
    END $pgtools$`;
  return { check, steps: plan.steps.map((s) => s.sql) };
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
  if (sqlStateOf(err) === SWAP_CHECK_STATE && (err as Error | undefined)?.message === CHANGED_MESSAGE) {
    return new PgToolsError('rename_swap_stale', `something attached to ${orig} (a grant, a view, a comment, ...) changed since the rename swap was planned; roll back and plan it again`, { cause: err });
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
  for (const { step, sql } of plan.steps) {
    options.onEvent?.({ type: 'rename_step', step, sql });
    logger.debug('rename swap step', { step, sql });
  }
  logger.info('rename swap done', { table: displayName(plan.original.schema, plan.original.name), statements: plan.steps.length });
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

/** One statement of a planned rename swap and what it is for (`rename`, `index`, `grant`, ...). */
export interface RenameSwapStep {
  step: string;
  sql: string;
}

/**
 * A rename swap worked out by {@link prepareRenameSwap}: every statement, and a fingerprint of the
 * catalog rows it was worked out from, checked again under ACCESS EXCLUSIVE.
 */
export interface RenameSwapPlan {
  original: TableInfo;
  shadow: TableInfo;
  fingerprint: string;
  steps: RenameSwapStep[];
  result: RenameSwapResult;
  options: RenameSwapOptions;
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
 * `rename_swap_unsupported`, `swap_precondition`.
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
  return withCatalogSearchPath(client, () => planRenameSwap(client, options));
}

async function planRenameSwap(client: Queryable, options: RenameSwapOptions): Promise<RenameSwapPlan> {
  // The fingerprint comes before everything the plan reads: each read sees what committed by then
  // (READ COMMITTED), so a change that commits while the plan is made changes the fingerprint and
  // is caught under the lock. It is read with the search path pinned, as the check under the lock.
  const { oid: originalOid } = await loadTable(client, options.original, 'original');
  const fingerprint = await readFingerprint(client, originalOid);
  const original = await loadTable(client, options.original, 'original');
  if (original.oid !== originalOid) throw preconditionError(`${displayName(original.schema, original.name)} was replaced while the swap was planned`);
  const shadow = await loadTable(client, options.shadow, 'shadow');
  const orig = displayName(original.schema, original.name);
  if (original.oid === shadow.oid) throw preconditionError(`original and shadow are the same table ${orig}`);
  const { rows: own } = await client.query<{ owner: boolean; shadow_owner: boolean; role: string }>(
    `SELECT pg_catalog.pg_has_role($1::int8::oid, 'USAGE') AS owner, pg_catalog.pg_has_role($2::int8::oid, 'USAGE') AS shadow_owner,
            current_user::text AS role`,
    [original.ownerOid, shadow.ownerOid],
  );
  if (!own[0]?.owner || !own[0].shadow_owner) {
    throw new PgToolsError(
      'rename_swap_not_owner',
      `role ${JSON.stringify(own[0]?.role)} must own ${own[0]?.owner ? displayName(shadow.schema, shadow.name) : orig} ` +
        `(be a member of its owner role ${JSON.stringify(own[0]?.owner ? shadow.owner : original.owner)}) to swap it by renaming`,
    );
  }
  const inv = await inspectForRename(client, original, new Set(options.excludeTriggers ?? []), new Set(options.ignoreRelations ?? []));
  if (inv.blockers.length > 0) {
    throw new PgToolsError(
      'rename_swap_unsupported',
      `the rename swap cannot move everything attached to ${orig}: ${inv.blockers.join('; ')}. Use --swap=catalog as a superuser`,
    );
  }
  await checkShadowDefinition(client, original, shadow, inv);
  const pairs = await resolveIndexPairs(client, original, shadow, options.indexPairs);
  for (const p of pairs) {
    if (p.original.constraintType === 'x') {
      throw new PgToolsError('rename_swap_unsupported', `index ${displayName(p.original.schema, p.original.name)} backs an exclusion constraint`);
    }
  }
  const shadowStats = await loadStatistics(client, shadow.oid);
  const statPairs = pairStatistics(inv, shadowStats);
  options.onEvent?.({ type: 'swap_validated', mode: 'rename', table: options.original, shadow: options.shadow, indexes: pairs.length });

  const result: RenameSwapResult = {
    tableOid: shadow.oid,
    oldTableOid: original.oid,
    moved: {
      indexes: [], constraints: [], foreignKeysOut: [], foreignKeysIn: [], triggers: [], policies: [], views: [],
      publications: [], sequencesReowned: [], identityContinued: [], statistics: [], grants: 0,
    },
    afterCommit: [],
    statements: [],
  };
  const steps: RenameSwapStep[] = [];
  const run = (step: string, sql: string): void => {
    steps.push({ step, sql });
    result.statements.push(sql);
  };

  const T = quoteQualified(original.schema, original.name);
  const tmpNew = `pgtools_swap_new_${shadow.oid}`;
  const tmpOld = `pgtools_swap_old_${original.oid}`;
  const sameSchema = original.schema === shadow.schema;

  if (shadow.ownerOid !== original.ownerOid) {
    // Under the swap's lock, not now: outside it ALTER OWNER would take ACCESS EXCLUSIVE on the
    // shadow in the caller's transaction, which may keep writing to it from another session.
    run('owner', `ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} OWNER TO ${quoteIdent(original.owner)}`);
  }
  // Detach what points at the old table while it still has its name.
  for (const pub of inv.publications) {
    run('publication', `ALTER PUBLICATION ${quoteIdent(pub.name)} DROP TABLE ${T}`);
  }
  for (const fk of inv.foreignKeysIn) {
    run('foreign key', `ALTER TABLE ${quoteQualified(fk.schema, fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  }
  // The old table's own foreign keys go too: their triggers on the referenced tables would keep checking stale rows.
  for (const fk of inv.foreignKeysOut) {
    run('foreign key', `ALTER TABLE ${T} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  }
  for (const p of pairs) {
    run('index', `ALTER INDEX ${quoteQualified(p.original.schema, p.original.name)} RENAME TO ${quoteIdent(`pgtools_old_${p.original.oid}`)}`);
  }
  for (const s of inv.identitySequences) {
    run('sequence', `ALTER SEQUENCE ${quoteQualified(s.schema, s.name)} RENAME TO ${quoteIdent(`pgtools_old_${s.oid}`)}`);
  }
  for (const s of inv.statistics) {
    run('statistics', `ALTER STATISTICS ${quoteQualified(s.schema, s.name)} RENAME TO ${quoteIdent(`pgtools_old_${s.oid}`)}`);
  }

  // The tables trade places. Serial sequences are re-owned between the two moves: SET SCHEMA carries a table's
  // owned sequences along, and neither sequence should leave the schema it lives in.
  run('rename', `ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} RENAME TO ${quoteIdent(tmpNew)}`);
  if (!sameSchema) run('rename', `ALTER TABLE ${quoteQualified(shadow.schema, tmpNew)} SET SCHEMA ${quoteIdent(original.schema)}`);
  run('rename', `ALTER TABLE ${T} RENAME TO ${quoteIdent(tmpOld)}`);
  run('rename', `ALTER TABLE ${quoteQualified(original.schema, tmpNew)} RENAME TO ${quoteIdent(original.name)}`);
  for (const s of inv.serialSequences) {
    run('sequence', `ALTER SEQUENCE ${quoteQualified(s.schema, s.name)} OWNED BY ${T}.${quoteIdent(s.column)}`);
    result.moved.sequencesReowned.push(displayName(s.schema, s.name));
  }
  if (!sameSchema) run('rename', `ALTER TABLE ${quoteQualified(original.schema, tmpOld)} SET SCHEMA ${quoteIdent(shadow.schema)}`);
  run('rename', `ALTER TABLE ${quoteQualified(shadow.schema, tmpOld)} RENAME TO ${quoteIdent(shadow.name)}`);

  // Indexes take the original names; constraints are attached to them (which names the index after the constraint).
  const indexName = new Map<number, string>();
  for (const p of pairs) {
    const current = quoteQualified(original.schema, p.shadow.name);
    const o = p.original;
    if (o.constraintType === 'p' || o.constraintType === 'u') {
      const kind = o.constraintType === 'p' ? 'PRIMARY KEY' : 'UNIQUE';
      const deferrable = o.deferrable ? (o.deferred ? ' DEFERRABLE INITIALLY DEFERRED' : ' DEFERRABLE') : '';
      run('constraint', `ALTER TABLE ${T} ADD CONSTRAINT ${quoteIdent(o.constraintName!)} ${kind} USING INDEX ${quoteIdent(p.shadow.name)}${deferrable}`);
      result.moved.constraints.push(o.constraintName!);
      if (o.constraintName !== o.name) {
        run('index', `ALTER INDEX ${quoteQualified(original.schema, o.constraintName!)} RENAME TO ${quoteIdent(o.name)}`);
      }
    } else {
      run('index', `ALTER INDEX ${current} RENAME TO ${quoteIdent(o.name)}`);
    }
    indexName.set(o.oid, o.name);
    result.moved.indexes.push(o.name);
    const detail = inv.indexDetails.find((d) => d.oid === o.oid);
    const idx = quoteQualified(original.schema, o.name);
    for (const st of detail?.statTargets ?? []) {
      run('index', `ALTER INDEX ${idx} ALTER COLUMN ${st.position} SET STATISTICS ${st.target}`);
    }
    if (detail?.comment != null) run('comment', `COMMENT ON INDEX ${idx} IS ${quoteLiteral(detail.comment)}`);
  }
  for (const c of inv.constraintComments) {
    run('comment', `COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${T} IS ${quoteLiteral(c.comment)}`);
  }

  // Foreign keys: the captured definitions name the referenced table as schema.name, which now means the new table.
  const validate: Array<{ table: string; name: string }> = [];
  const addFk = (table: string, fk: { name: string; def: string; validated: boolean; comment: string | null }): void => {
    run('foreign key', `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.def}${fk.validated ? ' NOT VALID' : ''}`);
    if (fk.validated) validate.push({ table, name: fk.name });
    if (fk.comment !== null) run('comment', `COMMENT ON CONSTRAINT ${quoteIdent(fk.name)} ON ${table} IS ${quoteLiteral(fk.comment)}`);
  };
  for (const fk of inv.foreignKeysOut) {
    addFk(T, fk);
    result.moved.foreignKeysOut.push(fk.name);
  }
  for (const fk of inv.foreignKeysIn) {
    addFk(quoteQualified(fk.schema, fk.table), fk);
    result.moved.foreignKeysIn.push(`${displayName(fk.schema, fk.table)}.${fk.name}`);
  }
  for (const v of validate) {
    const sql = `ALTER TABLE ${v.table} VALIDATE CONSTRAINT ${quoteIdent(v.name)}`;
    if ((options.foreignKeyValidation ?? 'inside') === 'inside') run('foreign key', sql);
    else result.afterCommit.push(sql);
  }

  for (const tg of inv.triggers) {
    run('trigger', tg.def);
    const state = { D: 'DISABLE TRIGGER', R: 'ENABLE REPLICA TRIGGER', A: 'ENABLE ALWAYS TRIGGER' }[tg.enabled];
    if (state) run('trigger', `ALTER TABLE ${T} ${state} ${quoteIdent(tg.name)}`);
    if (tg.comment !== null) run('comment', `COMMENT ON TRIGGER ${quoteIdent(tg.name)} ON ${T} IS ${quoteLiteral(tg.comment)}`);
    result.moved.triggers.push(tg.name);
  }

  if (inv.rowSecurity) run('row security', `ALTER TABLE ${T} ENABLE ROW LEVEL SECURITY`);
  if (inv.forceRowSecurity) run('row security', `ALTER TABLE ${T} FORCE ROW LEVEL SECURITY`);
  for (const p of inv.policies) {
    const cmd = POLICY_COMMANDS[p.cmd];
    if (!cmd) throw new PgToolsError('rename_swap_failed', `policy ${p.name} has an unknown command ${JSON.stringify(p.cmd)}`);
    const roles = p.roles.map((r) => (r === '' ? 'PUBLIC' : quoteIdent(r))).join(', ');
    run(
      'policy',
      `CREATE POLICY ${quoteIdent(p.name)} ON ${T} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${cmd} TO ${roles}` +
        (p.qual !== null ? ` USING (${p.qual})` : '') +
        (p.withCheck !== null ? ` WITH CHECK (${p.withCheck})` : ''),
    );
    if (p.comment !== null) run('comment', `COMMENT ON POLICY ${quoteIdent(p.name)} ON ${T} IS ${quoteLiteral(p.comment)}`);
    result.moved.policies.push(p.name);
  }

  result.moved.grants = copyGrants(await aclGrantees(client, shadow.oid), run, T, original.owner, inv);

  // Table settings.
  const currentOptions = await client.query<{ heap: string[]; toast: string[] }>(
    `SELECT COALESCE(c.reloptions, '{}') AS heap, COALESCE(t.reloptions, '{}') AS toast
       FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = $1::int8::oid`,
    [shadow.oid],
  );
  const cur = currentOptions.rows[0] ?? { heap: [], toast: [] };
  const reset = [
    ...parseReloptions(cur.heap).filter((o) => !parseReloptions(original.reloptions).some((x) => x.name === o.name)).map((o) => quoteIdent(o.name)),
    ...parseReloptions(cur.toast).filter((o) => !parseReloptions(original.toastReloptions).some((x) => x.name === o.name)).map((o) => `toast.${quoteIdent(o.name)}`),
  ];
  if (reset.length > 0) run('reloptions', `ALTER TABLE ${T} RESET (${reset.join(', ')})`);
  const set = reloptionsClause(original.reloptions, original.toastReloptions);
  if (set) run('reloptions', `ALTER TABLE ${T} SET (${set})`);
  if (inv.replicaIdentity === 'i' && inv.replicaIdentityIndex !== null) {
    run('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY USING INDEX ${quoteIdent(indexName.get(inv.replicaIdentityIndex)!)}`);
  } else if (inv.replicaIdentity === 'f') {
    run('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY FULL`);
  } else if (inv.replicaIdentity === 'n') {
    run('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY NOTHING`);
  }
  if (inv.clusterIndex !== null) run('cluster', `ALTER TABLE ${T} CLUSTER ON ${quoteIdent(indexName.get(inv.clusterIndex)!)}`);
  for (const col of inv.columns) {
    const c = quoteIdent(col.name);
    if (col.statTarget >= 0) run('column', `ALTER TABLE ${T} ALTER COLUMN ${c} SET STATISTICS ${col.statTarget}`);
    // Options named pg_* are kept by the server itself (some builds record one on every column); only user options are copied.
    const userOptions = col.options.filter((o) => !o.startsWith('pg_'));
    if (userOptions.length > 0) run('column', `ALTER TABLE ${T} ALTER COLUMN ${c} SET (${reloptionsClause(userOptions)})`);
    run('comment', `COMMENT ON COLUMN ${T}.${c} IS ${col.comment === null ? 'NULL' : quoteLiteral(col.comment)}`);
  }
  if (inv.tableComment !== null) run('comment', `COMMENT ON TABLE ${T} IS ${quoteLiteral(inv.tableComment)}`);

  // Identity columns continue from the old sequence's value and take its name. The new table's
  // identity sequences are read now, in the shadow's schema; by then they moved with it.
  const { rows: newIdentity } = await client.query<{ oid: number; schema: string; name: string; column: string }>(
    `SELECT s.oid::int8 AS oid, n.nspname AS schema, s.relname AS name, a.attname AS column
       FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
        AND d.refobjid = $1::int8::oid AND d.deptype = 'i'`,
    [shadow.oid],
  );
  for (const old of inv.identitySequences) {
    const fresh = newIdentity.find((s) => s.column === old.column);
    if (!fresh) throw new PgToolsError('rename_swap_failed', `identity column ${old.column} has no sequence on the new table`);
    // Read under the lock, as part of the swap: the old sequence may still be advancing until then.
    run(
      'sequence',
      `SELECT pg_catalog.setval(${oidLiteral(Number(fresh.oid))}::pg_catalog.regclass, s.v, true)
         FROM (SELECT pg_catalog.pg_sequence_last_value(${oidLiteral(old.oid)}::pg_catalog.regclass) AS v) s WHERE s.v IS NOT NULL`,
    );
    run('sequence', `ALTER SEQUENCE ${quoteQualified(original.schema, fresh.name)} RENAME TO ${quoteIdent(old.name)}`);
    result.moved.identityContinued.push(old.column);
  }

  for (const [from, to] of statPairs) {
    if (from.schema !== to.schema) {
      run('statistics', `ALTER STATISTICS ${quoteQualified(from.schema, from.name)} SET SCHEMA ${quoteIdent(to.schema)}`);
    }
    const st = quoteQualified(to.schema, to.name);
    run('statistics', `ALTER STATISTICS ${quoteQualified(to.schema, from.name)} RENAME TO ${quoteIdent(to.name)}`);
    if (to.target >= 0) run('statistics', `ALTER STATISTICS ${st} SET STATISTICS ${to.target}`);
    if (to.comment !== null) run('comment', `COMMENT ON STATISTICS ${st} IS ${quoteLiteral(to.comment)}`);
    result.moved.statistics.push(to.name);
  }

  // Views keep their OID (so grants, owner, comments and views built on them stay): only the query is re-bound.
  for (const v of inv.views) {
    const options = v.reloptions.length > 0 ? ` WITH (${reloptionsClause(v.reloptions)})` : '';
    run('view', `CREATE OR REPLACE VIEW ${quoteQualified(v.schema, v.name)}${options} AS ${v.def.trim().replace(/;$/, '')}`);
    result.moved.views.push(displayName(v.schema, v.name));
  }
  for (const pub of inv.publications) {
    const cols = pub.columns ? ` (${pub.columns.map((c) => quoteIdent(c)).join(', ')})` : '';
    const where = pub.filter !== null ? ` WHERE (${pub.filter})` : '';
    run('publication', `ALTER PUBLICATION ${quoteIdent(pub.name)} ADD TABLE ONLY ${T}${cols}${where}`);
    result.moved.publications.push(pub.name);
  }

  return { original, shadow, fingerprint, steps, result, options };
}

type Run = (step: string, sql: string) => void;

/** Who holds privileges on a table now (NULL: PUBLIC). */
async function aclGrantees(client: Queryable, oid: number): Promise<Array<string | null>> {
  const { rows } = await client.query<{ grantee: string | null }>(
    `SELECT DISTINCT CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee) END AS grantee
       FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) AS x WHERE c.oid = $1::int8::oid`,
    [oid],
  );
  return rows.map((r) => r.grantee);
}

/** Makes the new table's ACL equal to the old one's (grantor aside: every grant is made by the current role). */
function copyGrants(current: Array<string | null>, run: Run, T: string, owner: string, inv: RenameInventory): number {
  const who = (g: string | null) => (g === null ? 'PUBLIC' : quoteIdent(g));
  let count = 0;
  // A table made under ALTER DEFAULT PRIVILEGES starts with grants of its own: clear them first.
  if (current.length > 0 || !inv.tableAclIsNull) {
    const grantees = new Set(current);
    grantees.add(owner);
    for (const g of grantees) run('grant', `REVOKE ALL ON TABLE ${T} FROM ${who(g)}`);
    const entries: AclEntry[] = inv.tableAclIsNull
      ? [{ grantee: owner, privilege: 'ALL', grantable: false }]
      : inv.tableGrants;
    for (const e of entries) {
      if (e.privilege !== 'ALL' && !PRIVILEGES.has(e.privilege)) throw new PgToolsError('rename_swap_failed', `unknown privilege ${e.privilege}`);
      run('grant', `GRANT ${e.privilege} ON TABLE ${T} TO ${who(e.grantee)}${e.grantable ? ' WITH GRANT OPTION' : ''}`);
      count++;
    }
  }
  for (const e of inv.columnGrants) {
    if (!PRIVILEGES.has(e.privilege)) throw new PgToolsError('rename_swap_failed', `unknown privilege ${e.privilege}`);
    run('grant', `GRANT ${e.privilege} (${quoteIdent(e.column)}) ON TABLE ${T} TO ${who(e.grantee)}${e.grantable ? ' WITH GRANT OPTION' : ''}`);
    count++;
  }
  return count;
}

/** The shadow must be the original's definition: same live columns in the same order, same NOT NULL, identity, generation and CHECKs. */
async function checkShadowDefinition(client: Queryable, original: TableInfo, shadow: TableInfo, inv: RenameInventory): Promise<void> {
  const [a, b] = await Promise.all([loadColumns(client, original.oid), loadColumns(client, shadow.oid)]);
  const la = a.filter((c) => !c.dropped);
  const lb = b.filter((c) => !c.dropped);
  const problems: string[] = [];
  if (la.length !== lb.length) problems.push(`${la.length} columns in the original, ${lb.length} in the shadow`);
  la.forEach((c, i) => {
    const d = lb[i];
    if (!d) return;
    if (c.name !== d.name) problems.push(`column ${i + 1} is ${JSON.stringify(c.name)} in the original but ${JSON.stringify(d.name)} in the shadow`);
    else if (c.typeOid !== d.typeOid || c.typmod !== d.typmod || c.collation !== d.collation) problems.push(`column ${JSON.stringify(c.name)} differs in type or collation`);
    else if (c.notNull !== d.notNull) problems.push(`column ${JSON.stringify(c.name)} differs in NOT NULL`);
    else if (c.identity !== d.identity || c.generated !== d.generated) problems.push(`column ${JSON.stringify(c.name)} differs in identity or generation`);
  });
  const { rows: checks } = await client.query<{ name: string; def: string }>(
    `SELECT con.conname AS name, pg_catalog.pg_get_constraintdef(con.oid) AS def FROM pg_catalog.pg_constraint con
      WHERE con.conrelid = $1::int8::oid AND con.contype = 'c' ORDER BY con.conname`,
    [shadow.oid],
  );
  const want = inv.checks.map((c) => `${c.name}: ${c.def}`).sort();
  const have = checks.map((c) => `${c.name}: ${c.def}`).sort();
  if (want.join('\n') !== have.join('\n')) problems.push(`CHECK constraints differ: original [${want.join('; ')}], shadow [${have.join('; ')}]`);
  const { rows: other } = await client.query<{ what: string }>(
    `SELECT con.conname AS what FROM pg_catalog.pg_constraint con WHERE con.conrelid = $1::int8::oid AND con.contype NOT IN ('c')`,
    [shadow.oid],
  );
  if (other.length > 0) problems.push(`the shadow already has constraints other than CHECK: ${other.map((o) => o.what).join(', ')}`);
  if (problems.length > 0) {
    throw preconditionError(
      `${displayName(shadow.schema, shadow.name)} is not a full copy of the definition of ${displayName(original.schema, original.name)}: ` +
        `${problems.join('; ')}. Create it with createRenameShadow`,
    );
  }
}

interface StatObject {
  oid: number;
  schema: string;
  name: string;
  shape: string;
  target: number;
  comment: string | null;
}

async function loadStatistics(client: Queryable, oid: number): Promise<StatObject[]> {
  const { rows } = await client.query<StatObject>(statisticsSql, [oid]);
  return rows.map((r) => ({ ...r, oid: Number(r.oid) }));
}

/** Pairs each statistics object of the shadow (LIKE gave it a generated name) with the original's of the same shape. */
function pairStatistics(inv: RenameInventory, shadow: StatObject[]): Array<[StatObject, StatObject]> {
  const left = [...shadow];
  const out: Array<[StatObject, StatObject]> = [];
  for (const o of inv.statistics) {
    const i = left.findIndex((s) => s.shape === o.shape);
    if (i < 0) throw preconditionError(`the shadow has no copy of statistics object ${displayName(o.schema, o.name)}`);
    out.push([left[i]!, o]);
    left.splice(i, 1);
  }
  if (left.length > 0) throw preconditionError(`the shadow has statistics objects the original lacks: ${left.map((s) => s.name).join(', ')}`);
  return out;
}

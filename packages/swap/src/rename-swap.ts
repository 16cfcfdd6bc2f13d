import {
  displayName,
  PgToolsError,
  quoteIdent,
  quoteLiteral,
  quoteQualified,
  silentLogger,
  wrapPgError,
  type Queryable,
} from '@pgtools/core';
import { loadColumns, loadTable, preconditionError, requireAccessExclusive, withCatalogSearchPath, type TableInfo } from './catalog.js';
import { resolveIndexPairs, type ResolvedIndexPair } from './preconditions.js';
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
  const logger = options.logger ?? silentLogger;
  const original = await loadTable(client, options.original, 'original');
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
  await requireAccessExclusive(client, [original, shadow]);

  return withCatalogSearchPath(client, async () => {
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
    const run = async (step: string, sql: string): Promise<void> => {
      result.statements.push(sql);
      options.onEvent?.({ type: 'rename_step', step, sql });
      logger.debug('rename swap step', { step, sql });
      try {
        await client.query(sql);
      } catch (err) {
        throw wrapPgError(err, 'rename_swap_failed', `rename swap of ${orig} failed at ${step} (${sql}); roll the transaction back`);
      }
    };

    const T = quoteQualified(original.schema, original.name);
    const tmpNew = `pgtools_swap_new_${shadow.oid}`;
    const tmpOld = `pgtools_swap_old_${original.oid}`;
    const sameSchema = original.schema === shadow.schema;

    if (shadow.ownerOid !== original.ownerOid) {
      await run('owner', `ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} OWNER TO ${quoteIdent(original.owner)}`);
    }
    // Detach what points at the old table while it still has its name.
    for (const pub of inv.publications) {
      await run('publication', `ALTER PUBLICATION ${quoteIdent(pub.name)} DROP TABLE ${T}`);
    }
    for (const fk of inv.foreignKeysIn) {
      await run('foreign key', `ALTER TABLE ${quoteQualified(fk.schema, fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
    }
    // The old table's own foreign keys go too: their triggers on the referenced tables would keep checking stale rows.
    for (const fk of inv.foreignKeysOut) {
      await run('foreign key', `ALTER TABLE ${T} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
    }
    for (const p of pairs) {
      await run('index', `ALTER INDEX ${quoteQualified(p.original.schema, p.original.name)} RENAME TO ${quoteIdent(`pgtools_old_${p.original.oid}`)}`);
    }
    for (const s of inv.identitySequences) {
      await run('sequence', `ALTER SEQUENCE ${quoteQualified(s.schema, s.name)} RENAME TO ${quoteIdent(`pgtools_old_${s.oid}`)}`);
    }
    for (const s of inv.statistics) {
      await run('statistics', `ALTER STATISTICS ${quoteQualified(s.schema, s.name)} RENAME TO ${quoteIdent(`pgtools_old_${s.oid}`)}`);
    }

    // The tables trade places. Serial sequences are re-owned between the two moves: SET SCHEMA carries a table's
    // owned sequences along, and neither sequence should leave the schema it lives in.
    await run('rename', `ALTER TABLE ${quoteQualified(shadow.schema, shadow.name)} RENAME TO ${quoteIdent(tmpNew)}`);
    if (!sameSchema) await run('rename', `ALTER TABLE ${quoteQualified(shadow.schema, tmpNew)} SET SCHEMA ${quoteIdent(original.schema)}`);
    await run('rename', `ALTER TABLE ${T} RENAME TO ${quoteIdent(tmpOld)}`);
    await run('rename', `ALTER TABLE ${quoteQualified(original.schema, tmpNew)} RENAME TO ${quoteIdent(original.name)}`);
    for (const s of inv.serialSequences) {
      await run('sequence', `ALTER SEQUENCE ${quoteQualified(s.schema, s.name)} OWNED BY ${T}.${quoteIdent(s.column)}`);
      result.moved.sequencesReowned.push(displayName(s.schema, s.name));
    }
    if (!sameSchema) await run('rename', `ALTER TABLE ${quoteQualified(original.schema, tmpOld)} SET SCHEMA ${quoteIdent(shadow.schema)}`);
    await run('rename', `ALTER TABLE ${quoteQualified(shadow.schema, tmpOld)} RENAME TO ${quoteIdent(shadow.name)}`);

    // Indexes take the original names; constraints are attached to them (which names the index after the constraint).
    const indexName = new Map<number, string>();
    for (const p of pairs) {
      const current = quoteQualified(original.schema, p.shadow.name);
      const o = p.original;
      if (o.constraintType === 'p' || o.constraintType === 'u') {
        const kind = o.constraintType === 'p' ? 'PRIMARY KEY' : 'UNIQUE';
        const deferrable = o.deferrable ? (o.deferred ? ' DEFERRABLE INITIALLY DEFERRED' : ' DEFERRABLE') : '';
        await run('constraint', `ALTER TABLE ${T} ADD CONSTRAINT ${quoteIdent(o.constraintName!)} ${kind} USING INDEX ${quoteIdent(p.shadow.name)}${deferrable}`);
        result.moved.constraints.push(o.constraintName!);
        if (o.constraintName !== o.name) {
          await run('index', `ALTER INDEX ${quoteQualified(original.schema, o.constraintName!)} RENAME TO ${quoteIdent(o.name)}`);
        }
      } else {
        await run('index', `ALTER INDEX ${current} RENAME TO ${quoteIdent(o.name)}`);
      }
      indexName.set(o.oid, o.name);
      result.moved.indexes.push(o.name);
      const detail = inv.indexDetails.find((d) => d.oid === o.oid);
      const idx = quoteQualified(original.schema, o.name);
      for (const st of detail?.statTargets ?? []) {
        await run('index', `ALTER INDEX ${idx} ALTER COLUMN ${st.position} SET STATISTICS ${st.target}`);
      }
      if (detail?.comment != null) await run('comment', `COMMENT ON INDEX ${idx} IS ${quoteLiteral(detail.comment)}`);
    }
    for (const c of inv.constraintComments) {
      await run('comment', `COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${T} IS ${quoteLiteral(c.comment)}`);
    }

    // Foreign keys: the captured definitions name the referenced table as schema.name, which now means the new table.
    const validate: Array<{ table: string; name: string }> = [];
    const addFk = async (table: string, fk: { name: string; def: string; validated: boolean; comment: string | null }) => {
      await run('foreign key', `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.def}${fk.validated ? ' NOT VALID' : ''}`);
      if (fk.validated) validate.push({ table, name: fk.name });
      if (fk.comment !== null) await run('comment', `COMMENT ON CONSTRAINT ${quoteIdent(fk.name)} ON ${table} IS ${quoteLiteral(fk.comment)}`);
    };
    for (const fk of inv.foreignKeysOut) {
      await addFk(T, fk);
      result.moved.foreignKeysOut.push(fk.name);
    }
    for (const fk of inv.foreignKeysIn) {
      await addFk(quoteQualified(fk.schema, fk.table), fk);
      result.moved.foreignKeysIn.push(`${displayName(fk.schema, fk.table)}.${fk.name}`);
    }
    for (const v of validate) {
      const sql = `ALTER TABLE ${v.table} VALIDATE CONSTRAINT ${quoteIdent(v.name)}`;
      if ((options.foreignKeyValidation ?? 'inside') === 'inside') await run('foreign key', sql);
      else result.afterCommit.push(sql);
    }

    for (const tg of inv.triggers) {
      await run('trigger', tg.def);
      const state = { D: 'DISABLE TRIGGER', R: 'ENABLE REPLICA TRIGGER', A: 'ENABLE ALWAYS TRIGGER' }[tg.enabled];
      if (state) await run('trigger', `ALTER TABLE ${T} ${state} ${quoteIdent(tg.name)}`);
      if (tg.comment !== null) await run('comment', `COMMENT ON TRIGGER ${quoteIdent(tg.name)} ON ${T} IS ${quoteLiteral(tg.comment)}`);
      result.moved.triggers.push(tg.name);
    }

    if (inv.rowSecurity) await run('row security', `ALTER TABLE ${T} ENABLE ROW LEVEL SECURITY`);
    if (inv.forceRowSecurity) await run('row security', `ALTER TABLE ${T} FORCE ROW LEVEL SECURITY`);
    for (const p of inv.policies) {
      const cmd = POLICY_COMMANDS[p.cmd];
      if (!cmd) throw new PgToolsError('rename_swap_failed', `policy ${p.name} has an unknown command ${JSON.stringify(p.cmd)}`);
      const roles = p.roles.map((r) => (r === '' ? 'PUBLIC' : quoteIdent(r))).join(', ');
      await run(
        'policy',
        `CREATE POLICY ${quoteIdent(p.name)} ON ${T} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${cmd} TO ${roles}` +
          (p.qual !== null ? ` USING (${p.qual})` : '') +
          (p.withCheck !== null ? ` WITH CHECK (${p.withCheck})` : ''),
      );
      if (p.comment !== null) await run('comment', `COMMENT ON POLICY ${quoteIdent(p.name)} ON ${T} IS ${quoteLiteral(p.comment)}`);
      result.moved.policies.push(p.name);
    }

    result.moved.grants = await copyGrants(client, run, T, shadow.oid, original.owner, inv);

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
    if (reset.length > 0) await run('reloptions', `ALTER TABLE ${T} RESET (${reset.join(', ')})`);
    const set = reloptionsClause(original.reloptions, original.toastReloptions);
    if (set) await run('reloptions', `ALTER TABLE ${T} SET (${set})`);
    if (inv.replicaIdentity === 'i' && inv.replicaIdentityIndex !== null) {
      await run('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY USING INDEX ${quoteIdent(indexName.get(inv.replicaIdentityIndex)!)}`);
    } else if (inv.replicaIdentity === 'f') {
      await run('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY FULL`);
    } else if (inv.replicaIdentity === 'n') {
      await run('replica identity', `ALTER TABLE ${T} REPLICA IDENTITY NOTHING`);
    }
    if (inv.clusterIndex !== null) await run('cluster', `ALTER TABLE ${T} CLUSTER ON ${quoteIdent(indexName.get(inv.clusterIndex)!)}`);
    for (const col of inv.columns) {
      const c = quoteIdent(col.name);
      if (col.statTarget >= 0) await run('column', `ALTER TABLE ${T} ALTER COLUMN ${c} SET STATISTICS ${col.statTarget}`);
      // Options named pg_* are kept by the server itself (some builds record one on every column); only user options are copied.
      const userOptions = col.options.filter((o) => !o.startsWith('pg_'));
      if (userOptions.length > 0) await run('column', `ALTER TABLE ${T} ALTER COLUMN ${c} SET (${reloptionsClause(userOptions)})`);
      await run('comment', `COMMENT ON COLUMN ${T}.${c} IS ${col.comment === null ? 'NULL' : quoteLiteral(col.comment)}`);
    }
    if (inv.tableComment !== null) await run('comment', `COMMENT ON TABLE ${T} IS ${quoteLiteral(inv.tableComment)}`);

    // Identity columns continue from the old sequence's value and take its name.
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
      const { rows: last } = await client.query<{ v: string | null }>(
        'SELECT pg_catalog.pg_sequence_last_value($1::int8::oid::regclass)::text AS v',
        [old.oid],
      );
      const value = last[0]?.v ?? null;
      if (value !== null) {
        result.statements.push(`SELECT setval(${fresh.oid}, ${value}, true)`);
        await client.query('SELECT pg_catalog.setval($1::int8::oid::regclass, $2::int8, true)', [Number(fresh.oid), value]);
      }
      await run('sequence', `ALTER SEQUENCE ${quoteQualified(fresh.schema, fresh.name)} RENAME TO ${quoteIdent(old.name)}`);
      result.moved.identityContinued.push(old.column);
    }

    for (const [from, to] of statPairs) {
      if (from.schema !== to.schema) {
        await run('statistics', `ALTER STATISTICS ${quoteQualified(from.schema, from.name)} SET SCHEMA ${quoteIdent(to.schema)}`);
      }
      const st = quoteQualified(to.schema, to.name);
      await run('statistics', `ALTER STATISTICS ${quoteQualified(to.schema, from.name)} RENAME TO ${quoteIdent(to.name)}`);
      if (to.target >= 0) await run('statistics', `ALTER STATISTICS ${st} SET STATISTICS ${to.target}`);
      if (to.comment !== null) await run('comment', `COMMENT ON STATISTICS ${st} IS ${quoteLiteral(to.comment)}`);
      result.moved.statistics.push(to.name);
    }

    // Views keep their OID (so grants, owner, comments and views built on them stay): only the query is re-bound.
    for (const v of inv.views) {
      const options = v.reloptions.length > 0 ? ` WITH (${reloptionsClause(v.reloptions)})` : '';
      await run('view', `CREATE OR REPLACE VIEW ${quoteQualified(v.schema, v.name)}${options} AS ${v.def.trim().replace(/;$/, '')}`);
      result.moved.views.push(displayName(v.schema, v.name));
    }
    for (const pub of inv.publications) {
      const cols = pub.columns ? ` (${pub.columns.map((c) => quoteIdent(c)).join(', ')})` : '';
      const where = pub.filter !== null ? ` WHERE (${pub.filter})` : '';
      await run('publication', `ALTER PUBLICATION ${quoteIdent(pub.name)} ADD TABLE ONLY ${T}${cols}${where}`);
      result.moved.publications.push(pub.name);
    }

    logger.info('rename swap done', { table: orig, statements: result.statements.length });
    options.onEvent?.({ type: 'rename_swapped', table: options.original, shadow: options.shadow });
    return result;
  });
}

type Run = (step: string, sql: string) => Promise<void>;

/** Makes the new table's ACL equal to the old one's (grantor aside: every grant is made by the current role). */
async function copyGrants(client: Queryable, run: Run, T: string, newOid: number, owner: string, inv: RenameInventory): Promise<number> {
  const { rows: current } = await client.query<{ grantee: string | null }>(
    `SELECT DISTINCT CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee) END AS grantee
       FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) AS x WHERE c.oid = $1::int8::oid`,
    [newOid],
  );
  const who = (g: string | null) => (g === null ? 'PUBLIC' : quoteIdent(g));
  let count = 0;
  // A table made under ALTER DEFAULT PRIVILEGES starts with grants of its own: clear them first.
  if (current.length > 0 || !inv.tableAclIsNull) {
    const grantees = new Set(current.map((r) => r.grantee));
    grantees.add(owner);
    for (const g of grantees) await run('grant', `REVOKE ALL ON TABLE ${T} FROM ${who(g)}`);
    const entries: AclEntry[] = inv.tableAclIsNull
      ? [{ grantee: owner, privilege: 'ALL', grantable: false }]
      : inv.tableGrants;
    for (const e of entries) {
      if (e.privilege !== 'ALL' && !PRIVILEGES.has(e.privilege)) throw new PgToolsError('rename_swap_failed', `unknown privilege ${e.privilege}`);
      await run('grant', `GRANT ${e.privilege} ON TABLE ${T} TO ${who(e.grantee)}${e.grantable ? ' WITH GRANT OPTION' : ''}`);
      count++;
    }
  }
  for (const e of inv.columnGrants) {
    if (!PRIVILEGES.has(e.privilege)) throw new PgToolsError('rename_swap_failed', `unknown privilege ${e.privilege}`);
    await run('grant', `GRANT ${e.privilege} (${quoteIdent(e.column)}) ON TABLE ${T} TO ${who(e.grantee)}${e.grantable ? ' WITH GRANT OPTION' : ''}`);
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

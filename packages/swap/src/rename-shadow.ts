import { displayName, PgToolsError, quoteIdent, quoteLiteral, quoteQualified, wrapPgError, type Queryable } from '@pgtools/core';
import { loadColumns, loadTable, withCatalogSearchPath } from './catalog.js';
import { reloptionsClause } from './reloptions.js';
import type { RenameTableFacts } from './rename-facts.js';
import { readRenameTableFacts } from './rename-inspect.js';
import { partitionShadowStatements } from './rename-partition.js';
import { renameBlockers, shadowChecks, unsupportedError } from './rename-refusal.js';
import type { RelationName } from './types.js';

export interface CreateRenameShadowOptions {
  original: RelationName;
  shadow: RelationName;
  /** Create the shadow in this tablespace instead of the original's; null: the database default. */
  tablespace?: string | null;
  /** Trigger names of the original to ignore when checking what the swap can move (the repack's capture trigger). */
  excludeTriggers?: readonly string[];
  /** OIDs of the caller's helper tables that depend on the table (e.g. a change log of its row type) and are dropped before the swap. */
  ignoreRelations?: readonly number[];
  /** The original is a leaf swapped with its whole partitioned table (RenameStepOptions.partitionTree). */
  partitionTree?: boolean;
  /** The caller rebuilds the materialized views over the table after the swap (`RenameStepOptions.keepMaterializedViews`). */
  keepMaterializedViews?: boolean;
}

export interface CreateRenameShadowResult {
  table: RelationName & { oid: number };
  /** CHECK constraints added: the validated ones (the swap adds the NOT VALID ones). */
  checkConstraints: string[];
  /** Identity sequences LIKE created for the shadow's identity columns. */
  identitySequences: Array<{ column: string; schema: string; name: string }>;
  /** Extended statistics objects created on the shadow. */
  statistics: string[];
  /** The statements that were run, in order. */
  statements: string[];
}

/**
 * Creates the shadow table for the rename swap: the original's full definition without indexes
 * (columns, defaults, generated columns, identity, NOT NULL, validated CHECK constraints, storage, compression,
 * column comments, extended statistics, access method, reloptions including TOAST ones, tablespace); NOT VALID
 * CHECK and NOT NULL constraints, which old rows may violate, are added by the swap. It first checks that {@link renameSwap} could move everything attached to the original and
 * refuses with `rename_swap_unsupported` before anything is copied.
 * Fill it with the column lists from {@link renameCopyColumns}.
 *
 * @example
 * ```ts
 * import { createRenameShadow, renameCopyColumns } from '@pgtools/swap';
 * await createRenameShadow(client, { original: { schema: 'public', name: 'orders' }, shadow: { schema: 'pgtools', name: 'table_16385' } });
 * const cols = await renameCopyColumns(client, { schema: 'public', name: 'orders' });
 * await client.query(`INSERT INTO pgtools.table_16385 (${cols.insertList}) ${cols.overriding} SELECT ${cols.selectList} FROM ONLY public.orders`);
 * ```
 */
export async function createRenameShadow(client: Queryable, options: CreateRenameShadowOptions): Promise<CreateRenameShadowResult> {
  const original = await loadTable(client, options.original, 'original');
  return withCatalogSearchPath(client, async () => {
    // The caller may be in its copy's long transaction: the views over views are not locked for it (not needed here).
    const attached = await readRenameTableFacts(client, original, { viewTree: false });
    const blockers = renameBlockers(attached, options);
    if (blockers.length > 0) throw unsupportedError(attached, blockers);
    const { rows: db } = await client.query<{ spcname: string }>(
      `SELECT t.spcname FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace
        WHERE d.datname = pg_catalog.current_database()`,
    );
    const tablespace = (options.tablespace === undefined ? original.tablespace : options.tablespace) ?? db[0]?.spcname;
    if (tablespace === undefined) throw new PgToolsError('rename_shadow_failed', 'the database has no default tablespace');
    const statements: string[] = [];
    try {
      for (const sql of renameShadowStatements(attached, options.shadow, tablespace)) {
        statements.push(sql);
        await client.query(sql);
      }
    } catch (err) {
      throw wrapPgError(err, 'rename_shadow_failed', `creating the shadow table ${displayName(options.shadow.schema, options.shadow.name)} failed`);
    }
    const shadow = await loadTable(client, options.shadow, 'shadow');
    const { rows: seqs } = await client.query<{ column: string; schema: string; name: string }>(
      `SELECT a.attname AS column, n.nspname AS schema, s.relname AS name
         FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
         JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
          AND d.refobjid = $1::int8::oid AND d.deptype = 'i' ORDER BY a.attnum`,
      [shadow.oid],
    );
    const { rows: stats } = await client.query<{ stxname: string }>(
      'SELECT s.stxname FROM pg_catalog.pg_statistic_ext s WHERE s.stxrelid = $1::int8::oid ORDER BY s.oid',
      [shadow.oid],
    );
    return {
      table: { schema: shadow.schema, name: shadow.name, oid: shadow.oid },
      checkConstraints: shadowChecks(attached).map((c) => c.name),
      identitySequences: seqs,
      statistics: stats.map((s) => s.stxname),
      statements,
    };
  });
}

/**
 * The statements that create the rename swap's shadow: the original's full definition without
 * indexes (see {@link createRenameShadow}) and without its NOT VALID NOT NULL and CHECK constraints (the swap
 * adds them), then its validated CHECK constraints one by one with their comments. Pure.
 *
 * @example
 * ```ts
 * renameShadowStatements(attached, { schema: 'pgtools', name: 'table_16385' }, 'pg_default');
 * // ['CREATE TABLE "pgtools"."table_16385" (LIKE "public"."orders" INCLUDING DEFAULTS ...) TABLESPACE "pg_default"', ...]
 * ```
 */
export function renameShadowStatements(attached: RenameTableFacts, shadow: RelationName, tablespace: string): string[] {
  const original = attached.table;
  const target = quoteQualified(shadow.schema, shadow.name);
  const withClause = reloptionsClause(original.reloptions, original.toastReloptions);
  // Constraints are added one by one below: LIKE ... INCLUDING CONSTRAINTS would turn NOT VALID checks into valid ones.
  const statements = [
    `CREATE TABLE ${target} (LIKE ${quoteQualified(original.schema, original.name)} INCLUDING DEFAULTS INCLUDING GENERATED ` +
      // A partition's identity (PostgreSQL 17+) is its partitioned table's, which the ATTACH gives the new leaf.
      `${attached.partition === null ? 'INCLUDING IDENTITY ' : ''}INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS INCLUDING STATISTICS)` +
      (original.accessMethod && original.accessMethod !== 'heap' ? ` USING ${quoteIdent(original.accessMethod)}` : '') +
      (withClause ? ` WITH (${withClause})` : '') +
      ` TABLESPACE ${quoteIdent(tablespace)}`,
  ];
  for (const check of shadowChecks(attached)) {
    statements.push(`ALTER TABLE ${target} ADD CONSTRAINT ${quoteIdent(check.name)} ${check.def}`);
  }
  statements.push(...partitionShadowStatements(attached, target));
  // LIKE copies NOT NULL constraints (PostgreSQL 18+: names, NO INHERIT, comments) but makes NOT VALID ones valid,
  // and even NOT VALID would refuse the NULLs of the old rows the copy brings: the swap adds those (it needs no scan).
  for (const n of attached.notNulls.filter((x) => !x.validated)) {
    statements.push(`ALTER TABLE ${target} ALTER COLUMN ${quoteIdent(n.column)} DROP NOT NULL`);
  }
  for (const c of attached.constraintComments) {
    if (shadowChecks(attached).some((k) => k.name === c.name)) {
      statements.push(`COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${target} IS ${quoteLiteral(c.comment)}`);
    }
  }
  return statements;
}

export interface RenameCopyColumns {
  /** Column names (unquoted) copied, in attnum order: every live column except generated ones. */
  columns: string[];
  /** Quoted, comma-separated: for `INSERT INTO shadow (<insertList>)`. */
  insertList: string;
  /** Quoted, comma-separated: for `SELECT <selectList> FROM ONLY original`. */
  selectList: string;
  /** `OVERRIDING SYSTEM VALUE` when the table has a GENERATED ALWAYS identity column (keeps the original values), else ''. */
  overriding: string;
}

/**
 * The column lists for copying rows into a rename-mode shadow: generated columns are left out (the shadow
 * computes them), identity values are copied as they are.
 *
 * @example
 * ```ts
 * import { renameCopyColumns } from '@pgtools/swap';
 * const cols = await renameCopyColumns(client, { schema: 'public', name: 'orders' });
 * // INSERT INTO pgtools.table_16385 (${cols.insertList}) ${cols.overriding} SELECT ${cols.selectList} FROM ONLY public.orders
 * ```
 */
export async function renameCopyColumns(client: Queryable, original: RelationName): Promise<RenameCopyColumns> {
  const table = await loadTable(client, original, 'original');
  const cols = (await loadColumns(client, table.oid)).filter((c) => !c.dropped && c.generated === '');
  const list = cols.map((c) => quoteIdent(c.name)).join(', ');
  return {
    columns: cols.map((c) => c.name),
    insertList: list,
    selectList: list,
    overriding: cols.some((c) => c.identity === 'a') ? 'OVERRIDING SYSTEM VALUE' : '',
  };
}

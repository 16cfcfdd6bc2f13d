import { displayName, PgToolsError, quoteIdent, quoteLiteral, quoteQualified, wrapPgError, type Queryable } from '@pgtools/core';
import { loadColumns, loadTable, withCatalogSearchPath } from './catalog.js';
import { reloptionsClause } from './reloptions.js';
import { inspectForRename } from './rename-inspect.js';
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
}

export interface CreateRenameShadowResult {
  table: RelationName & { oid: number };
  /** CHECK constraints added (with NOT VALID kept as on the original). */
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
 * (columns, defaults, generated columns, identity, NOT NULL, CHECK constraints as they are, including NOT VALID,
 * storage, compression, column comments, extended statistics, access method, reloptions including TOAST ones,
 * tablespace). It first checks that {@link renameSwap} could move everything attached to the original and
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
  const orig = displayName(original.schema, original.name);
  return withCatalogSearchPath(client, async () => {
    const inventory = await inspectForRename(client, original, new Set(options.excludeTriggers ?? []), new Set(options.ignoreRelations ?? []));
    if (inventory.blockers.length > 0) {
      throw new PgToolsError(
        'rename_swap_unsupported',
        `the rename swap cannot move everything attached to ${orig}: ${inventory.blockers.join('; ')}. Use --swap=catalog as a superuser`,
      );
    }
    const statements: string[] = [];
    const run = async (sql: string): Promise<void> => {
      statements.push(sql);
      await client.query(sql);
    };
    const target = quoteQualified(options.shadow.schema, options.shadow.name);
    const withClause = reloptionsClause(original.reloptions, original.toastReloptions);
    const tablespace = options.tablespace === undefined ? original.tablespace : options.tablespace;
    const { rows: db } = await client.query<{ spcname: string }>(
      `SELECT t.spcname FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace
        WHERE d.datname = pg_catalog.current_database()`,
    );
    // Constraints are added one by one below: LIKE ... INCLUDING CONSTRAINTS would turn NOT VALID checks into valid ones.
    const sql =
      `CREATE TABLE ${target} (LIKE ${quoteQualified(original.schema, original.name)} INCLUDING DEFAULTS INCLUDING GENERATED ` +
      'INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS INCLUDING STATISTICS)' +
      (original.accessMethod && original.accessMethod !== 'heap' ? ` USING ${quoteIdent(original.accessMethod)}` : '') +
      (withClause ? ` WITH (${withClause})` : '') +
      ` TABLESPACE ${quoteIdent(tablespace ?? db[0]!.spcname)}`;
    try {
      await run(sql);
      for (const check of inventory.checks) {
        await run(`ALTER TABLE ${target} ADD CONSTRAINT ${quoteIdent(check.name)} ${check.def}`);
      }
      for (const c of inventory.constraintComments) {
        if (inventory.checks.some((k) => k.name === c.name)) {
          await run(`COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${target} IS ${quoteLiteral(c.comment)}`);
        }
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
      checkConstraints: inventory.checks.map((c) => c.name),
      identitySequences: seqs,
      statistics: stats.map((s) => s.stxname),
      statements,
    };
  });
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

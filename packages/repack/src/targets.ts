import type pg from 'pg';
import { displayName, parseQualifiedName, PgToolsError, type PoolOrConfig } from '@pgtools/core';
import { connectionSource } from './connections.js';
import type { TargetSelection } from './options.js';
import { resolveTable, type TableRef } from './table-info.js';

/** A table to work on, after partitioned parents were expanded to their leaves. */
export interface RepackTarget {
  oid: number;
  schema: string;
  name: string;
  display: string;
  /**
   * True when the table was found by a schema, parent or whole-database selection rather than named:
   * a table that is not eligible (unlogged, no key...) is then skipped with its reason instead of failing.
   */
  discovered: boolean;
  /** `--alter` on a partitioned table (alter-tree.ts): a leaf made ready like a table and swapped with the whole tree. */
  treeLeaf?: boolean;
}

type Source = { connect(): Promise<pg.PoolClient | pg.Client>; release(c: pg.PoolClient | pg.Client): Promise<void> };

const LIST_COLUMNS = `c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name`;
// System schemas, other sessions' temporary schemas and our own tool schema are never targets.
const USER_TABLES = `c.relkind = 'r' AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'
  AND n.nspname <> $1`;
const NOT_IN_EXTENSION = `NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_extension'::regclass
     AND d.deptype = 'e' AND e.extname = ANY ($2::text[]))`;

/**
 * Resolves a selection to the tables to work on, in a stable order, each once: named tables (a
 * partitioned table becomes its leaf partitions), every table of the given schemas, parents with
 * their inheritors and partitions, or the whole database; tables of excluded extensions are left out.
 *
 * @example
 * ```ts
 * import { resolveTargets } from '@pgtools/repack';
 * const targets = await resolveTargets({ connectionString: process.env.DATABASE_URL }, { schemas: ['sales'] });
 * console.log(targets.map((t) => t.display));
 * ```
 */
export async function resolveTargets(db: PoolOrConfig | Source, selection: TargetSelection, toolSchema = 'pgtools'): Promise<RepackTarget[]> {
  const own = 'connect' in db && 'release' in db && !('query' in db) ? undefined : connectionSource(db as PoolOrConfig);
  const source: Source = own ?? (db as Source);
  const client = await source.connect();
  try {
    const excluded = selection.excludeExtensions ?? [];
    const targets: RepackTarget[] = [];
    const seen = new Set<number>();
    const add = (rows: Array<{ oid: number | string; schema: string; name: string }>, discovered: boolean): void => {
      for (const r of rows) {
        const oid = Number(r.oid);
        if (seen.has(oid)) continue;
        seen.add(oid);
        targets.push({ oid, schema: r.schema, name: r.name, display: displayName(r.schema, r.name), discovered });
      }
    };
    const named = [...(selection.table !== undefined ? [selection.table] : []), ...(selection.tables ?? [])];
    for (const ref of named) {
      const table = await resolveNamed(client, ref);
      const { rows } = await client.query<{ oid: string; schema: string; name: string }>(
        `SELECT ${LIST_COLUMNS}
           FROM pg_partition_tree($1::oid::regclass) p
           JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE p.isleaf AND c.relkind <> 'f' AND ${NOT_IN_EXTENSION}
          ORDER BY p.level, n.nspname, c.relname`,
        [table.oid, excluded],
      );
      let leaves = rows;
      if (leaves.length === 0 && !(await isPartitioned(client, table.oid))) {
        const { rows: self } = await client.query<{ oid: string; schema: string; name: string }>(
          `SELECT ${LIST_COLUMNS} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1 AND ${NOT_IN_EXTENSION}`,
          [table.oid, excluded],
        );
        leaves = self;
      } else if (leaves.length === 0) {
        throw new PgToolsError('nothing_to_repack', `${displayName(table.schema, table.name)} has no partitions to repack`);
      }
      add(leaves, false);
    }
    for (const ref of selection.parentTables ?? []) {
      const table = await resolveNamed(client, ref);
      const { rows } = await client.query<{ oid: string; schema: string; name: string }>(
        `WITH RECURSIVE tree(oid, level) AS (
           SELECT $3::oid, 0 UNION ALL SELECT i.inhrelid, t.level + 1 FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid)
         SELECT ${LIST_COLUMNS} FROM tree JOIN pg_class c ON c.oid = tree.oid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE ${USER_TABLES} AND ${NOT_IN_EXTENSION}
          ORDER BY min(tree.level) OVER (PARTITION BY c.oid), n.nspname, c.relname`,
        [toolSchema, excluded, table.oid],
      );
      if (rows.length === 0) throw new PgToolsError('nothing_to_repack', `${displayName(table.schema, table.name)} has no tables to repack`);
      add(rows, true);
    }
    for (const schema of selection.schemas ?? []) {
      const { rows: exists } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (exists.length === 0) throw new PgToolsError('schema_not_found', `schema ${JSON.stringify(schema)} does not exist`);
      const { rows } = await client.query<{ oid: string; schema: string; name: string }>(
        `SELECT ${LIST_COLUMNS} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE ${USER_TABLES} AND ${NOT_IN_EXTENSION} AND n.nspname = $3
          ORDER BY c.relname`,
        [toolSchema, excluded, schema],
      );
      add(rows, true);
    }
    if (selection.allTables) {
      const { rows } = await client.query<{ oid: string; schema: string; name: string }>(
        `SELECT ${LIST_COLUMNS} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE ${USER_TABLES} AND ${NOT_IN_EXTENSION}
          ORDER BY n.nspname, c.relname`,
        [toolSchema, excluded],
      );
      add(rows, true);
    }
    if (named.length === 0 && !selection.parentTables?.length && !selection.schemas?.length && !selection.allTables) {
      throw new PgToolsError('no_target', 'no table selected: give table, tables, schemas, parentTables or allTables');
    }
    return targets;
  } finally {
    await source.release(client);
    await own?.end();
  }
}

/** Levenshtein distance, case-insensitive: "ordrs" is 1 away from "orders". */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length]!;
}

// Tables whose name is close to a name that does not exist: the same name in another schema or
// another case, a name that contains it, or a small typo (edit distance up to a quarter of the length).
async function suggestTables(client: Pick<pg.ClientBase, 'query'>, ref: TableRef, limit = 5): Promise<string[]> {
  const parsed = typeof ref === 'string' ? parseQualifiedName(ref) : ref;
  const name = parsed.name;
  const maxDistance = Math.max(1, Math.floor(name.length / 4));
  // Bounded: only names of about the same length or containing the name, so a huge catalog stays cheap.
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'
        AND (abs(length(c.relname) - length($1)) <= $2 OR strpos(lower(c.relname), lower($1)) > 0)
      ORDER BY n.nspname, c.relname
      LIMIT 5000`,
    [name, maxDistance],
  );
  const scored = rows
    .map((r) => {
      // The same name in another schema (or a typo in the schema) counts as closest.
      const distance = editDistance(r.name, name);
      const contains = r.name.toLowerCase().includes(name.toLowerCase());
      return { display: displayName(r.schema, r.name), distance: contains && distance > maxDistance ? maxDistance + 0.5 : distance };
    })
    .filter((r) => r.distance <= maxDistance + 0.5)
    .sort((a, b) => a.distance - b.distance || a.display.localeCompare(b.display));
  return scored.slice(0, limit).map((r) => r.display);
}

/** resolveTable, with a "did you mean" that also catches typos and the same name in another schema. */
async function resolveNamed(client: pg.PoolClient | pg.Client, ref: TableRef): Promise<{ oid: number; schema: string; name: string }> {
  try {
    return await resolveTable(client, ref);
  } catch (err) {
    if (!(err instanceof PgToolsError) || err.code !== 'table_not_found') throw err;
    const parsed = typeof ref === 'string' ? parseQualifiedName(ref) : ref;
    const shown = displayName(parsed.schema, parsed.name);
    const near = await suggestTables(client, ref).catch(() => [] as string[]);
    const hint =
      near.length > 0
        ? `did you mean ${near.join(', ')}?`
        : 'list the tables with \\dt *.* in psql; a name with capitals or spaces needs double quotes, e.g. -t \'public."Orders"\'';
    throw new PgToolsError('table_not_found', `table ${shown} does not exist${near.length > 0 ? `; ${hint}` : ''}`, { hint, cause: err });
  }
}

/**
 * The table when the selection names exactly one table and it is a partitioned table (`--alter`
 * changes such a table whole, alter-tree.ts), else undefined.
 */
export async function partitionedTableTarget(source: Source, selection: TargetSelection): Promise<RepackTarget | undefined> {
  const named = [...(selection.table !== undefined ? [selection.table] : []), ...(selection.tables ?? [])];
  if (named.length !== 1 || selection.parentTables?.length || selection.schemas?.length || selection.allTables) return undefined;
  const client = await source.connect();
  try {
    const t = await resolveNamed(client, named[0]!);
    if (!(await isPartitioned(client, t.oid))) return undefined;
    return { ...t, display: displayName(t.schema, t.name), discovered: false };
  } finally {
    await source.release(client);
  }
}

async function isPartitioned(client: pg.ClientBase, oid: number): Promise<boolean> {
  const { rows } = await client.query<{ relkind: string }>('SELECT relkind FROM pg_class WHERE oid = $1', [oid]);
  return rows[0]?.relkind === 'p';
}

/**
 * Databases a whole-cluster run (`-a`) visits: every database that allows connections, templates excluded.
 *
 * @example
 * ```ts
 * import { listDatabases } from '@pgtools/repack';
 * for (const name of await listDatabases({ connectionString: process.env.DATABASE_URL })) console.log(name);
 * ```
 */
export async function listDatabases(db: PoolOrConfig): Promise<string[]> {
  const source = connectionSource(db);
  const client = await source.connect();
  try {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname');
    return rows.map((r) => r.datname);
  } finally {
    await source.release(client);
    await source.end();
  }
}

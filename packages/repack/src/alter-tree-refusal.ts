import { displayName, PgToolsError, quoteIdent, type Queryable } from '@pgtools/core';
import { readDependentViews, viewTreeBlockers } from '@pgtools/swap';
import type { AlterAction } from './alter-actions.js';
import type { TableInfo } from './table-info.js';

/** A leaf of a partitioned table altered whole. */
export interface TreeLeaf {
  oid: number;
  schema: string;
  name: string;
  display: string;
}

/** A foreign key of another table referencing the partitioned table (its top-level constraint). */
export interface TreeForeignKeyIn {
  /** The referencing table, quoted and qualified. */
  table: string;
  /** The referencing table is itself partitioned. */
  partitioned: boolean;
  name: string;
  /** pg_get_constraintdef. */
  def: string;
  validated: boolean;
  comment: string | null;
}

/** What `--alter` on a partitioned table needs to know of the tree before deciding (alter-tree.ts). */
export interface TreeFacts {
  oid: number;
  schema: string;
  name: string;
  display: string;
  /** Leaf partitions directly under the partitioned table (ordinary tables), by name. */
  leaves: TreeLeaf[];
  /** Partitions that are partitioned tables themselves, or foreign tables (display names). */
  subPartitioned: string[];
  foreign: string[];
  /** The default partition (display name), if any. */
  defaultPartition: string | null;
  /** Columns of the partition key (expressions: the columns they use). */
  keyColumns: string[];
  /** Foreign keys of the partitioned table itself (its leaves inherit them). */
  foreignKeysOut: string[];
  foreignKeysIn: TreeForeignKeyIn[];
}

const refused = (display: string, why: string): PgToolsError => new PgToolsError('alter_refused', `--alter on ${display}: ${why}; nothing was changed`);

/** pg_get_partkeydef: `RANGE (col)`, as a PARTITION BY clause takes it. */
export async function partitionKeyDef(client: Queryable, oid: number): Promise<string> {
  const { rows } = await client.query<{ def: string | null }>('SELECT pg_catalog.pg_get_partkeydef($1::int8::oid) AS def', [oid]);
  const def = rows[0]?.def;
  if (!def) throw new PgToolsError('alter_refused', `relation with OID ${oid} is not a partitioned table; nothing was changed`);
  return def;
}

/**
 * Reads the tree of a partitioned table: its partitions (and which of them cannot be leaves of the
 * whole-tree swap), the partition key's columns, the default partition, the foreign keys from and to it.
 */
export async function readTree(client: Queryable, table: { oid: number; schema: string; name: string }): Promise<TreeFacts> {
  const { rows: parts } = await client.query<{ oid: string; schema: string; name: string; relkind: string; is_default: boolean }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, c.oid = pt.partdefid AS is_default
       FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_partitioned_table pt ON pt.partrelid = i.inhparent
      WHERE i.inhparent = $1::int8::oid ORDER BY n.nspname, c.relname`,
    [table.oid],
  );
  const { rows: key } = await client.query<{ column: string }>(
    `SELECT DISTINCT a.attname AS column FROM pg_catalog.pg_partitioned_table pt
       JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE pt.partrelid = $1::int8::oid
        AND (a.attnum = ANY (pt.partattrs::int2[])
             OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = pt.partrelid
                          AND d.refobjid = pt.partrelid AND d.refobjsubid = a.attnum AND d.deptype = 'a'))
      ORDER BY 1`,
    [table.oid],
  );
  const { rows: fks } = await client.query<TreeForeignKeyIn & { out: boolean }>(
    `SELECT con.conrelid = $1::int8::oid AS out, pg_catalog.format('%I.%I', n.nspname, c.relname) AS table, c.relkind = 'p' AS partitioned,
            con.conname AS name, pg_catalog.pg_get_constraintdef(con.oid) AS def, con.convalidated AS validated,
            pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
       FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE con.contype = 'f' AND con.conparentid = 0 AND (con.conrelid = $1::int8::oid OR con.confrelid = $1::int8::oid)
      ORDER BY 1, 2, con.conname`,
    [table.oid],
  );
  const display = displayName(table.schema, table.name);
  const named = (r: { schema: string; name: string }) => displayName(r.schema, r.name);
  return {
    ...table,
    display,
    leaves: parts.filter((p) => p.relkind === 'r').map((p) => ({ oid: Number(p.oid), schema: p.schema, name: p.name, display: named(p) })),
    subPartitioned: parts.filter((p) => p.relkind === 'p').map(named),
    foreign: parts.filter((p) => p.relkind === 'f').map(named),
    defaultPartition: parts.find((p) => p.is_default) ? named(parts.find((p) => p.is_default)!) : null,
    keyColumns: key.map((k) => k.column),
    foreignKeysOut: fks.filter((f) => f.out).map((f) => f.name),
    foreignKeysIn: fks
      .filter((f) => !f.out)
      .map((f) => ({ table: f.table, partitioned: f.partitioned, name: f.name, def: f.def, validated: f.validated, comment: f.comment })),
  };
}

/**
 * What `--alter` on a partitioned table does not carry out, refused before anything is made, each
 * naming the object, why, and what to do. Undefined when the tree and the actions fit. Pure.
 */
export function treeRefusal(tree: TreeFacts, actions: readonly AlterAction[], columnOrder?: readonly string[]): PgToolsError | undefined {
  const d = tree.display;
  if (columnOrder !== undefined) return refused(d, '--column-order on a partitioned table is not supported yet');
  if (tree.subPartitioned.length > 0) {
    return refused(
      d,
      `partition ${tree.subPartitioned[0]} is partitioned itself; sub-partitioned tables are not supported (every leaf must be one level down)`,
    );
  }
  if (tree.foreign.length > 0) return refused(d, `partition ${tree.foreign[0]} is a foreign table, whose rows cannot be rewritten here`);
  if (tree.leaves.length === 0)
    return refused(d, 'it has no partitions: a plain ALTER TABLE changes only the catalog there and rewrites nothing; run it directly');
  if (tree.foreignKeysOut.length > 0) {
    return refused(
      d,
      `foreign key ${quoteIdent(tree.foreignKeysOut[0]!)} of the partitioned table would be validated again on every new partition under ACCESS EXCLUSIVE (not supported yet: drop it before the run and add it again after)`,
    );
  }
  const partitionedRef = tree.foreignKeysIn.find((f) => f.partitioned);
  if (partitionedRef) {
    return refused(
      d,
      `foreign key ${quoteIdent(partitionedRef.name)} of the partitioned table ${partitionedRef.table} references it, and cannot be added again NOT VALID there (drop it before the run and add it again after)`,
    );
  }
  for (const a of actions) {
    if (a.kind === 'add-check' || a.kind === 'add-unique' || a.kind === 'add-foreign-key') {
      return refused(d, `${JSON.stringify(a.text)}: adding constraints to a partitioned table is not supported yet (only column changes are)`);
    }
    const column = 'column' in a ? a.column : undefined;
    if (column !== undefined && tree.keyColumns.includes(column) && (a.kind === 'alter-type' || a.kind === 'drop-column')) {
      return refused(
        d,
        `${JSON.stringify(a.text)}: column ${quoteIdent(column)} is in the partition key, whose type PostgreSQL does not let change (a new partitioned table would be needed: ` +
          'create it with the new type, move the rows, and swap the names yourself)',
      );
    }
  }
  return undefined;
}

/**
 * With a retyped column the swap drops and recreates the views over the partitioned table: what
 * keeps one from being recreated (a view another role owns, a materialized view or a rule over one)
 * is refused before anything is made. Throws `alter_refused`.
 */
export async function refuseParentViews(client: Queryable, tree: Pick<TreeFacts, 'oid' | 'display'>, retyped: readonly string[]): Promise<void> {
  if (retyped.length === 0) return;
  const blocked = viewTreeBlockers(await readDependentViews(client, tree.oid));
  if (blocked.length > 0) throw refused(tree.display, `${blocked[0]!}, and the views over it are recreated on the new types`);
}

/**
 * `--alter` on one partition alone: its columns follow its partitioned table, so a column change
 * (type, added or dropped column, NOT NULL) is refused pointing at that. What a partition may have
 * of its own (a default, a CHECK, a UNIQUE constraint, a foreign key) goes through the partition's
 * rename swap, which detaches the old leaf and attaches the new one. Throws `alter_refused`.
 */
export async function refuseAlone(client: Queryable, info: TableInfo, actions: readonly AlterAction[]): Promise<void> {
  if (!info.isPartition) return;
  const columnChange = actions.find((a) => a.kind === 'alter-type' || a.kind === 'add-column' || a.kind === 'drop-column' || a.kind === 'set-not-null');
  if (!columnChange) return;
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhparent
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE i.inhrelid = $1::int8::oid`,
    [info.oid],
  );
  const parent = rows[0] ? displayName(rows[0].schema, rows[0].name) : 'its partitioned table';
  throw refused(
    info.display,
    `${JSON.stringify(columnChange.text)}: a partition's columns follow its partitioned table ${parent}; run --alter on ${parent}, which changes every partition at once`,
  );
}

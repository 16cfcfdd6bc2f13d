import { quoteIdent, quoteLiteral, quoteQualified } from '@pgtools/core';
import type { RenameCopyColumns } from '@pgtools/swap';
import type { ResolvedOptions } from './options.js';
import type { TableInfo } from './table-info.js';

/** A chunked copy (rename swap, paced copies) copies this many pages per statement: 64 MB. */
export const DEFAULT_COPY_CHUNK_PAGES = 8192;

export interface CopyPlanInput {
  table: Pick<TableInfo, 'schema' | 'name' | 'columns' | 'reloptions' | 'owner' | 'tablespace' | 'estimatedRows'>;
  shadow: { schema: string; name: string };
  /**
   * Catalog mode builds the shadow itself with the table's attribute numbers; rename mode copies
   * into the shadow `createRenameShadow` made, the columns `renameCopyColumns` chose.
   */
  swap: { mode: 'catalog' } | { mode: 'rename'; columns: Pick<RenameCopyColumns, 'columns' | 'selectList' | 'overriding'> };
  /** The physical order to write in (`ORDER BY` text, already quoted), if any. */
  order: { sql: string } | undefined;
  /** The table's heap size in pages, read in the copy's snapshot. */
  totalPages: number;
  options: Partial<Pick<ResolvedOptions, 'copyChunkPages' | 'maxRate' | 'maxReplicaLag' | 'tablespace'>>;
}

/** One statement of a chunked copy: the rows whose ctid lies in pages [startPage, endPage). */
export interface CopyChunk {
  sql: string;
  startPage: number;
  /** Exclusive, at most the table's size (the last chunk's statement has no upper bound: rows added since fit there). */
  endPage: number;
  first: boolean;
  last: boolean;
}

export type CopyStatements =
  /** Catalog mode, all rows at once: the `CREATE TABLE ... AS SELECT` makes and fills the shadow. */
  | { kind: 'create-as'; sql: string }
  /** All rows in one `INSERT ... SELECT` (an ordered copy, or a table within one chunk). */
  | { kind: 'insert'; sql: string }
  /** ctid ranges of `chunkPages` pages, one `INSERT ... SELECT` each. */
  | { kind: 'chunks'; chunkPages: number; chunks: Iterable<CopyChunk> };

/** What the copy runs, in order: `createSql` (if any), `ownerSql`, `copy`, then `finishSql`. */
export interface CopyPlan {
  /** Catalog mode with a chunked copy: the empty shadow, created before the chunks. */
  createSql: string | undefined;
  ownerSql: string;
  copy: CopyStatements;
  /** Catalog mode: drops the placeholders of dropped columns once the rows are in. */
  finishSql: string[];
  /** Columns written to the shadow table, in attnum order: never virtual generated ones, and in rename mode no stored generated ones either. */
  columns: string[];
  /** The shadow has identity columns GENERATED ALWAYS (rename mode): writes to it say OVERRIDING SYSTEM VALUE. */
  overridingSystemValue: boolean;
  totalPages: number;
}

/**
 * Decides the copy of a table into its shadow: its statements and how the rows are split. Pure;
 * the copy phase runs the plan in one REPEATABLE READ transaction.
 *
 * @example
 * ```ts
 * const plan = planCopy({ table: info, shadow: { schema: 'pgtools', name: 'table_16385' }, swap: { mode: 'catalog' }, order: undefined, totalPages: 100, options: {} });
 * plan.copy.kind; // 'create-as': one CREATE TABLE ... AS, the server's bulk-insert path
 * ```
 */
export function planCopy(input: CopyPlanInput): CopyPlan {
  const { table: info, shadow, swap, order, totalPages, options: opts } = input;
  const tablespace = opts.tablespace ?? info.tablespace;
  const source = `ONLY ${quoteQualified(info.schema, info.name)}`;
  const target = quoteQualified(shadow.schema, shadow.name);
  // Virtual generated columns (PostgreSQL 18+) are computed on read and NULL in the heap: never copied.
  const liveNames = info.columns.filter((c) => !c.dropped && !c.virtual).map((c) => c.name);
  const pacedCopy = opts.maxRate !== undefined || (opts.maxReplicaLag !== undefined && 'bytes' in opts.maxReplicaLag);
  let chunk = opts.copyChunkPages ?? (swap.mode === 'catalog' && !pacedCopy ? Math.max(1, totalPages) : DEFAULT_COPY_CHUNK_PAGES);
  if (opts.maxRate !== undefined && totalPages > 0) {
    const rowsPerPage = Math.max(1, info.estimatedRows / totalPages);
    chunk = Math.max(1, Math.min(chunk, Math.floor(opts.maxRate / rowsPerPage)));
  }
  if (opts.maxReplicaLag && 'bytes' in opts.maxReplicaLag) {
    // Keep the WAL of one chunk well under the allowed lag, so the check between chunks can hold it.
    chunk = Math.max(1, Math.min(chunk, Math.floor(opts.maxReplicaLag.bytes / 2 / 8192)));
  }
  // TID ranges cannot produce one physical order: the ordered copy is a single statement.
  const singleStatement = order !== undefined || totalPages <= chunk;
  const orderBy = order ? ` ORDER BY ${order.sql}` : '';

  let insertColumns: string[];
  let selectList: string;
  let overriding = '';
  let createSql: string | undefined;
  let createAs: string | undefined;
  const finishSql: string[] = [];
  if (swap.mode === 'catalog') {
    // Same attribute numbers as the original, so its tuple descriptor reads our files:
    // placeholders stand in for dropped columns and are dropped again after the copy.
    // A virtual column's slot is NULL with the column's own type and typmod, taken from a NULL row of the table's type.
    const select = info.columns
      .map((c) =>
        c.dropped
          ? `NULL::int4 AS ${quoteIdent(placeholderName(c.attnum))}`
          : c.virtual
            ? `(NULL::${quoteQualified(info.schema, info.name)}).${quoteIdent(c.name)} AS ${quoteIdent(c.name)}`
            : quoteIdent(c.name),
      )
      .join(', ');
    const withOptions = [...info.reloptions.filter((o) => !o.startsWith('autovacuum_')), 'autovacuum_enabled=false']
      .map((o) => o.replace(/^([a-z_.]+)=(.*)$/, (_m, k: string, v: string) => `${k}=${quoteLiteral(v)}`))
      .join(', ');
    const create = `CREATE TABLE ${target} WITH (${withOptions}, toast.autovacuum_enabled=false)${tablespace ? ` TABLESPACE ${quoteIdent(tablespace)}` : ''} AS SELECT ${select} FROM ${source}`;
    insertColumns = liveNames;
    selectList = liveNames.map(quoteIdent).join(', ');
    // CREATE TABLE AS fills the table through the server's bulk-insert path (one pinned target
    // page, no free-space-map lookups), measured ~15% faster than INSERT ... SELECT; a chunked
    // copy (progress, throttling) needs INSERT for every chunk after the first, so it creates the
    // table empty instead.
    if (singleStatement) createAs = `${create}${orderBy}`;
    else createSql = `${create} WITH NO DATA`;
    for (const c of info.columns.filter((col) => col.dropped)) finishSql.push(`ALTER TABLE ${target} DROP COLUMN ${quoteIdent(placeholderName(c.attnum))}`);
  } else {
    insertColumns = swap.columns.columns;
    selectList = swap.columns.selectList;
    overriding = swap.columns.overriding;
  }
  const insertPrefix = `INSERT INTO ${target} (${insertColumns.map(quoteIdent).join(', ')}) ${overriding} SELECT ${selectList} FROM ${source}`;
  let copy: CopyStatements;
  if (createAs !== undefined) copy = { kind: 'create-as', sql: createAs };
  else if (singleStatement) copy = { kind: 'insert', sql: `${insertPrefix}${orderBy}` };
  else copy = { kind: 'chunks', chunkPages: chunk, chunks: ctidChunks(insertPrefix, totalPages, chunk) };
  return {
    createSql,
    // The shadow takes the table's owner now, while no other session knows it (a no-op when it has
    // it): at the swap an ALTER OWNER would take ACCESS EXCLUSIVE on it inside the guard's
    // transaction, and the log apply on the other connection would wait for it forever.
    ownerSql: `ALTER TABLE ${target} OWNER TO ${quoteIdent(info.owner)}`,
    copy,
    finishSql,
    columns: insertColumns,
    overridingSystemValue: overriding !== '',
    totalPages,
  };
}

/** The chunks, made as they are iterated (a big table at a low `maxRate` has very many). */
function ctidChunks(insertPrefix: string, totalPages: number, chunk: number): Iterable<CopyChunk> {
  return {
    *[Symbol.iterator]() {
      for (let start = 0; ; start += chunk) {
        const last = start + chunk >= totalPages;
        const where = last ? `WHERE ctid >= '(${start},0)'::tid` : `WHERE ctid >= '(${start},0)'::tid AND ctid < '(${start + chunk},0)'::tid`;
        yield { sql: `${insertPrefix} ${where}`, startPage: start, endPage: Math.min(totalPages, start + chunk), first: start === 0, last };
        if (last) return;
      }
    },
  };
}

// Dots keep it clear of any real column name a user would pick.
function placeholderName(attnum: number): string {
  return `pgtools.dropped.${attnum}`;
}

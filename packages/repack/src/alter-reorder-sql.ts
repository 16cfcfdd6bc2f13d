import { PgToolsError, quoteIdent, quoteLiteral, quoteQualified } from '@pgtools/core';

/**
 * The options of an identity column's sequence on the shadow (`pg_sequence`), re-given when the
 * column is added again (its type is the column's: identity takes no `AS`).
 */
export interface IdentitySequence {
  schema: string;
  name: string;
  /** int8 values as text. */
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
}

/** One live column of the (empty) shadow, as `reorderStatements` re-creates it. */
export interface ReorderColumn {
  attnum: number;
  name: string;
  /** `format_type`. */
  type: string;
  /** Quoted `schema.collation` when not the type's default. */
  collation: string | null;
  /** The default expression (never a generation expression). */
  default: string | null;
  notNull: boolean;
  /** `attidentity`: '' (none), `a` (ALWAYS), `d` (BY DEFAULT). */
  identity: string;
  /** The identity sequence, for an identity column. */
  sequence: IdentitySequence | null;
  /** `attgenerated`: '' (none), `s` (STORED), `v` (VIRTUAL, PostgreSQL 18+). */
  generated: string;
  /** The generation expression, for a generated column (`pg_get_expr`). */
  expression: string | null;
  /** For a generated column: the attnums its expression reads. */
  uses: number[];
  /** `p`, `e`, `m`, `x` when not the type's default. */
  storage: string | null;
  /** `p` (pglz), `l` (lz4) when set. */
  compression: string | null;
  comment: string | null;
}

/** A CHECK constraint of the shadow on columns that move: dropped and added again around the move. */
export interface ReorderCheck {
  name: string;
  def: string;
  comment: string | null;
  attnums: number[];
}

/** An extended statistics object of the shadow on columns that move: dropped and created again after the move. */
export interface ReorderStatistics {
  /** Quoted `schema.name`. */
  name: string;
  /** What it is on, as `pg_get_statisticsobjdef_columns` prints it. */
  columns: string;
  /** `stxkind`: `d`, `f`, `m`, `e`. */
  kinds: string[];
  /** `stxstattarget`: null or negative when the default. */
  target: number | null;
  comment: string | null;
  /** The columns it reads (keys and expressions). */
  attnums: number[];
}

/** What else on the shadow moves with its columns, and what the server can do. */
export interface ReorderExtras {
  statistics?: readonly ReorderStatistics[];
  /** `ALTER COLUMN ... SET EXPRESSION` (PostgreSQL 17+): a generated column can be added before a column it reads. */
  setExpression?: boolean;
}

const STORAGE: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
const COMPRESSION: Record<string, string> = { p: 'pglz', l: 'lz4' };
const STAT_KINDS: Record<string, string> = { d: 'ndistinct', f: 'dependencies', m: 'mcv' };

/**
 * The statements that put the (empty) shadow's live columns in `order`: the columns from the first
 * one out of place on are dropped and added again in order, with their type, collation, default,
 * identity (kind and sequence options), generation expression, NOT NULL, storage, compression and
 * comment. The range widens to the first generated column that reads a column in it, so that every
 * generated column is added again with what it reads; the CHECK constraints and statistics objects
 * on the moved columns are dropped before and made again after (same names, definitions, targets,
 * comments). A generated column added before a column it reads gets its expression after the
 * columns (SET EXPRESSION, PostgreSQL 17+; older servers: refused, `alter_refused`). Pure; [] when
 * the order is already right.
 */
export function reorderStatements(
  table: string,
  columns: readonly ReorderColumn[],
  checks: readonly ReorderCheck[],
  order: readonly string[],
  display: string,
  extras: ReorderExtras = {},
): string[] {
  const byName = (name: string): ReorderColumn => {
    const c = columns.find((x) => x.name === name);
    if (!c)
      throw new PgToolsError(
        'alter_refused',
        `--column-order on ${display}: ${JSON.stringify(name)} is not a column of the new definition; nothing was changed`,
      );
    return c;
  };
  const first = columns.findIndex((c, i) => c.name !== order[i]);
  if (first < 0) return [];
  const moving = order.slice(movedFrom(columns, first)).map(byName);
  const moved = new Set(moving.map((c) => c.attnum));
  const late = lateExpressions(moving, display, extras.setExpression === true);
  const affected = checks.filter((k) => k.attnums.some((n) => moved.has(n)));
  const stats = (extras.statistics ?? []).filter((s) => s.attnums.some((n) => moved.has(n)));
  const out: string[] = [];
  if (stats.length > 0) out.push(`DROP STATISTICS ${stats.map((s) => s.name).join(', ')}`);
  // A generated column goes before what it reads (the server refuses the other way round).
  const drops = [...moving.filter((c) => c.generated !== ''), ...moving.filter((c) => c.generated === '')];
  out.push(
    `ALTER TABLE ${table} ${[...affected.map((k) => `DROP CONSTRAINT ${quoteIdent(k.name)}`), ...drops.map((c) => `DROP COLUMN ${quoteIdent(c.name)}`)].join(', ')}`,
  );
  const add = moving.map((c) => `ADD COLUMN ${quoteIdent(c.name)} ${columnDefinition(c, late.has(c.attnum))}`);
  const attributes = moving.flatMap((c) => [
    ...(c.storage !== null && STORAGE[c.storage] ? [`ALTER COLUMN ${quoteIdent(c.name)} SET STORAGE ${STORAGE[c.storage]}`] : []),
    ...(c.compression !== null && COMPRESSION[c.compression] ? [`ALTER COLUMN ${quoteIdent(c.name)} SET COMPRESSION ${COMPRESSION[c.compression]}`] : []),
  ]);
  out.push(`ALTER TABLE ${table} ${[...add, ...attributes, ...affected.map((k) => `ADD CONSTRAINT ${quoteIdent(k.name)} ${k.def}`)].join(', ')}`);
  const setExpressions = moving.filter((c) => late.has(c.attnum)).map((c) => `ALTER COLUMN ${quoteIdent(c.name)} SET EXPRESSION AS (${c.expression})`);
  if (setExpressions.length > 0) out.push(`ALTER TABLE ${table} ${setExpressions.join(', ')}`);
  for (const s of stats) out.push(...statisticsStatements(table, s));
  for (const c of moving) if (c.comment !== null) out.push(`COMMENT ON COLUMN ${table}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment)}`);
  for (const k of affected) if (k.comment !== null) out.push(`COMMENT ON CONSTRAINT ${quoteIdent(k.name)} ON ${table} IS ${quoteLiteral(k.comment)}`);
  return out;
}

/**
 * Where the dropped range starts: at the first column out of place, or earlier at a generated
 * column that reads a column in the range (dropping that column would drop it), until no generated
 * column before the range reads one in it.
 */
function movedFrom(columns: readonly ReorderColumn[], first: number): number {
  let start = first;
  for (;;) {
    const inRange = new Set(columns.slice(start).map((c) => c.attnum));
    const reader = columns.findIndex((c, i) => i < start && c.generated !== '' && c.uses.some((n) => inRange.has(n)));
    if (reader < 0) return start;
    start = reader;
  }
}

/** The generated columns added before a column they read: their expression is set after every column is there. */
function lateExpressions(moving: readonly ReorderColumn[], display: string, setExpression: boolean): Set<number> {
  const late = new Set<number>();
  moving.forEach((c, i) => {
    if (c.generated === '') return;
    const later = moving.slice(i + 1).find((x) => c.uses.includes(x.attnum));
    if (later === undefined) return;
    if (!setExpression) {
      throw new PgToolsError(
        'alter_refused',
        `--column-order on ${display}: generated column ${JSON.stringify(c.name)} would come before column ${JSON.stringify(later.name)}, which it is computed from; ` +
          `this needs PostgreSQL 17 or later (ALTER COLUMN ... SET EXPRESSION), so put ${JSON.stringify(c.name)} after ${JSON.stringify(later.name)}; nothing was changed`,
      );
    }
    late.add(c.attnum);
  });
  return late;
}

/** A column's definition after its name; `late`: a placeholder expression, set after the columns it reads are there. */
function columnDefinition(c: ReorderColumn, late: boolean): string {
  const collate = c.collation === null ? '' : ` COLLATE ${c.collation}`;
  const notNull = c.notNull ? ' NOT NULL' : '';
  if (c.generated !== '') {
    const expression = late ? `NULL::${c.type}` : c.expression;
    return `${c.type}${collate} GENERATED ALWAYS AS (${expression}) ${c.generated === 'v' ? 'VIRTUAL' : 'STORED'}${notNull}`;
  }
  if (c.identity !== '') {
    const s = c.sequence;
    const options = s
      ? ` (SEQUENCE NAME ${quoteQualified(s.schema, s.name)} START WITH ${s.start} INCREMENT BY ${s.increment}` +
        ` MINVALUE ${s.min} MAXVALUE ${s.max} CACHE ${s.cache}${s.cycle ? ' CYCLE' : ' NO CYCLE'})`
      : '';
    return `${c.type}${collate} GENERATED ${c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY${options}${notNull}`;
  }
  return `${c.type}${collate}${c.default === null ? '' : ` DEFAULT ${c.default}`}${notNull}`;
}

/** A statistics object made again: its kinds (none for one expression alone), target and comment. */
function statisticsStatements(table: string, s: ReorderStatistics): string[] {
  const kinds = s.kinds.flatMap((k) => (STAT_KINDS[k] ? [STAT_KINDS[k]] : []));
  const out = [`CREATE STATISTICS ${s.name}${kinds.length > 0 ? ` (${kinds.join(', ')})` : ''} ON ${s.columns} FROM ${table}`];
  if (s.target !== null && s.target >= 0) out.push(`ALTER STATISTICS ${s.name} SET STATISTICS ${s.target}`);
  if (s.comment !== null) out.push(`COMMENT ON STATISTICS ${s.name} IS ${quoteLiteral(s.comment)}`);
  return out;
}

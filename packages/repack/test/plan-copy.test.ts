import { describe, expect, it } from 'vitest';
import { DEFAULT_COPY_CHUNK_PAGES, planCopy, type CopyChunk, type CopyPlan, type CopyPlanInput } from '../src/copy-plan.js';
import type { ColumnInfo } from '../src/table-info.js';

const col = (attnum: number, name: string, dropped = false): ColumnInfo => ({
  attnum,
  name,
  type: dropped ? undefined : 'integer',
  dropped,
  notNull: false,
  generated: false,
  virtual: false,
  identity: false,
});

/** A table whose every name needs quoting: a quote, a dot, uppercase, spaces. */
const hostile = {
  schema: 'My "Schema".x',
  name: 'Order Lines.v2',
  columns: [col(1, 'Id'), col(2, 'a "b"'), col(3, '........pg.dropped.3........', true), col(4, 'x.y z')],
  reloptions: ['fillfactor=70', 'autovacuum_vacuum_scale_factor=0.01'],
  owner: 'App "Owner"',
  tablespace: null,
  estimatedRows: 1000,
};
const shadow = { schema: 'pgtools', name: 'table_16385' };
const SOURCE = `ONLY "My ""Schema"".x"."Order Lines.v2"`;
const TARGET = '"pgtools"."table_16385"';

function plan(over: Partial<CopyPlanInput> = {}): CopyPlan {
  return planCopy({ table: hostile, shadow, swap: { mode: 'catalog' }, order: undefined, totalPages: 100, options: {}, ...over });
}

function chunksOf(p: CopyPlan): CopyChunk[] {
  if (p.copy.kind !== 'chunks') throw new Error(`not chunked: ${p.copy.kind}`);
  return [...p.copy.chunks];
}

describe('planCopy, catalog mode', () => {
  it('copies the whole table in one CREATE TABLE AS, every identifier quoted, placeholders for dropped columns', () => {
    const p = plan();
    expect(p.copy).toEqual({
      kind: 'create-as',
      sql:
        `CREATE TABLE ${TARGET} WITH (fillfactor='70', autovacuum_enabled='false', toast.autovacuum_enabled=false) ` +
        `AS SELECT "Id", "a ""b""", NULL::int4 AS "pgtools.dropped.3", "x.y z" FROM ${SOURCE}`,
    });
    expect(p.createSql).toBeUndefined();
    expect(p.ownerSql).toBe(`ALTER TABLE ${TARGET} OWNER TO "App ""Owner"""`);
    expect(p.finishSql).toEqual([`ALTER TABLE ${TARGET} DROP COLUMN "pgtools.dropped.3"`]);
    expect(p.columns).toEqual(['Id', 'a "b"', 'x.y z']);
  });

  it('writes an ordered copy in the same single statement, in order', () => {
    const p = plan({ order: { sql: '"x.y z" DESC, "Id"' }, options: { copyChunkPages: 1 } });
    expect(p.copy.kind).toBe('create-as');
    expect(p.copy.kind === 'create-as' && p.copy.sql.endsWith(`FROM ${SOURCE} ORDER BY "x.y z" DESC, "Id"`)).toBe(true);
  });

  it('orders even when chunks were asked for: TID ranges cannot keep one physical order', () => {
    const p = plan({ order: { sql: '"Id"' }, totalPages: 50_000, options: { copyChunkPages: 10 } });
    expect(p.copy.kind).toBe('create-as');
  });

  it('puts the shadow in the requested tablespace, else the table’s own', () => {
    const own = plan({ table: { ...hostile, tablespace: 'fast disk' } });
    expect(own.copy.kind === 'create-as' && own.copy.sql).toContain(' TABLESPACE "fast disk" AS SELECT');
    const asked = plan({ table: { ...hostile, tablespace: 'fast disk' }, options: { tablespace: 'Other' } });
    expect(asked.copy.kind === 'create-as' && asked.copy.sql).toContain(' TABLESPACE "Other" AS SELECT');
  });

  it('with explicit chunks: creates the shadow empty, then one INSERT per ctid range', () => {
    const p = plan({ totalPages: 25, options: { copyChunkPages: 10 } });
    expect(p.createSql).toMatch(/ AS SELECT .* WITH NO DATA$/);
    const insert = `INSERT INTO ${TARGET} ("Id", "a ""b""", "x.y z")  SELECT "Id", "a ""b""", "x.y z" FROM ${SOURCE}`;
    expect(chunksOf(p)).toEqual([
      { sql: `${insert} WHERE ctid >= '(0,0)'::tid AND ctid < '(10,0)'::tid`, startPage: 0, endPage: 10, first: true, last: false },
      { sql: `${insert} WHERE ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid`, startPage: 10, endPage: 20, first: false, last: false },
      // The last range is open: rows past the size read in the snapshot land there too.
      { sql: `${insert} WHERE ctid >= '(20,0)'::tid`, startPage: 20, endPage: 25, first: false, last: true },
    ]);
    expect(p.finishSql).toHaveLength(1);
  });

  it('chunk boundaries: a table of exactly n chunks ends with an open range starting at the last boundary', () => {
    const chunks = chunksOf(plan({ totalPages: 20, options: { copyChunkPages: 10 } }));
    expect(chunks.map((c) => [c.startPage, c.endPage, c.last])).toEqual([
      [0, 10, false],
      [10, 20, true],
    ]);
    expect(chunks[1]!.sql).toMatch(/WHERE ctid >= '\(10,0\)'::tid$/);
  });

  it('a table within one chunk is copied in one statement', () => {
    expect(plan({ totalPages: 10, options: { copyChunkPages: 10 } }).copy.kind).toBe('create-as');
    expect(chunksOf(plan({ totalPages: 11, options: { copyChunkPages: 10 } }))).toHaveLength(2);
  });

  it('an empty table is one statement, whatever the chunk size', () => {
    expect(plan({ totalPages: 0 }).copy.kind).toBe('create-as');
    expect(plan({ totalPages: 0, options: { copyChunkPages: 1 } }).copy.kind).toBe('create-as');
    expect(plan({ totalPages: 0, options: { maxRate: 1 } }).copy.kind).toBe('create-as');
  });

  it('paced copies are chunked: maxRate bounds the rows per chunk, a byte replica lag the WAL per chunk', () => {
    // 1000 rows over 100 pages: 10 rows a page; 50 rows a second -> 5 pages a chunk.
    const rate = plan({ options: { maxRate: 50 } });
    expect(rate.copy.kind === 'chunks' && rate.copy.chunkPages).toBe(5);
    expect(chunksOf(rate)).toHaveLength(20);
    // Half of 1 MB of lag: 64 pages.
    const lag = plan({ totalPages: 1000, options: { maxReplicaLag: { bytes: 1024 * 1024 } } });
    expect(lag.copy.kind === 'chunks' && lag.copy.chunkPages).toBe(64);
    // A lag in time alone does not chunk the catalog copy.
    expect(plan({ options: { maxReplicaLag: { ms: 1000 } } }).copy.kind).toBe('create-as');
    // Nor does the pacing shrink a chunk below one page.
    const slow = plan({ options: { maxRate: 1 } });
    expect(slow.copy.kind === 'chunks' && slow.copy.chunkPages).toBe(1);
  });

  it('never copies a virtual generated column (PostgreSQL 18): its slot is a NULL of its own type, the inserts leave it out', () => {
    const table = { ...hostile, columns: [...hostile.columns, { ...col(5, 'Dbl "v"'), virtual: true }] };
    const one = plan({ table });
    expect(one.copy.kind === 'create-as' && one.copy.sql).toContain(
      `AS SELECT "Id", "a ""b""", NULL::int4 AS "pgtools.dropped.3", "x.y z", (NULL::"My ""Schema"".x"."Order Lines.v2")."Dbl ""v""" AS "Dbl ""v""" FROM ${SOURCE}`,
    );
    expect(one.columns).toEqual(['Id', 'a "b"', 'x.y z']);
    const chunked = plan({ table, totalPages: 25, options: { copyChunkPages: 10 } });
    expect(chunksOf(chunked)[0]!.sql).toMatch(/^INSERT INTO "pgtools"."table_16385" \("Id", "a ""b""", "x.y z"\)  SELECT "Id", "a ""b""", "x.y z" FROM /);
    expect(chunked.columns).toEqual(['Id', 'a "b"', 'x.y z']);
  });

  it('keeps non-autovacuum storage options, quoting their values', () => {
    const p = plan({ table: { ...hostile, reloptions: ['fillfactor=50', 'toast_tuple_target=4080', 'autovacuum_enabled=true'] } });
    expect(p.copy.kind === 'create-as' && p.copy.sql).toContain(
      `WITH (fillfactor='50', toast_tuple_target='4080', autovacuum_enabled='false', toast.autovacuum_enabled=false)`,
    );
  });
});

describe('planCopy, rename mode', () => {
  const columns = { columns: ['Id', 'a "b"', 'x.y z'], selectList: '"Id", "a ""b""", "x.y z"', overriding: 'OVERRIDING SYSTEM VALUE' };
  const rename = (over: Partial<CopyPlanInput> = {}): CopyPlan => plan({ swap: { mode: 'rename', columns }, ...over });

  it('inserts into the shadow made beforehand, in one statement when the table fits one default chunk', () => {
    const p = rename();
    expect(p.createSql).toBeUndefined();
    expect(p.finishSql).toEqual([]);
    expect(p.columns).toEqual(columns.columns);
    expect(p.copy).toEqual({
      kind: 'insert',
      sql: `INSERT INTO ${TARGET} ("Id", "a ""b""", "x.y z") OVERRIDING SYSTEM VALUE SELECT "Id", "a ""b""", "x.y z" FROM ${SOURCE}`,
    });
    expect(p.ownerSql).toBe(`ALTER TABLE ${TARGET} OWNER TO "App ""Owner"""`);
    // The log apply writes into the same shadow: it must override the identity too.
    expect(p.overridingSystemValue).toBe(true);
    expect(plan({ swap: { mode: 'rename', columns: { ...columns, overriding: '' } } }).overridingSystemValue).toBe(false);
    expect(plan().overridingSystemValue).toBe(false);
  });

  it('chunks by default past 64 MB', () => {
    const p = rename({ totalPages: DEFAULT_COPY_CHUNK_PAGES * 2 + 1 });
    expect(chunksOf(p).map((c) => [c.startPage, c.endPage, c.first, c.last])).toEqual([
      [0, 8192, true, false],
      [8192, 16384, false, false],
      [16384, 16385, false, true],
    ]);
  });

  it('an ordered copy is one INSERT ... ORDER BY', () => {
    const p = rename({ totalPages: DEFAULT_COPY_CHUNK_PAGES * 3, order: { sql: '"a ""b""" NULLS FIRST' } });
    expect(p.copy.kind).toBe('insert');
    expect(p.copy.kind === 'insert' && p.copy.sql.endsWith(`FROM ${SOURCE} ORDER BY "a ""b""" NULLS FIRST`)).toBe(true);
  });

  it('an empty table is one statement', () => {
    expect(rename({ totalPages: 0 }).copy.kind).toBe('insert');
  });

  it('the chunks can be iterated again (the plan is data, made lazily)', () => {
    const p = rename({ totalPages: 30, options: { copyChunkPages: 10 } });
    expect(chunksOf(p)).toEqual(chunksOf(p));
  });
});

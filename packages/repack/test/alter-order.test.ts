import { describe, expect, it } from 'vitest';
import { parseAlterActions } from '../src/alter-actions.js';
import { mappingLines, planAlter, type AlterFacts } from '../src/alter-plan.js';
import { reorderStatements } from '../src/alter-reorder-sql.js';
import { alterRequest, parseColumnOrder } from '../src/alter-request.js';
import { col, refusal, shadowCol } from './alter-helpers.js';

const hostile = `Na"me; DROP`;
const facts: AlterFacts = {
  display: 'public.orders',
  columns: [col(1, 'id'), col(2, hostile, 'text'), col(3, 'qty'), col(4, 'note', 'text')],
  keyColumns: ['id'],
  dependencies: [],
  columnsWithGrants: [],
};

describe('--column-order', () => {
  it('reads the CLI value as names, folded as the server folds them, quoted ones as written', () => {
    expect(parseColumnOrder(`id, "${hostile.replace('"', '""')}",Created_At`)).toEqual(['id', hostile, 'created_at']);
    expect(() => parseColumnOrder('id; DROP TABLE x')).toThrow(/without ";"/);
    expect(() => parseColumnOrder('id name')).toThrow(/separated by ","/);
    expect(() => parseColumnOrder('')).toThrow(/expected a column name/);
  });

  it('asks for a schema change alone, refuses a name given twice and the catalog swap', () => {
    expect(alterRequest({ columnOrder: ['b', 'a'] })).toEqual({ actions: [], columnOrder: ['b', 'a'] });
    expect(alterRequest({})).toBeUndefined();
    expect(refusal(() => alterRequest({ columnOrder: ['a', 'b', 'a'] })).message).toMatch(/names column "a" twice/);
    expect(refusal(() => alterRequest({ columnOrder: ['a'], swap: 'catalog' })).code).toBe('invalid_option');
  });

  it('orders the mapping as asked after the actions (dropped columns last), for the dry run', () => {
    const plan = planAlter(parseAlterActions(['ADD COLUMN created_at timestamptz', 'DROP COLUMN note']), facts, ['id', 'created_at', 'qty', hostile]);
    expect(plan.mapping.map((m) => m.column)).toEqual(['id', 'created_at', 'qty', hostile, 'note']);
    expect(plan.changes).toMatchObject({ added: ['created_at'], dropped: ['note'], order: ['id', 'created_at', 'qty', hostile] });
    expect(mappingLines(plan.mapping)[1]).toBe('(new) → "created_at" timestamptz (its default)');
    // Alone, without actions.
    expect(planAlter([], facts, ['qty', 'id', hostile, 'note']).mapping.map((m) => m.column)).toEqual(['qty', 'id', hostile, 'note']);
  });

  it('refuses a missing or an unknown column, naming them, before anything is made', () => {
    const err = refusal(() => planAlter(parseAlterActions(['DROP COLUMN note']), facts, ['id', 'qty', 'note', 'nope']));
    expect(err.code).toBe('alter_refused');
    expect(err.message).toContain(`it leaves out ${JSON.stringify(hostile)}`);
    expect(err.message).toContain('"note", "nope" are not a column of the new definition');
  });

  it('re-creates the columns from the first one out of place on, with their attributes and the CHECKs on them, names quoted', () => {
    const columns = [
      shadowCol(1, 'id', { notNull: true }),
      shadowCol(2, hostile, { type: 'text', collation: '"pg_catalog"."C"', default: `'x'::text`, storage: 'm', compression: 'l', comment: `it's` }),
      shadowCol(3, 'qty', { notNull: true }),
    ];
    const checks = [
      { name: 'qty_positive', def: 'CHECK ((qty > 0))', comment: 'why', attnums: [3] },
      { name: 'id_check', def: 'CHECK ((id > 0))', comment: null, attnums: [1] },
    ];
    expect(reorderStatements('"s"."t"', columns, checks, ['id', 'qty', hostile], 'public.t')).toEqual([
      `ALTER TABLE "s"."t" DROP CONSTRAINT "qty_positive", DROP COLUMN "qty", DROP COLUMN "Na""me; DROP"`,
      `ALTER TABLE "s"."t" ADD COLUMN "qty" integer NOT NULL, ADD COLUMN "Na""me; DROP" text COLLATE "pg_catalog"."C" DEFAULT 'x'::text, ` +
        `ALTER COLUMN "Na""me; DROP" SET STORAGE MAIN, ALTER COLUMN "Na""me; DROP" SET COMPRESSION lz4, ADD CONSTRAINT "qty_positive" CHECK ((qty > 0))`,
      `COMMENT ON COLUMN "s"."t"."Na""me; DROP" IS 'it''s'`,
      `COMMENT ON CONSTRAINT "qty_positive" ON "s"."t" IS 'why'`,
    ]);
    expect(reorderStatements('"s"."t"', columns, checks, ['id', hostile, 'qty'], 'public.t')).toEqual([]);
  });
});

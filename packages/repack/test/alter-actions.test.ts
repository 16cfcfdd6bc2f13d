import { describe, expect, it } from 'vitest';
import { parseAlterAction, parseAlterActions } from '../src/alter-actions.js';
import { alterSources, mappingLines, planAlter, sourceSql, type AlterFacts } from '../src/alter-plan.js';
import { col, refusal } from './alter-helpers.js';

const hostile = `Na"me; DROP`;
const facts: AlterFacts = {
  display: 'public.orders',
  columns: [col(1, 'id'), col(2, hostile, 'text'), col(3, 'note', 'text'), col(4, 'gone', undefined, { dropped: true, type: undefined }), col(5, 'qty')],
  keyColumns: ['id'],
  dependencies: [],
  columnsWithGrants: [],
};

describe('parseAlterAction', () => {
  it('reads the three supported actions, with optional words, quoted names and clauses', () => {
    expect(parseAlterAction('ALTER COLUMN id TYPE bigint')).toEqual({
      kind: 'alter-type',
      column: 'id',
      type: 'bigint',
      using: undefined,
      text: 'ALTER COLUMN id TYPE bigint',
    });
    expect(parseAlterAction('alter Id set data type numeric(12, 2)[]')).toMatchObject({ column: 'id', type: 'numeric(12, 2)[]' });
    expect(parseAlterAction(`ALTER COLUMN "Na""me; DROP" TYPE int USING nullif("Na""me; DROP", '')::int`)).toMatchObject({
      kind: 'alter-type',
      column: hostile,
      type: 'int',
      using: `nullif("Na""me; DROP", '')::int`,
    });
    expect(parseAlterAction('ALTER COLUMN type TYPE timestamp(3) with time zone')).toMatchObject({ column: 'type', type: 'timestamp(3) with time zone' });
    expect(parseAlterAction(`ADD COLUMN note text DEFAULT 'a;b' NOT NULL`)).toEqual({
      kind: 'add-column',
      column: 'note',
      type: 'text',
      default: `'a;b'`,
      notNull: true,
      text: `ADD COLUMN note text DEFAULT 'a;b' NOT NULL`,
    });
    expect(parseAlterAction('ADD flag boolean NOT NULL DEFAULT (1 > 0)')).toMatchObject({ column: 'flag', type: 'boolean', default: '(1 > 0)', notNull: true });
    expect(parseAlterAction('ADD COLUMN "X y" double precision')).toMatchObject({
      column: 'X y',
      type: 'double precision',
      default: undefined,
      notNull: false,
    });
    expect(parseAlterAction(`ADD COLUMN d text DEFAULT E'it\\'s'`)).toMatchObject({ default: `E'it\\'s'` });
    expect(parseAlterAction('DROP COLUMN "Old"')).toEqual({ kind: 'drop-column', column: 'Old', text: 'DROP COLUMN "Old"' });
    expect(parseAlterAction('  drop note ')).toMatchObject({ kind: 'drop-column', column: 'note' });
    expect(parseAlterAction(`ALTER COLUMN note SET DEFAULT lower('A, B')`)).toMatchObject({ kind: 'set-default', column: 'note', default: `lower('A, B')` });
    expect(parseAlterAction('ALTER note DROP DEFAULT')).toMatchObject({ kind: 'set-default', column: 'note', default: undefined });
    expect(parseAlterAction('ALTER COLUMN "N n" SET NOT NULL')).toEqual({
      kind: 'set-not-null',
      column: 'N n',
      notNull: true,
      text: 'ALTER COLUMN "N n" SET NOT NULL',
    });
    expect(parseAlterAction('alter column note drop not null')).toMatchObject({ kind: 'set-not-null', column: 'note', notNull: false });
    // Commas inside parentheses or literals belong to the type or the expression.
    expect(parseAlterAction(`ALTER COLUMN n TYPE numeric(12, 2) USING round(n, 2)`)).toMatchObject({ type: 'numeric(12, 2)', using: 'round(n, 2)' });
  });

  it.each([
    ['ALTER COLUMN c DROP DEFAULT 1', /after DROP DEFAULT/],
    ['ALTER COLUMN c SET DEFAULT', /SET DEFAULT needs an expression/],
    ['ALTER COLUMN id TYPE bigint, DROP COLUMN a', /one action per --alter/],
    ['ALTER COLUMN id TYPE int USING id, DROP COLUMN a', /one action per --alter/],
    [`ADD COLUMN c text DEFAULT '', ADD COLUMN d int`, /one action per --alter/],
    ['ALTER COLUMN c SET NOT NULL x', /after SET NOT NULL/],
    ['ALTER COLUMN c SET STATISTICS 10', /only SET DATA TYPE is supported/],
    ['ALTER COLUMN c TYPE text COLLATE "C"', /COLLATE/],
    ['ADD CONSTRAINT x PRIMARY KEY (a)', /ADD PRIMARY KEY is not supported/],
    ['ADD COLUMN c int REFERENCES t', /constraints are not supported/],
    ['ADD COLUMN c int GENERATED ALWAYS AS IDENTITY', /generated/],
    ['DROP COLUMN c CASCADE', /CASCADE/],
    ['DROP COLUMN IF EXISTS c', /IF EXISTS/],
    ['RENAME COLUMN a TO b', /RENAME/],
    ['SET TABLESPACE x', /"SET" actions are not supported/],
    ['', /empty/],
    ['ALTER COLUMN id TYPE bigint; DROP TABLE x', /without ";"/],
    ['ALTER COLUMN id TYPE bigint -- x', /comments/],
    ['ALTER COLUMN id TYPE bigint USING $$1$$', /dollar/],
    ['ALTER COLUMN id TYPE bigint USING (id', /unbalanced/],
    ['ALTER COLUMN id TYPE bigint USING id)', /unbalanced/],
    [`ADD COLUMN c text DEFAULT 'open`, /unterminated/],
    [`ALTER COLUMN id TYPE 'bigint'`, /cannot be part of a type name/],
    ['ALTER COLUMN id TYPE int + 1', /cannot be part of a type name/],
    ['ALTER COLUMN id TYPE', /a type is needed/],
    ['ALTER COLUMN id TYPE bigint USING', /USING needs an expression/],
    ['ADD COLUMN c text DEFAULT', /DEFAULT needs an expression/],
    ['ALTER COLUMN "" TYPE int', /empty quoted identifier/],
  ])('refuses %j, naming the action and why', (text, why) => {
    const e = refusal(() => parseAlterAction(text));
    expect(e.code).toBe('alter_unsupported');
    expect(e.message).toMatch(why);
    expect(e.message).toContain(JSON.stringify(text.trim()));
  });

  it('refuses two actions on one column, but a type change and a new default go together', () => {
    expect(refusal(() => parseAlterActions(['DROP COLUMN a', 'ADD COLUMN a int'])).message).toMatch(/one action per column/);
    expect(refusal(() => parseAlterActions(['DROP COLUMN a', 'ALTER COLUMN a SET DEFAULT 1'])).message).toMatch(/one action per column/);
    expect(refusal(() => parseAlterActions(['ALTER COLUMN a SET DEFAULT 1', 'ALTER COLUMN a DROP DEFAULT'])).message).toMatch(/one action per column/);
    expect(parseAlterActions(['ALTER COLUMN a TYPE bigint', 'ALTER COLUMN a SET DEFAULT 0', 'ALTER COLUMN a SET NOT NULL']).map((a) => a.kind)).toEqual([
      'alter-type',
      'set-default',
      'set-not-null',
    ]);
    expect(refusal(() => parseAlterActions(['ALTER COLUMN a SET NOT NULL', 'ALTER COLUMN a DROP NOT NULL'])).message).toMatch(/one action per column/);
  });
});

describe('planAlter', () => {
  it('maps old columns to new ones: kept, retyped (cast or USING), added last, dropped', () => {
    const plan = planAlter(
      parseAlterActions([
        'ALTER COLUMN id TYPE bigint',
        `ALTER COLUMN "Na""me; DROP" TYPE int USING nullif("Na""me; DROP", '')::int`,
        `ADD COLUMN flag boolean DEFAULT true NOT NULL`,
        'DROP COLUMN note',
      ]),
      facts,
    );
    expect(plan.shadowSql).toBe(
      `ALTER COLUMN "id" TYPE bigint USING NULL, ALTER COLUMN "Na""me; DROP" TYPE int USING NULL, ADD COLUMN "flag" boolean DEFAULT (true) NOT NULL, DROP COLUMN "note"`,
    );
    expect(plan.changes).toEqual({ dropped: ['note'], added: ['flag'], retyped: ['id', hostile], nullability: [] });
    expect(plan.keyCasts).toEqual(['bigint']);
    expect(plan.mapping.map((m) => [m.column, m.change, m.from])).toEqual([
      ['id', 'retyped', '"id"'],
      [hostile, 'retyped', `(nullif("Na""me; DROP", '')::int)`],
      ['qty', 'kept', '"qty"'],
      ['flag', 'added', undefined],
      ['note', 'dropped', undefined],
    ]);
    expect(mappingLines(plan.mapping)).toEqual([
      '"id" integer → "id" bigint',
      `"Na""me; DROP" text → "Na""me; DROP" int USING (nullif("Na""me; DROP", '')::int)`,
      '"qty" integer → "qty" integer',
      '(new) → "flag" boolean (its default)',
      '"note" text → (dropped)',
    ]);
    // The shadow's writable columns in its order: the added column takes its default, so it is not written.
    const { columns, sources } = alterSources(plan, ['id', hostile, 'qty', 'flag']);
    expect(columns).toEqual(['id', hostile, 'qty']);
    expect(sources.map(sourceSql)).toEqual(['"id"', `(nullif("Na""me; DROP", '')::int)`, '"qty"']);
  });

  it.each([
    [['ALTER COLUMN nope TYPE int'], {}, /"nope" does not exist/],
    [['ADD COLUMN qty int'], {}, /"qty" already exists/],
    [['ADD COLUMN x int NOT NULL'], {}, /needs a DEFAULT/],
    [['DROP COLUMN id'], {}, /part of the key/],
    [['ALTER COLUMN id TYPE bigint USING id * 2'], {}, /without USING/],
    [['DROP COLUMN gone'], {}, /does not exist/],
    [['DROP COLUMN qty'], { dependencies: [{ column: 'qty', kind: 'view', what: 'view public.v' }] }, /used by view public\.v/],
    [['DROP COLUMN qty'], { dependencies: [{ column: 'qty', kind: 'other', what: 'index orders_qty' }] }, /used by index orders_qty/],
    [
      ['ALTER COLUMN note TYPE varchar(10) USING upper(note)'],
      { dependencies: [{ column: 'note', kind: 'foreign-key-in', what: 'constraint fk on table items' }] },
      /constraint fk on table items uses column "note": a foreign key's column changes type only by its cast, without USING/,
    ],
    [
      ['ALTER COLUMN qty TYPE text USING qty::text'],
      { dependencies: [{ column: 'qty', kind: 'foreign-key-out', what: 'constraint fk_qty on table orders' }] },
      /fk_qty/,
    ],
    [['DROP COLUMN qty'], { columnsWithGrants: ['qty'] }, /grants of its own/],
    [['ALTER COLUMN qty TYPE bigint'], { columns: [col(1, 'id'), col(2, 'qty', 'integer', { generated: true })] }, /generated/],
    [['DROP COLUMN id', 'DROP COLUMN qty', 'DROP COLUMN note', `DROP COLUMN "${hostile.replace(/"/g, '""')}"`], { keyColumns: [] }, /every column/],
  ])('refuses %j before anything is made', (actions, over, why) => {
    const e = refusal(() => planAlter(parseAlterActions(actions), { ...facts, ...over } as AlterFacts));
    expect(e.code).toBe('alter_refused');
    expect(e.message).toMatch(why);
  });

  it('plans a retyped column that a view uses: the swap recreates the view (the probe builds it on the new definition first)', () => {
    const plan = planAlter(parseAlterActions(['ALTER COLUMN qty TYPE bigint']), {
      ...facts,
      dependencies: [{ column: 'qty', kind: 'view', what: 'view public.v' }],
    } as AlterFacts);
    expect(plan.changes.retyped).toEqual(['qty']);
  });

  it('plans a retyped column that a materialized view uses: it is rebuilt on the new table after the swap (the probe tries its query first)', () => {
    const plan = planAlter(parseAlterActions(['ALTER COLUMN qty TYPE bigint']), {
      ...facts,
      dependencies: [{ column: 'qty', kind: 'view', what: 'materialized view public.mv' }],
    } as AlterFacts);
    expect(plan.changes.retyped).toEqual(['qty']);
  });

  it('lets columns under foreign keys both ways change type by their cast (the probe asks the server; the rename swap adds them again and validates them)', () => {
    const dependencies = [
      { column: 'id', kind: 'foreign-key-in' as const, what: 'constraint fk on table items' },
      { column: 'qty', kind: 'foreign-key-out' as const, what: 'constraint fk_qty on table orders' },
    ];
    const plan = planAlter(parseAlterActions(['ALTER COLUMN id TYPE BIGINT', 'ALTER COLUMN qty TYPE int8']), { ...facts, dependencies });
    expect(plan.changes.retyped).toEqual(['id', 'qty']);
    const text = planAlter(parseAlterActions(['ALTER COLUMN id TYPE numeric', 'ALTER COLUMN qty TYPE text']), { ...facts, dependencies });
    expect(text.changes.retyped).toEqual(['id', 'qty']);
  });

  it('sets and drops defaults and NOT NULL after the type changes, and shows them in the mapping', () => {
    const plan = planAlter(
      parseAlterActions([
        'ALTER COLUMN qty SET NOT NULL',
        'ALTER COLUMN qty SET DEFAULT 0',
        'ALTER COLUMN qty TYPE bigint',
        'ALTER COLUMN note DROP DEFAULT',
        'ALTER note DROP NOT NULL',
      ]),
      facts,
    );
    expect(plan.shadowSql).toBe(
      'ALTER COLUMN "qty" TYPE bigint USING NULL, ALTER COLUMN "qty" SET DEFAULT (0), ALTER COLUMN "note" DROP DEFAULT, ALTER COLUMN "qty" SET NOT NULL, ALTER COLUMN "note" DROP NOT NULL',
    );
    expect(plan.changes).toEqual({ dropped: [], added: [], retyped: ['qty'], nullability: ['qty', 'note'] });
    expect(mappingLines(plan.mapping)).toEqual([
      '"id" integer → "id" integer',
      `"Na""me; DROP" text → "Na""me; DROP" text`,
      '"note" text → "note" text, default dropped, NULL allowed',
      '"qty" integer → "qty" bigint, new default 0, NOT NULL',
    ]);
    expect(refusal(() => planAlter(parseAlterActions(['ALTER COLUMN id DROP NOT NULL']), facts)).message).toMatch(/part of the key/);
    expect(refusal(() => planAlter(parseAlterActions(['ALTER COLUMN nope SET DEFAULT 1']), facts)).message).toMatch(/does not exist/);
    const identity = { ...facts, columns: [col(1, 'id', 'integer', { identity: true }), col(2, 'qty')] };
    expect(refusal(() => planAlter(parseAlterActions(['ALTER COLUMN id SET DEFAULT 1']), identity)).message).toMatch(/identity column/);
  });

  it('on PostgreSQL 18 names a new NOT NULL as the server would on the table (not the shadow), avoiding taken names', () => {
    const named: AlterFacts = {
      ...facts,
      table: 'Or"ders',
      namedNotNulls: true,
      constraintNames: { ownConstraints: ['Or"ders_qty_not_null'], schemaConstraints: [], schemaRelations: [] },
    };
    const plan = planAlter(
      parseAlterActions([
        'ALTER COLUMN qty SET NOT NULL',
        `ALTER COLUMN "${hostile.replace(/"/g, '""')}" SET NOT NULL`,
        'ADD COLUMN flag boolean DEFAULT true NOT NULL',
      ]),
      named,
    );
    expect(plan.shadowSql).toBe(
      `ADD COLUMN "flag" boolean DEFAULT (true) CONSTRAINT "Or""ders_flag_not_null" NOT NULL, ` +
        `ADD CONSTRAINT "Or""ders_qty_not_null1" NOT NULL "qty", ADD CONSTRAINT "Or""ders_Na""me; DROP_not_null" NOT NULL "Na""me; DROP"`,
    );
    // A column already NOT NULL keeps its constraint (SET NOT NULL is a no-op), and DROP NOT NULL names nothing.
    const already = { ...named, columns: [col(1, 'id'), col(5, 'qty', 'integer', { notNull: true }), col(3, 'note', 'text')] };
    expect(planAlter(parseAlterActions(['ALTER COLUMN qty SET NOT NULL', 'ALTER COLUMN note DROP NOT NULL']), already).shadowSql).toBe(
      'ALTER COLUMN "qty" SET NOT NULL, ALTER COLUMN "note" DROP NOT NULL',
    );
  });

  it('lets a retyped or dropped column go with its own default, and a retyped column keep its indexes', () => {
    const dependencies = [
      { column: 'qty', kind: 'default' as const, what: 'default value for column qty' },
      { column: 'id', kind: 'other' as const, what: 'index orders_pkey' },
    ];
    expect(planAlter(parseAlterActions(['DROP COLUMN qty', 'ALTER COLUMN id TYPE bigint']), { ...facts, dependencies }).changes).toEqual({
      dropped: ['qty'],
      added: [],
      retyped: ['id'],
      nullability: [],
    });
  });
});

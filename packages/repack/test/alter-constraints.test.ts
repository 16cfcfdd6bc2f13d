import { describe, expect, it } from 'vitest';
import { parseAlterAction, parseAlterActions } from '../src/alter-actions.js';
import { addedConstraints, checkClauses, chooseConstraintName, constraintLines, foreignKeyDefinition, makeObjectName } from '../src/alter-constraint-plan.js';
import { planAlter, shadowAlterSql, type AlterFacts } from '../src/alter-plan.js';
import { col, refusal } from './alter-helpers.js';

const hostile = `Na"me; DROP`;
const facts: AlterFacts = {
  display: 'public.orders',
  table: 'orders',
  columns: [col(1, 'id'), col(2, hostile, 'text'), col(3, 'qty'), col(4, 'customer_id')],
  keyColumns: ['id'],
  dependencies: [],
  columnsWithGrants: [],
  constraintNames: {
    ownConstraints: ['orders_pkey'],
    schemaConstraints: ['orders_pkey', 'orders_qty_key'],
    schemaRelations: ['orders', 'orders_pkey', 'x_key'],
  },
};

describe('ADD CONSTRAINT in --alter', () => {
  it('reads CHECK, UNIQUE and FOREIGN KEY, named or not, with hostile names kept as written', () => {
    expect(parseAlterAction(`ADD CONSTRAINT "${hostile.replace('"', '""')}" CHECK (qty > 0 AND (note <> 'a;b'))`)).toEqual({
      kind: 'add-check',
      name: hostile,
      expression: `qty > 0 AND (note <> 'a;b')`,
      text: `ADD CONSTRAINT "Na""me; DROP" CHECK (qty > 0 AND (note <> 'a;b'))`,
    });
    expect(parseAlterAction('add check (qty > 0)')).toMatchObject({ kind: 'add-check', name: undefined, expression: 'qty > 0' });
    expect(parseAlterAction(`ADD UNIQUE (qty, "${hostile.replace('"', '""')}")`)).toMatchObject({
      kind: 'add-unique',
      name: undefined,
      columns: ['qty', hostile],
    });
    expect(parseAlterAction('ADD CONSTRAINT o_c FOREIGN KEY (customer_id) REFERENCES "Sales".Customers (ID) ON DELETE SET NULL ON UPDATE CASCADE')).toEqual({
      kind: 'add-foreign-key',
      name: 'o_c',
      columns: ['customer_id'],
      references: { schema: 'Sales', name: 'customers' },
      referencedColumns: ['id'],
      onDelete: 'SET NULL',
      onUpdate: 'CASCADE',
      text: 'ADD CONSTRAINT o_c FOREIGN KEY (customer_id) REFERENCES "Sales".Customers (ID) ON DELETE SET NULL ON UPDATE CASCADE',
    });
    expect(parseAlterAction('ADD FOREIGN KEY (a, b) REFERENCES t ON DELETE NO ACTION')).toMatchObject({
      references: { schema: undefined, name: 't' },
      referencedColumns: undefined,
      onDelete: 'NO ACTION',
      onUpdate: undefined,
    });
  });

  it.each([
    ['ADD CONSTRAINT x CHECK (a > 0) NOT VALID', /NOT VALID/],
    ['ADD CHECK (a > 0) NO INHERIT', /NO INHERIT/],
    ['ADD CHECK a > 0', /parenthesized expression/],
    ['ADD CHECK ()', /needs an expression/],
    ['ADD CHECK (a > 0); DROP TABLE t', /without ";"/],
    ['ADD CHECK (a > 0 /* x */)', /comments/],
    ['ADD CHECK ($$x$$ <> a)', /dollar/],
    ['ADD CHECK ((a > 0)', /unbalanced/],
    ['ADD UNIQUE (a, a)', /appears twice/],
    ['ADD UNIQUE a', /parenthesized column list/],
    ['ADD UNIQUE (a) INCLUDE (b)', /INCLUDE/],
    ['ADD UNIQUE NULLS NOT DISTINCT (a)', /parenthesized column list/],
    ['ADD UNIQUE (a) DEFERRABLE', /DEFERRABLE/],
    ['ADD PRIMARY KEY (a)', /PRIMARY KEY/],
    ['ADD CONSTRAINT x EXCLUDE USING gist (a WITH &&)', /EXCLUDE/],
    ['ADD FOREIGN KEY (a) REFERENCES t (a, b)', /1 referencing column\(s\) but 2/],
    ['ADD FOREIGN KEY (a) REFERENCES t MATCH FULL', /MATCH/],
    ['ADD FOREIGN KEY (a) REFERENCES t ON DELETE CASCADE ON DELETE CASCADE', /each at most once/],
    ['ADD FOREIGN KEY (a) REFERENCES t ON DELETE SET NULL (a)', /column list after ON DELETE SET NULL/],
    ['ADD FOREIGN KEY (a) REFERENCES t ON DELETE DROP', /after ON DELETE/],
    ['ADD FOREIGN KEY (a) REFERENCES t NOT VALID', /NOT VALID/],
    ['ADD CONSTRAINT x', /after the constraint name/],
  ])('refuses %j, naming the action and why', (text, why) => {
    const err = refusal(() => parseAlterAction(text));
    expect(err.code).toBe('alter_unsupported');
    expect(err.message).toMatch(why);
    expect(err.message).toContain(JSON.stringify(text.trim()));
  });

  it('names unnamed constraints as PostgreSQL does, numbering past taken names and truncating to 63 bytes', () => {
    expect(chooseConstraintName('orders', ['customer_id'], 'fkey', new Set())).toBe('orders_customer_id_fkey');
    expect(chooseConstraintName('orders', ['qty'], 'key', new Set(['orders_qty_key', 'orders_qty_key1']))).toBe('orders_qty_key2');
    expect(chooseConstraintName('orders', ['a', 'b'], 'key', new Set())).toBe('orders_a_b_key');
    const long = 'x'.repeat(70);
    const name = makeObjectName(long, 'é'.repeat(40), 'key');
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^x+_é+_key$/);
    expect(makeObjectName('t', undefined, 'check')).toBe('t_check');
  });

  it('plans the constraints against the new definition, every name quoted', () => {
    const plan = planAlter(
      parseAlterActions([
        'ADD COLUMN note text',
        `ADD CONSTRAINT "${hostile.replace('"', '""')}" CHECK (qty > 0)`,
        'ADD UNIQUE (qty)',
        'ADD FOREIGN KEY (customer_id) REFERENCES s.customers ON DELETE CASCADE',
        "ADD CHECK (note <> '')",
      ]),
      facts,
    );
    expect(plan.constraints.map((c) => c.name)).toEqual([hostile, 'orders_qty_key1', 'orders_customer_id_fkey', undefined]);
    expect(checkClauses(plan.constraints)).toEqual([`ADD CONSTRAINT "Na""me; DROP" CHECK (qty > 0)`, `ADD CHECK (note <> '')`]);
    expect(shadowAlterSql(plan)).toBe(`ADD COLUMN "note" text, ADD CONSTRAINT "Na""me; DROP" CHECK (qty > 0), ADD CHECK (note <> '')`);
    const fk = plan.constraints[2];
    if (fk?.kind !== 'foreign-key') throw new Error('expected a foreign key');
    expect(foreignKeyDefinition(fk)).toBe('FOREIGN KEY ("customer_id") REFERENCES "s"."customers" ON DELETE CASCADE');
    expect(addedConstraints(plan.constraints, 'table_1')).toEqual({
      checks: [hostile],
      uniques: [{ name: 'orders_qty_key1', index: 'table_1_alter_1' }],
      foreignKeys: [{ name: 'orders_customer_id_fkey', def: 'FOREIGN KEY ("customer_id") REFERENCES "s"."customers" ON DELETE CASCADE' }],
    });
    expect(constraintLines(plan.constraints)[1]).toBe('CONSTRAINT "orders_qty_key1" UNIQUE ("qty") (unique index built with the others, attached at the swap)');
    // Constraint actions alone: no column clause.
    expect(shadowAlterSql(planAlter(parseAlterActions(['ADD UNIQUE (qty)']), facts))).toBeUndefined();
  });

  it.each([
    [['ADD UNIQUE (nope)'], /column "nope" does not exist in the new definition/],
    [['DROP COLUMN qty', 'ADD UNIQUE (qty)'], /column "qty" does not exist in the new definition/],
    [['ADD CONSTRAINT orders_pkey CHECK (qty > 0)'], /constraint "orders_pkey" already exists/],
    [['ADD CONSTRAINT a CHECK (qty > 0)', 'ADD CONSTRAINT a UNIQUE (qty)'], /constraint "a" already exists/],
    [['ADD CONSTRAINT x_key UNIQUE (qty)'], /relation "x_key" already exists/],
  ])('refuses %j against the table', (actions, why) => {
    const err = refusal(() => planAlter(parseAlterActions(actions), facts));
    expect(err.code).toBe('alter_refused');
    expect(err.message).toMatch(why);
  });
});

import { describe, expect, it } from 'vitest';
import type { RenameSwapPlan } from '@pgtools/swap';
import { parseAlterActions } from '../src/alter-actions.js';
import { treeRefusal, type TreeFacts } from '../src/alter-tree-refusal.js';
import { leafSteps, TREE_CHANGED, treeCheckSql } from '../src/alter-tree-steps.js';

const tree = (more: Partial<TreeFacts> = {}): TreeFacts => ({
  oid: 16400,
  schema: 'public',
  name: 'Ev ents',
  display: 'public."Ev ents"',
  leaves: [{ oid: 16401, schema: 'public', name: 'e0', display: 'public.e0' }],
  subPartitioned: [],
  foreign: [],
  defaultPartition: null,
  keyColumns: ['At'],
  foreignKeysOut: [],
  foreignKeysIn: [],
  ...more,
});

describe('treeRefusal', () => {
  const retype = parseAlterActions(['ALTER COLUMN id TYPE bigint']);
  it.each<[string, Partial<TreeFacts>, string[], RegExp | undefined]>([
    ['a plain tree and a retyped key', {}, ['ALTER COLUMN id TYPE bigint'], undefined],
    [
      'added and dropped columns, defaults and NOT NULL',
      {},
      ['ADD COLUMN z int DEFAULT 1', 'DROP COLUMN b', 'ALTER COLUMN a SET DEFAULT 2', 'ALTER COLUMN a SET NOT NULL'],
      undefined,
    ],
    ['a sub-partitioned partition', { subPartitioned: ['public.e9'] }, ['ALTER COLUMN id TYPE bigint'], /partition public\.e9 is partitioned itself/],
    ['a foreign partition', { foreign: ['public.far'] }, ['ALTER COLUMN id TYPE bigint'], /partition public\.far is a foreign table/],
    ['no partition', { leaves: [] }, ['ALTER COLUMN id TYPE bigint'], /it has no partitions: a plain ALTER TABLE changes only the catalog/],
    ['a default partition (attached again last)', { defaultPartition: 'public.rest' }, ['ALTER COLUMN id TYPE bigint'], undefined],
    ['a foreign key of the table', { foreignKeysOut: ['we"ird'] }, ['ALTER COLUMN id TYPE bigint'], /foreign key "we""ird" of the partitioned table/],
    [
      'a foreign key from a partitioned table',
      { foreignKeysIn: [{ table: 'public.p2', partitioned: true, name: 'fk', def: 'FOREIGN KEY (x) REFERENCES e(id)', validated: true, comment: null }] },
      ['ALTER COLUMN id TYPE bigint'],
      /of the partitioned table public\.p2 references it, and cannot be added again NOT VALID/,
    ],
    [
      'a retyped partition key column',
      {},
      ['ALTER COLUMN "At" TYPE timestamptz'],
      /column "At" is in the partition key, whose type PostgreSQL does not let change/,
    ],
    ['a dropped partition key column', {}, ['DROP COLUMN "At"'], /column "At" is in the partition key/],
    ['an added CHECK', {}, ['ADD CONSTRAINT c CHECK (id > 0)'], /adding constraints to a partitioned table is not supported yet/],
  ])('%s', (_, more, alter, expected) => {
    const err = treeRefusal(tree(more), parseAlterActions(alter));
    if (expected === undefined) expect(err).toBeUndefined();
    else {
      expect(err?.code).toBe('alter_refused');
      expect(err?.message).toMatch(/^--alter on public\."Ev ents": /);
      expect(err?.message).toMatch(expected);
      expect(err?.message).toMatch(/nothing was changed$/);
    }
  });
  it('refuses a new column order', () => {
    expect(treeRefusal(tree(), retype, ['id', 'At'])?.message).toMatch(/--column-order on a partitioned table is not supported yet/);
  });
});

describe('treeCheckSql', () => {
  it('compares the partitions by OID and the foreign keys referencing the table by quoted name, with hostile names', () => {
    const sql = treeCheckSql(
      tree({ foreignKeysIn: [{ table: '"Odd""s".x', partitioned: false, name: "it's", def: '', validated: true, comment: null }] }),
      [16403, 16401],
    );
    expect(sql).toMatch(/^DO \$pgtools\$ BEGIN/);
    expect(sql).toContain(`IS DISTINCT FROM '16401,16403'`);
    expect(sql).toContain(`IS DISTINCT FROM '"Odd""s".x.it''s'`);
    expect(sql).toContain(`i.inhparent = 16400::oid`);
    expect(sql).toContain(TREE_CHANGED.replace(/'/g, "''"));
  });
  it('refuses an OID that is not one', () => {
    expect(() => treeCheckSql({ ...tree(), oid: 0 }, [1])).toThrow(/not an OID/);
  });
});

describe('leafSteps', () => {
  const plan = (steps: Array<[string, string, string]>): RenameSwapPlan =>
    ({ original: { schema: 'public', name: 'e0' }, steps: steps.map(([phase, name, sql]) => ({ phase, name, sql })) }) as unknown as RenameSwapPlan;
  it("cuts a leaf's rename swap at the new leaf's ATTACH", () => {
    const cut = leafSteps(
      plan([
        ['check', 'check', 'CHECK'],
        ['swap', 'owner', 'OWNER'],
        ['swap', 'partition', 'DETACH'],
        ['swap', 'rename', 'RENAME'],
        ['swap', 'index', 'INDEX'],
        ['swap', 'partition', 'ATTACH'],
        ['swap', 'partition', 'ATTACH INDEX'],
        ['swap', 'grant', 'GRANT'],
        ['after-commit', 'foreign key', 'VALIDATE'],
      ]),
    );
    expect(cut).toEqual({ check: 'CHECK', detach: ['OWNER', 'DETACH', 'RENAME', 'INDEX'], attach: ['ATTACH', 'ATTACH INDEX', 'GRANT'] });
  });
  it('refuses a plan that moves no partition', () => {
    expect(() =>
      leafSteps(
        plan([
          ['check', 'check', 'CHECK'],
          ['swap', 'rename', 'RENAME'],
        ]),
      ),
    ).toThrow(/does not detach and attach a partition/);
  });
});

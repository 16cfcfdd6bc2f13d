import { describe, expect, it } from 'vitest';
import { foreignKeyTrialSql, type RetypedForeignKey } from '../src/alter-foreign-keys.js';

describe('foreignKeyTrialSql', () => {
  it('builds empty stand-ins with the new types on the altered side and the other side as it is, a unique index, then the foreign key', () => {
    const fk: RetypedForeignKey = {
      name: 'Fk "x"',
      referencing: 'public."Lines"',
      referenced: 'public.orders',
      from: [
        { column: 'order', own: null, type: 'integer' },
        { column: 'Co"de', own: null, type: 'character varying(20)' },
      ],
      to: [
        { column: 'Id "x"', own: 'Id "x"', type: 'integer' },
        { column: 'code', own: 'code', type: 'character varying(20)' },
      ],
    };
    expect(
      foreignKeyTrialSql(
        fk,
        new Map([
          ['Id "x"', 'bigint'],
          ['code', 'text'],
        ]),
        3,
      ),
    ).toEqual([
      'CREATE TEMPORARY TABLE "pgtools_fk_to_3" ("Id ""x""" bigint, "code" text) ON COMMIT DROP',
      'CREATE UNIQUE INDEX ON pg_temp."pgtools_fk_to_3" ("Id ""x""", "code")',
      'CREATE TEMPORARY TABLE "pgtools_fk_from_3" ("order" integer, "Co""de" character varying(20)) ON COMMIT DROP',
      'ALTER TABLE pg_temp."pgtools_fk_from_3" ADD FOREIGN KEY ("order", "Co""de") REFERENCES pg_temp."pgtools_fk_to_3" ("Id ""x""", "code")',
    ]);
  });

  it('a self-reference takes the new types on both sides', () => {
    const fk: RetypedForeignKey = {
      name: 'parent',
      referencing: 't',
      referenced: 't',
      from: [{ column: 'parent', own: 'parent', type: 'integer' }],
      to: [{ column: 'id', own: 'id', type: 'integer' }],
    };
    const sql = foreignKeyTrialSql(fk, new Map([['id', 'numeric']]), 1);
    expect(sql[0]).toBe('CREATE TEMPORARY TABLE "pgtools_fk_to_1" ("id" numeric) ON COMMIT DROP');
    expect(sql[2]).toBe('CREATE TEMPORARY TABLE "pgtools_fk_from_1" ("parent" integer) ON COMMIT DROP');
  });
});

import { describe, expect, it } from 'vitest';
import { indexDefinitionParts } from '../src/index-definitions.js';

describe('indexDefinitionParts', () => {
  const row = (def: string, prefix: string, where: string | null) => ({ schema: 'S"x', name: 'I dx', def, prefix, where_suffix: where });

  it('cuts the leading CREATE ... USING and the predicate, hostile names included', () => {
    const prefix = 'CREATE UNIQUE INDEX "I dx" ON "S""x"."T" USING ';
    expect(indexDefinitionParts(row(`${prefix}btree (a, "B c") WHERE (a > 0)`, prefix, ' WHERE (a > 0)'))).toEqual({
      body: 'btree (a, "B c")',
      where: ' WHERE (a > 0)',
    });
    expect(indexDefinitionParts(row(`${prefix}hash (a)`, prefix, null))).toEqual({ body: 'hash (a)', where: '' });
  });

  it('fails loudly on a text of another shape instead of building another index', () => {
    expect(() => indexDefinitionParts(row('CREATE INDEX other ON t USING btree (a)', 'CREATE INDEX "I dx" ON t USING ', null))).toThrow(
      /pg_get_indexdef of "S""x"."I dx" does not start with the expected/,
    );
    expect(() => indexDefinitionParts(row('CREATE INDEX i ON t USING btree (a)', 'CREATE INDEX i ON t USING ', ' WHERE (a > 0)'))).toThrow(
      /does not end with its predicate/,
    );
  });
});

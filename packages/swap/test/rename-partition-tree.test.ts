import { describe, expect, it } from 'vitest';
import { partitionBlockers } from '../src/rename-partition.js';
import type { RenameTableFacts } from '../src/rename-facts.js';
import { attachedFacts, renameFacts } from './rename-facts-fixture.js';

/** The fixture as a leaf of "Pa rt"."Par ""ent""" next to a default partition, with inherited foreign keys both ways. */
const leaf = (over: { parentOwned?: boolean } = {}): RenameTableFacts => {
  const attached = attachedFacts({
    table: { ...renameFacts().original, isPartition: true },
    partition: {
      parentOid: 16300,
      parentSchema: 'Pa rt',
      parentName: 'Par "ent"',
      parentOwned: over.parentOwned ?? true,
      bound: `FOR VALUES FROM ('1') TO ('1000')`,
      constraint: `(("Id ""x""" IS NOT NULL) AND ("Id ""x""" >= 1) AND ("Id ""x""" < 1000))`,
      otherDefault: '"Pa rt"."De fault"',
      indexParents: [],
    },
  });
  attached.foreignKeysIn = [
    ...attached.foreignKeysIn,
    { schema: 'o', table: 'refs', name: 'to "parted"', def: 'FOREIGN KEY (x) REFERENCES p(id)', validated: true, comment: null, inherited: true },
  ];
  return attached;
};

describe('partitionBlockers with the whole tree swapped (partitionTree)', () => {
  it('leaves the default partition and the foreign keys referencing the partitioned table to the caller', () => {
    const alone = partitionBlockers(leaf());
    expect(alone).toEqual([
      expect.stringMatching(/^the partitioned table "Pa rt"\."Par ""ent""" has a default partition "Pa rt"\."De fault"/),
      expect.stringMatching(/^foreign key "to ""parted""" of "o"\."refs" references "Pa rt"\."Par ""ent"""/),
    ]);
    expect(partitionBlockers(leaf(), true)).toEqual([]);
  });

  it('still needs the partitioned table owned', () => {
    expect(partitionBlockers(leaf({ parentOwned: false }), true)).toEqual([
      'the current role does not own the partitioned table "Pa rt"."Par ""ent""", which detaching and attaching the partition needs',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import {
  renameBlockers,
  renameShadowStatements,
  renameSwapRefusal,
  renameSwapSteps,
  type RenameDependent,
  type RenameFacts,
  type RenameStepOptions,
  type RenameSwapStep,
} from '../src/index.js';
import {
  attachedFacts,
  CODE_NOT_VALID,
  ID_NOT_NULL,
  notValidCheckFacts,
  ORIGINAL_OID,
  renameFacts,
  ROLE_DOT,
  ROLE_QUOTE,
  ROLE_UPPER,
  SCHEMA,
  SHADOW,
  SHADOW_OID,
  SHADOW_SCHEMA,
  TABLE,
} from './rename-facts-fixture.js';

const T = '"Sch ""é"".x"."It ems.Ü"';
const options: RenameStepOptions = { excludeTriggers: ['capture'] };
const swapSql = (facts: RenameFacts = renameFacts(), opts: RenameStepOptions = options): string[] =>
  renameSwapSteps(facts, opts)
    .steps.filter((s) => s.phase === 'swap')
    .map((s) => s.sql);
const named = (steps: RenameSwapStep[], name: RenameSwapStep['name']): string[] => steps.filter((s) => s.name === name).map((s) => s.sql);
const refusal = (facts: RenameFacts, opts: RenameStepOptions = {}): PgToolsError => {
  const decision = renameSwapRefusal(facts, opts);
  if (!(decision instanceof PgToolsError)) throw new Error('expected a refusal');
  return decision;
};
const dependent = (over: Partial<RenameDependent>): RenameDependent => ({
  classid: 'pg_class',
  objid: 1,
  deptype: 'n',
  what: 'something',
  relkind: null,
  conRel: null,
  conFrel: null,
  contype: null,
  conOwned: null,
  tgRel: null,
  rwClass: null,
  rwRelkind: null,
  rwName: null,
  rwOwned: null,
  polRel: null,
  stxRel: null,
  prRel: null,
  pubOwned: null,
  pubName: null,
  adRel: null,
  refIsType: false,
  ...over,
});

/** The fixture as a leaf partition of "Pa rt"."Par ""ent""" (OID 16300), its shadow with the partition constraint. */
const partitionFacts = (
  over: {
    otherDefault?: string;
    fkOut?: { name: string; inherited: boolean };
    fkIn?: { schema: string; table: string; name: string; inherited: boolean };
    bound?: string;
    constraint?: string | null;
  } = {},
): RenameFacts => {
  const base = renameFacts();
  const original = { ...base.original, isPartition: true };
  const constraint =
    over.constraint === undefined ? `(("Id ""x""" IS NOT NULL) AND ("Id ""x""" >= '1'::bigint) AND ("Id ""x""" < '1000'::bigint))` : over.constraint;
  const attached = attachedFacts({
    table: original,
    inheritance: [{ role: 'child', other: '"Pa rt"."Par ""ent"""' }],
    partition: {
      parentOid: 16300,
      parentSchema: 'Pa rt',
      parentName: 'Par "ent"',
      parentOwned: true,
      bound: over.bound ?? `FOR VALUES FROM ('1') TO ('1000')`,
      constraint,
      otherDefault: over.otherDefault ?? null,
      indexParents: [
        { index: 16430, parent: '"Pa rt"."Par_pkey"' },
        { index: 16432, parent: '"Pa rt"."par_lower"' },
      ],
    },
    triggers: [...attachedFacts().triggers, { name: 'Cloned', def: 'CREATE TRIGGER "Cloned" ...', enabled: 'O', comment: null, inherited: true }],
  });
  if (over.fkOut)
    attached.foreignKeysOut = [...attached.foreignKeysOut, { ...over.fkOut, def: 'FOREIGN KEY (cat) REFERENCES x(id)', validated: true, comment: null }];
  if (over.fkIn)
    attached.foreignKeysIn = [...attached.foreignKeysIn, { ...over.fkIn, def: 'FOREIGN KEY (i) REFERENCES x(id)', validated: true, comment: null }];
  const bound = constraint === null ? [] : [{ name: `pgtools_partition_bound_${ORIGINAL_OID}`, def: `CHECK ${constraint}` }];
  // The leaf's identity is its partitioned table's (PostgreSQL 17+): the shadow has none, the ATTACH gives it.
  attached.identitySequences = [];
  return renameFacts({
    original,
    attached,
    columns: { original: base.columns.original, shadow: base.columns.shadow.map((c) => ({ ...c, identity: '' })) },
    shadowIdentitySequences: [],
    shadowConstraints: { ...base.shadowConstraints, checks: [...base.shadowConstraints.checks, ...bound] },
  });
};

describe('renameSwapSteps', () => {
  it('orders the phases: the check first, then the swap, then what runs after the commit', () => {
    const { steps } = renameSwapSteps(renameFacts(), { ...options, foreignKeyValidation: 'after-commit' });
    expect(steps[0]).toMatchObject({ name: 'check', phase: 'check' });
    expect(steps.filter((s) => s.phase === 'check')).toHaveLength(1);
    const phases = steps.map((s) => s.phase);
    expect(phases.lastIndexOf('swap')).toBeLessThan(phases.indexOf('after-commit'));
    expect(steps.filter((s) => s.phase === 'after-commit')).toEqual([
      { name: 'foreign key', phase: 'after-commit', sql: `ALTER TABLE ${T} VALIDATE CONSTRAINT "Cat.fk"` },
    ]);
    // By default the foreign keys are validated inside the transaction.
    expect(swapSql()).toContain(`ALTER TABLE ${T} VALIDATE CONSTRAINT "Cat.fk"`);
    expect(renameSwapSteps(renameFacts(), options).steps.some((s) => s.phase === 'after-commit')).toBe(false);
  });

  it('checks the lock on both tables and the fingerprint, as a literal', () => {
    const check = renameSwapSteps(renameFacts({ fingerprint: "ab'c" }), options).steps[0]!.sql;
    expect(check).toContain(`l.relation IN (${ORIGINAL_OID}::pg_catalog.oid, ${SHADOW_OID}::pg_catalog.oid)`);
    expect(check).toContain(`IS DISTINCT FROM 'ab''c' THEN`);
    expect(check).toMatch(/^DO \$pgtools\$ BEGIN[\s\S]*END \$pgtools\$$/);
  });

  it('quotes hostile schema, table, index, constraint, sequence and statistics names through the trade of places', () => {
    const sql = swapSql();
    const trade = [
      `ALTER TABLE "pg tools"."Shadow ""1""" RENAME TO "pgtools_swap_new_${SHADOW_OID}"`,
      `ALTER TABLE "pg tools"."pgtools_swap_new_${SHADOW_OID}" SET SCHEMA "Sch ""é"".x"`,
      `ALTER TABLE ${T} RENAME TO "pgtools_swap_old_${ORIGINAL_OID}"`,
      `ALTER TABLE "Sch ""é"".x"."pgtools_swap_new_${SHADOW_OID}" RENAME TO "It ems.Ü"`,
      // Serial sequences are re-owned between the two moves, so neither leaves its schema.
      `ALTER SEQUENCE "Sch ""é"".x"."It ems.Ü_s.id_seq" OWNED BY ${T}."s.id"`,
      `ALTER TABLE "Sch ""é"".x"."pgtools_swap_old_${ORIGINAL_OID}" SET SCHEMA "pg tools"`,
      `ALTER TABLE "pg tools"."pgtools_swap_old_${ORIGINAL_OID}" RENAME TO "Shadow ""1"""`,
    ];
    const at = sql.indexOf(trade[0]!);
    expect(at).toBeGreaterThan(0);
    expect(sql.slice(at, at + trade.length)).toEqual(trade);
    // Before the trade: the old names move out of the way.
    expect(sql.slice(0, at)).toEqual([
      `ALTER PUBLICATION "Pub ""1""" DROP TABLE ${T}`,
      `ALTER TABLE "Oth er"."Ref""s" DROP CONSTRAINT "Ref ""fk"""`,
      `ALTER TABLE ${T} DROP CONSTRAINT "Cat.fk"`,
      `ALTER INDEX "Sch ""é"".x"."PK ""c""" RENAME TO "pgtools_old_16430"`,
      `ALTER INDEX "Sch ""é"".x"."U.idx" RENAME TO "pgtools_old_16431"`,
      `ALTER INDEX "Sch ""é"".x"."Idx ""lower""" RENAME TO "pgtools_old_16432"`,
      `ALTER SEQUENCE "Sch ""é"".x"."It ems.Ü_Id ""x""_seq" RENAME TO "pgtools_old_16411"`,
      `ALTER STATISTICS "Sch ""é"".x"."St ""1""" RENAME TO "pgtools_old_16420"`,
    ]);
    // After it: constraints take the index copies, indexes the original names.
    expect(sql).toContain(`ALTER TABLE ${T} ADD CONSTRAINT "PK ""c""" PRIMARY KEY USING INDEX "index_16430"`);
    expect(sql).toContain(`ALTER TABLE ${T} ADD CONSTRAINT "U ""con""" UNIQUE USING INDEX "index_16431" DEFERRABLE INITIALLY DEFERRED`);
    expect(sql).toContain(`ALTER INDEX "Sch ""é"".x"."U ""con""" RENAME TO "U.idx"`);
    expect(sql).toContain(`ALTER INDEX "Sch ""é"".x"."index_16432" RENAME TO "Idx ""lower"""`);
    expect(sql).toContain(`ALTER INDEX "Sch ""é"".x"."Idx ""lower""" ALTER COLUMN 1 SET STATISTICS 300`);
    expect(sql).toContain(`COMMENT ON CONSTRAINT "Code ""chk""" ON ${T} IS 'chk c'`);
    expect(sql).toContain(`ALTER TABLE ${T} REPLICA IDENTITY USING INDEX "U.idx"`);
    expect(sql).toContain(`ALTER TABLE ${T} CLUSTER ON "Idx ""lower"""`);
    expect(sql).toContain(`ALTER STATISTICS "pg tools"."Shadow ""1""_cat_parent_stat" SET SCHEMA "Sch ""é"".x"`);
    expect(sql).toContain(`ALTER STATISTICS "Sch ""é"".x"."Shadow ""1""_cat_parent_stat" RENAME TO "St ""1"""`);
  });

  it('in one schema: no SET SCHEMA, and no owner change when the shadow has the same owner', () => {
    const facts = renameFacts();
    facts.shadow = { ...facts.shadow, schema: SCHEMA };
    const sql = swapSql(facts);
    expect(sql.filter((s) => s.includes('SET SCHEMA') && s.startsWith('ALTER TABLE'))).toEqual([]);
    expect(sql.some((s) => s.includes('OWNER TO'))).toBe(false);
  });

  it('gives the shadow the original owner first when they differ', () => {
    const facts = renameFacts();
    facts.shadow = { ...facts.shadow, ownerOid: 99, owner: 'other' };
    expect(renameSwapSteps(facts, options).steps[1]).toEqual({
      name: 'owner',
      phase: 'swap',
      sql: `ALTER TABLE "pg tools"."Shadow ""1""" OWNER TO "Own ""er"""`,
    });
  });

  it('re-binds views over the table with CREATE OR REPLACE, keeping their options', () => {
    const { steps, moved } = renameSwapSteps(renameFacts(), options);
    expect(named(steps, 'view')).toEqual([
      `CREATE OR REPLACE VIEW "Vü.s"."V ""1""" WITH ("security_barrier" = 'true') AS SELECT "It ems.Ü"."Id ""x""" FROM ${T}`,
      'CREATE OR REPLACE VIEW "public"."plain" AS SELECT 1',
    ]);
    expect(moved.views).toEqual(['"Vü.s"."V ""1"""', 'public.plain']);
  });

  it('re-creates RLS flags and policies for PUBLIC and several roles, with comments', () => {
    const { steps, moved } = renameSwapSteps(renameFacts(), options);
    expect(named(steps, 'row security')).toEqual([`ALTER TABLE ${T} ENABLE ROW LEVEL SECURITY`, `ALTER TABLE ${T} FORCE ROW LEVEL SECURITY`]);
    expect(named(steps, 'policy')).toEqual([
      `CREATE POLICY "Pol ""all""" ON ${T} AS PERMISSIVE FOR ALL TO PUBLIC USING (true)`,
      `CREATE POLICY "pol.r" ON ${T} AS RESTRICTIVE FOR SELECT TO "Rö ""le""", "r.dot" USING (("Code" <> 'c3'::text))`,
      `CREATE POLICY "Ins Ü" ON ${T} AS PERMISSIVE FOR INSERT TO "UPPER" WITH CHECK ((cat > 0))`,
    ]);
    expect(named(steps, 'comment')).toContain(`COMMENT ON POLICY "Ins Ü" ON ${T} IS E'it''s \\\\ a policy'`);
    expect(moved.policies).toEqual(['Pol "all"', 'pol.r', 'Ins Ü']);
    const noRls = renameFacts({ attached: attachedFacts({ rowSecurity: false, forceRowSecurity: false, policies: [] }) });
    expect(named(renameSwapSteps(noRls, options).steps, 'row security')).toEqual([]);
  });

  it('refuses a policy command it does not know', () => {
    const attached = attachedFacts();
    attached.policies = [{ ...attached.policies[0]!, cmd: 'z' }];
    expect(() => renameSwapSteps(renameFacts({ attached }), options)).toThrow(expect.objectContaining({ code: 'rename_swap_failed' }));
  });

  it('copies grants to several roles, PUBLIC and WITH GRANT OPTION, after revoking what the shadow had', () => {
    const { steps, moved } = renameSwapSteps(renameFacts(), options);
    expect(named(steps, 'grant')).toEqual([
      `REVOKE ALL ON TABLE ${T} FROM "UPPER"`,
      `REVOKE ALL ON TABLE ${T} FROM "Own ""er"""`,
      `GRANT SELECT ON TABLE ${T} TO "Own ""er"""`,
      `GRANT SELECT ON TABLE ${T} TO PUBLIC`,
      `GRANT UPDATE ON TABLE ${T} TO "Rö ""le""" WITH GRANT OPTION`,
      `GRANT INSERT ON TABLE ${T} TO "r.dot"`,
      `GRANT INSERT ON TABLE ${T} TO "UPPER"`,
      `GRANT SELECT ("Code") ON TABLE ${T} TO "UPPER" WITH GRANT OPTION`,
      `GRANT UPDATE ("ü") ON TABLE ${T} TO PUBLIC`,
    ]);
    expect(moved.grants).toBe(7);
    expect([ROLE_QUOTE, ROLE_DOT, ROLE_UPPER].every((r) => named(steps, 'grant').some((s) => s.includes(`"${r.replace(/"/g, '""')}"`)))).toBe(true);
  });

  it('with no ACL on the original: nothing to do on a clean shadow, the owner default where default privileges granted some', () => {
    const clean = renameFacts({ attached: attachedFacts({ tableAclIsNull: true, tableGrants: [], columnGrants: [] }), shadowGrantees: [] });
    expect(named(renameSwapSteps(clean, options).steps, 'grant')).toEqual([]);
    const defaults = renameFacts({ attached: attachedFacts({ tableAclIsNull: true, tableGrants: [], columnGrants: [] }), shadowGrantees: [null, ROLE_DOT] });
    expect(named(renameSwapSteps(defaults, options).steps, 'grant')).toEqual([
      `REVOKE ALL ON TABLE ${T} FROM PUBLIC`,
      `REVOKE ALL ON TABLE ${T} FROM "r.dot"`,
      `REVOKE ALL ON TABLE ${T} FROM "Own ""er"""`,
      `GRANT ALL ON TABLE ${T} TO "Own ""er"""`,
    ]);
  });

  it("copies PostgreSQL 17's MAINTAIN privilege", () => {
    const attached = attachedFacts({ tableGrants: [{ grantee: null, privilege: 'MAINTAIN', grantable: false }] });
    expect(named(renameSwapSteps(renameFacts({ attached }), options).steps, 'grant')).toContain(`GRANT MAINTAIN ON TABLE ${T} TO PUBLIC`);
  });

  it('refuses a privilege it does not know', () => {
    const attached = attachedFacts({ tableGrants: [{ grantee: null, privilege: 'MAINTAIN; DROP', grantable: false }] });
    expect(() => renameSwapSteps(renameFacts({ attached }), options)).toThrow(expect.objectContaining({ code: 'rename_swap_failed' }));
  });

  it('continues identity columns from the old sequence and gives the new one its name; re-owns serial sequences', () => {
    const { steps, moved } = renameSwapSteps(renameFacts(), options);
    const seq = named(steps, 'sequence');
    expect(seq[0]).toBe(`ALTER SEQUENCE "Sch ""é"".x"."It ems.Ü_Id ""x""_seq" RENAME TO "pgtools_old_16411"`);
    expect(seq.slice(2)).toEqual([
      `SELECT pg_catalog.setval(16511::pg_catalog.oid::pg_catalog.regclass, s.v, true)
         FROM (SELECT pg_catalog.pg_sequence_last_value(16411::pg_catalog.oid::pg_catalog.regclass) AS v) s WHERE s.v IS NOT NULL`,
      // SET SCHEMA carried the new table's identity sequence into the original's schema.
      `ALTER SEQUENCE "Sch ""é"".x"."Shadow ""1""_Id ""x""_seq" RENAME TO "It ems.Ü_Id ""x""_seq"`,
    ]);
    expect(moved.identityContinued).toEqual(['Id "x"']);
    expect(moved.sequencesReowned).toEqual(['"Sch ""é"".x"."It ems.Ü_s.id_seq"']);
    const lost = renameFacts({ shadowIdentitySequences: [] });
    expect(() => renameSwapSteps(lost, options)).toThrow(expect.objectContaining({ code: 'rename_swap_failed' }));
  });

  it('recreates triggers but the excluded ones, with their enabled state and comments', () => {
    const { steps, moved } = renameSwapSteps(renameFacts(), options);
    expect(named(steps, 'trigger')).toEqual([
      `CREATE TRIGGER "Trg ""a""" BEFORE INSERT ON ${T} FOR EACH ROW EXECUTE FUNCTION "Sch ""é"".x".f()`,
      'CREATE TRIGGER "Trg.r" ...',
      `ALTER TABLE ${T} ENABLE REPLICA TRIGGER "Trg.r"`,
    ]);
    expect(moved.triggers).toEqual(['Trg "a"', 'Trg.r']);
    expect(moved.triggers).not.toContain('capture');
    expect(named(renameSwapSteps(renameFacts(), {}).steps, 'trigger')).toContain(`ALTER TABLE ${T} ENABLE ALWAYS TRIGGER "capture"`);
  });

  it('re-adds foreign keys both ways (validated ones NOT VALID, then validated) and rejoins publications', () => {
    const { steps, moved } = renameSwapSteps(renameFacts(), options);
    expect(named(steps, 'foreign key').slice(2)).toEqual([
      `ALTER TABLE ${T} ADD CONSTRAINT "Cat.fk" FOREIGN KEY (cat) REFERENCES "Sch ""é"".x"."Cat ""1"""(id) NOT VALID`,
      `ALTER TABLE "Oth er"."Ref""s" ADD CONSTRAINT "Ref ""fk""" FOREIGN KEY (item) REFERENCES ${T}("Id ""x""") NOT VALID`,
      `ALTER TABLE ${T} VALIDATE CONSTRAINT "Cat.fk"`,
    ]);
    expect(moved.foreignKeysIn).toEqual(['"Oth er"."Ref""s".Ref "fk"']);
    expect(named(steps, 'publication')[1]).toBe(`ALTER PUBLICATION "Pub ""1""" ADD TABLE ONLY ${T} ("Id ""x""", "Code") WHERE (("Id ""x""" > 0))`);
  });

  it('copies settings: reloptions (resetting the shadow extras), column targets, user options and comments', () => {
    const { steps } = renameSwapSteps(renameFacts(), options);
    expect(named(steps, 'reloptions')).toEqual([
      `ALTER TABLE ${T} RESET ("parallel_workers", toast."vacuum_truncate")`,
      `ALTER TABLE ${T} SET ("fillfactor" = '80', toast."autovacuum_enabled" = 'false')`,
    ]);
    expect(named(steps, 'column')).toEqual([
      `ALTER TABLE ${T} ALTER COLUMN "Code" SET STATISTICS 500`,
      `ALTER TABLE ${T} ALTER COLUMN "Code" SET ("n_distinct" = '5')`,
    ]);
    expect(named(steps, 'comment')).toContain(`COMMENT ON COLUMN ${T}."Id ""x""" IS NULL`);
    expect(named(steps, 'comment')).toContain(`COMMENT ON TABLE ${T} IS 'tab'`);
  });

  it('sets no statistics target where the server keeps NULL for the default (PostgreSQL 17+)', () => {
    const attached = attachedFacts();
    attached.columns = attached.columns.map((c) => ({ ...c, statTarget: null }));
    attached.statistics = attached.statistics.map((s) => ({ ...s, target: null }));
    const sql = swapSql(renameFacts({ attached }));
    expect(sql.filter((s) => /SET STATISTICS/.test(s) && !s.startsWith('ALTER INDEX'))).toEqual([]);
    expect(sql.some((s) => /\bnull\b/.test(s))).toBe(false);
  });

  it('gives NOT NULL constraints (PostgreSQL 18) the original names, paired by column, and adds NOT VALID ones, before the comments name them', () => {
    const attached = attachedFacts({
      notNulls: [
        ID_NOT_NULL,
        { name: 'Code nn', column: 'Code', def: 'NOT NULL "Code" NO INHERIT', validated: true },
        { name: 's nn', column: 's.id', def: 'NOT NULL "s.id" NOT VALID', validated: false },
      ],
      constraintComments: [
        { name: 'Code nn', comment: 'nn c' },
        { name: 's nn', comment: 'from now on' },
      ],
    });
    const facts = renameFacts({
      attached,
      shadowConstraints: {
        checks: [{ name: 'Code "chk"', def: `CHECK ("Code" <> ''::text)` }],
        notNulls: [{ name: 'Shadow "1"_Code_not_null', column: 'Code', def: 'NOT NULL "Code" NO INHERIT', validated: true }, ID_NOT_NULL],
        other: [],
      },
    });
    // PostgreSQL 18 marks a column with a NOT VALID NOT NULL constraint attnotnull; the shadow has none on it.
    const notNull = (cols: RenameFacts['columns']['original'], names: string[]) => cols.map((c) => (names.includes(c.name) ? { ...c, notNull: true } : c));
    facts.columns = { original: notNull(facts.columns.original, ['Code', 's.id']), shadow: notNull(facts.columns.shadow, ['Code']) };
    const sql = swapSql(facts);
    const rename = `ALTER TABLE ${T} RENAME CONSTRAINT "Shadow ""1""_Code_not_null" TO "Code nn"`;
    const add = `ALTER TABLE ${T} ADD CONSTRAINT "s nn" NOT NULL "s.id" NOT VALID`;
    const comments = [`COMMENT ON CONSTRAINT "Code nn" ON ${T} IS 'nn c'`, `COMMENT ON CONSTRAINT "s nn" ON ${T} IS 'from now on'`];
    const at = sql.indexOf(rename);
    expect(at).toBeGreaterThan(sql.indexOf(`ALTER TABLE "Sch ""é"".x"."pgtools_swap_new_${SHADOW_OID}" RENAME TO "It ems.Ü"`));
    expect(sql.slice(at, at + 4)).toEqual([rename, add, ...comments]);
    // A NOT NULL constraint that already has its name is left alone.
    expect(sql.filter((s) => s.includes('RENAME CONSTRAINT'))).toEqual([rename]);
    expect(renameSwapSteps(facts, options).moved.constraints).toContain('s nn');
  });

  it('adds NOT VALID CHECKs at the swap as they were (name, NO INHERIT, NOT VALID: no scan), before the comments name them', () => {
    const facts = notValidCheckFacts();
    const sql = swapSql(facts);
    const add = `ALTER TABLE ${T} ADD CONSTRAINT "Code ""nv""" CHECK (("Code" <> 'x'::text)) NO INHERIT NOT VALID`;
    const at = sql.indexOf(add);
    expect(at).toBeGreaterThan(sql.indexOf(`ALTER TABLE "Sch ""é"".x"."pgtools_swap_new_${SHADOW_OID}" RENAME TO "It ems.Ü"`));
    expect(sql.slice(at, at + 3)).toEqual([
      add,
      `COMMENT ON CONSTRAINT "Code ""chk""" ON ${T} IS 'chk c'`,
      `COMMENT ON CONSTRAINT "Code ""nv""" ON ${T} IS 'new rows only'`,
    ]);
    // Validated CHECKs are on the shadow already; nothing validates the NOT VALID one, inside or after the commit.
    expect(sql.filter((s) => s.includes('ADD CONSTRAINT "Code'))).toEqual([add]);
    const later = renameSwapSteps(facts, { ...options, foreignKeyValidation: 'after-commit' }).steps;
    expect([...sql, ...later.map((s) => s.sql)].filter((s) => s.includes('VALIDATE CONSTRAINT "Code'))).toEqual([]);
    expect(renameSwapSteps(facts, options).moved.constraints).toContain(CODE_NOT_VALID.name);
    // A partition's go before the ATTACH, which wants the partitioned table's CHECKs on the new leaf.
    const part = partitionFacts();
    part.attached = { ...part.attached, checks: [...part.attached.checks, CODE_NOT_VALID] };
    const partSql = swapSql(part);
    expect(partSql.indexOf(add)).toBeGreaterThan(-1);
    expect(partSql.indexOf(add)).toBeLessThan(partSql.findIndex((s) => s.includes('ATTACH PARTITION')));
  });

  it('re-adds a NOT VALID foreign key NOT VALID and never validates it, inside or after the commit', () => {
    const attached = attachedFacts();
    attached.foreignKeysOut = [
      ...attached.foreignKeysOut,
      { name: 'Old fk', def: `FOREIGN KEY (cat) REFERENCES "Sch ""é"".x"."Cat ""1"""(id) NOT VALID`, validated: false, comment: null, inherited: false },
    ];
    for (const foreignKeyValidation of ['inside', 'after-commit'] as const) {
      const { steps } = renameSwapSteps(renameFacts({ attached }), { ...options, foreignKeyValidation });
      expect(steps.filter((s) => s.sql.includes('"Old fk"')).map((s) => s.sql)).toEqual([
        `ALTER TABLE ${T} DROP CONSTRAINT "Old fk"`,
        `ALTER TABLE ${T} ADD CONSTRAINT "Old fk" FOREIGN KEY (cat) REFERENCES "Sch ""é"".x"."Cat ""1"""(id) NOT VALID`,
      ]);
      // The fixture's NOT VALID foreign key into the table is not validated either.
      expect(steps.filter((s) => s.sql.includes('VALIDATE')).map((s) => s.sql)).toEqual([`ALTER TABLE ${T} VALIDATE CONSTRAINT "Cat.fk"`]);
    }
  });

  it('swaps a partition by detaching the old leaf and attaching the new one, its indexes to the partitioned ones, then drops the bound CHECK', () => {
    const facts = partitionFacts();
    const { steps } = renameSwapSteps(facts, options);
    const check = steps[0]!.sql;
    expect(check).toContain(`l.relation = 16300::pg_catalog.oid) THEN`);
    const sql = steps.filter((s) => s.phase === 'swap').map((s) => s.sql);
    const parent = '"Pa rt"."Par ""ent"""';
    const detach = `ALTER TABLE ${parent} DETACH PARTITION ${T}`;
    // First (the fixture's tables have one owner), before anything is renamed or dropped.
    expect(sql[0]).toBe(detach);
    const attach = [
      `ALTER TABLE ${parent} ATTACH PARTITION ${T} FOR VALUES FROM ('1') TO ('1000')`,
      `ALTER INDEX "Pa rt"."Par_pkey" ATTACH PARTITION "Sch ""é"".x"."PK ""c"""`,
      `ALTER INDEX "Pa rt"."par_lower" ATTACH PARTITION "Sch ""é"".x"."Idx ""lower"""`,
      `ALTER TABLE ${T} DROP CONSTRAINT "pgtools_partition_bound_${ORIGINAL_OID}"`,
    ];
    const at = sql.indexOf(attach[0]!);
    expect(sql.slice(at, at + attach.length)).toEqual(attach);
    // After the constraints took the index copies (ATTACH looks for them), before the triggers.
    expect(at).toBeGreaterThan(sql.indexOf(`ALTER TABLE ${T} ADD CONSTRAINT "PK ""c""" PRIMARY KEY USING INDEX "index_16430"`));
    expect(at).toBeLessThan(sql.findIndex((s) => s.startsWith('CREATE TRIGGER')));
    // The trigger cloned from the partitioned table comes with the ATTACH: only its state is set.
    expect(sql.filter((s) => s.includes('"Cloned"'))).toEqual([`ALTER TABLE ${T} ENABLE TRIGGER "Cloned"`]);
    expect(named(steps, 'partition')).toHaveLength(5);
    // The shadow: no identity of its own (the ATTACH gives the partitioned table's), the partition constraint as a CHECK.
    const shadowSql = renameShadowStatements(facts.attached, { schema: SHADOW_SCHEMA, name: SHADOW }, 'ts');
    expect(shadowSql[0]).toContain('INCLUDING GENERATED INCLUDING STORAGE');
    expect(shadowSql).toContain(
      `ALTER TABLE "pg tools"."Shadow ""1""" ADD CONSTRAINT "pgtools_partition_bound_${ORIGINAL_OID}" CHECK ((("Id ""x""" IS NOT NULL) AND ("Id ""x""" >= '1'::bigint) AND ("Id ""x""" < '1000'::bigint)))`,
    );
  });

  it('a lone default partition has no partition constraint: no CHECK to drop', () => {
    const facts = partitionFacts({ bound: 'DEFAULT', constraint: null });
    facts.shadowConstraints = { ...facts.shadowConstraints, checks: facts.shadowConstraints.checks.filter((c) => !c.name.startsWith('pgtools_')) };
    const sql = swapSql(facts);
    expect(sql).toContain(`ALTER TABLE "Pa rt"."Par ""ent""" ATTACH PARTITION ${T} DEFAULT`);
    expect(sql.some((s) => s.includes('pgtools_partition_bound'))).toBe(false);
  });

  it('works from facts that went through JSON', () => {
    const facts = renameFacts();
    expect(renameSwapSteps(JSON.parse(JSON.stringify(facts)) as RenameFacts, options)).toEqual(renameSwapSteps(facts, options));
  });
});

describe('renameSwapRefusal', () => {
  it('accepts the fixture and resolves its pairs', () => {
    const decision = renameSwapRefusal(renameFacts(), options);
    expect(decision).not.toBeInstanceOf(PgToolsError);
  });

  it('refuses a partition it cannot detach and attach again cheaply, saying why, and so does the builder', () => {
    const facts = partitionFacts({
      otherDefault: '"Pa rt".def',
      fkOut: { name: 'Fk "p"', inherited: true },
      fkIn: { schema: 'o', table: 'refs', name: 'to parted', inherited: true },
    });
    const err = refusal(facts);
    expect(err.code).toBe('rename_swap_unsupported');
    expect(err.message).toBe(
      `the rename swap cannot move everything attached to "Sch ""é"".x"."It ems.Ü": ` +
        `the partitioned table "Pa rt"."Par ""ent""" has a default partition "Pa rt".def, which attaching the new partition would scan under ACCESS EXCLUSIVE (detach "Pa rt".def first, or repack it alone); ` +
        `foreign key "Fk ""p""" comes from "Pa rt"."Par ""ent""", and attaching the new partition would validate it under ACCESS EXCLUSIVE; ` +
        `foreign key "to parted" of "o"."refs" references "Pa rt"."Par ""ent""", and detaching the partition would check every referenced row under ACCESS EXCLUSIVE. ` +
        'Use --swap=catalog as a superuser',
    );
    expect(() => renameSwapSteps(facts, options)).toThrow(err.message);
    // A partition whose partitioned table could not be read, and a shadow without the partition constraint.
    // The role must own the partitioned table too: DETACH and ATTACH need it.
    const notOwned = partitionFacts();
    const part = notOwned.attached.partition;
    if (part === null) throw new Error('expected a partition');
    notOwned.attached = { ...notOwned.attached, partition: { ...part, parentOwned: false } };
    expect(refusal(notOwned).message).toContain(
      'the current role does not own the partitioned table "Pa rt"."Par ""ent""", which detaching and attaching the partition needs',
    );
    const unread = partitionFacts();
    unread.attached = { ...unread.attached, partition: null };
    expect(refusal(unread).message).toContain(
      'the table is a partition whose partitioned table could not be read; the table inherits from "Pa rt"."Par ""ent"""',
    );
    const noBound = partitionFacts();
    noBound.shadowConstraints = { ...noBound.shadowConstraints, checks: noBound.shadowConstraints.checks.filter((c) => !c.name.startsWith('pgtools_')) };
    expect(refusal(noBound)).toMatchObject({ code: 'swap_precondition' });
    expect(refusal(noBound).message).toContain(`the shadow has no CHECK "pgtools_partition_bound_${ORIGINAL_OID}" of the partition constraint`);
  });

  it('refuses typed tables, inheritance, extension members and subscriptions', () => {
    const t = attachedFacts().table;
    expect(
      renameBlockers(
        attachedFacts({
          table: { ...t, ofType: 123 },
          inheritance: [{ role: 'parent', other: 'app.child' }],
          extensions: ['extension postgis'],
          subscriptions: ['"Sub 1"'],
        }),
      ),
    ).toEqual([
      'the table is a typed table (CREATE TABLE ... OF type)',
      'table app.child inherits from the table',
      'the table belongs to extension postgis',
      'the table is replicated into by subscription "Sub 1"',
    ]);
  });

  it('classifies dependents: what it moves passes, the rest refuses, helper tables are ignored', () => {
    const self = ORIGINAL_OID;
    const dependents = [
      dependent({ classid: 'pg_class', objid: 1, relkind: 'i' }),
      dependent({ classid: 'pg_attrdef', adRel: self }),
      dependent({ classid: 'pg_constraint', conRel: self, contype: 'c' }),
      dependent({ classid: 'pg_constraint', conRel: 77, conFrel: self, contype: 'f', conOwned: true }),
      dependent({ classid: 'pg_trigger', tgRel: self }),
      dependent({ classid: 'pg_rewrite', rwClass: 88, rwRelkind: 'v', rwOwned: true }),
      dependent({ classid: 'pg_policy', polRel: self }),
      dependent({ classid: 'pg_statistic_ext', stxRel: self }),
      dependent({ classid: 'pg_publication_rel', prRel: self, pubOwned: true }),
      dependent({ classid: 'pg_type', objid: 16402 }),
      dependent({ classid: 'pg_type', refIsType: true }),
      dependent({ classid: 'pg_class', objid: 500, relkind: 'r', refIsType: true }),
      dependent({ classid: 'pg_class', objid: 501, relkind: 'r', refIsType: true, what: 'table app.log' }),
      dependent({ classid: 'pg_constraint', conRel: self, contype: 'x', what: 'constraint ex' }),
      dependent({ classid: 'pg_constraint', conRel: 77, conFrel: self, contype: 'f', conOwned: false, what: 'constraint fk' }),
      dependent({ classid: 'pg_rewrite', rwClass: 89, rwRelkind: 'v', rwOwned: false, rwName: '"V ""x"""' }),
      dependent({ classid: 'pg_rewrite', rwClass: 90, rwRelkind: 'm', rwName: 'app.mv' }),
      dependent({ classid: 'pg_rewrite', rwClass: self, rwRelkind: 'r', what: 'rule r on table t' }),
      dependent({ classid: 'pg_publication_rel', prRel: self, pubOwned: false, pubName: 'Pub "2"' }),
      dependent({ classid: 'pg_proc', what: 'function app.f()' }),
    ];
    expect(renameBlockers(attachedFacts({ dependents }), { ignoreRelations: [500] })).toEqual([
      "table app.log uses the table's row type",
      'constraint ex is an exclusion constraint (not supported by the rename swap)',
      'constraint fk references the table and the current role does not own its table',
      'view "V ""x""" reads the table and the current role does not own it',
      'materialized view app.mv reads the table (not supported by the rename swap)',
      'rule r on table t is a rule on the table (not supported by the rename swap)',
      'publication "Pub \\"2\\"" lists the table and the current role does not own it',
      'function app.f() depends on the table (pg_proc, not moved by the rename swap)',
    ]);
    // The caller that rebuilds the materialized views after the commit (the repack) takes them.
    const kept = renameBlockers(attachedFacts({ dependents }), { ignoreRelations: [500], keepMaterializedViews: true });
    expect(kept).toHaveLength(7);
    expect(kept.join('; ')).not.toContain('materialized view');
  });

  it('refuses in the order the checks always ran', () => {
    const same = renameFacts();
    same.shadow = same.original;
    expect(refusal(same)).toMatchObject({ code: 'swap_precondition', message: `original and shadow are the same table "Sch ""é"".x"."It ems.Ü"` });
    expect(refusal(renameFacts({ role: { name: 'r', ownsOriginal: true, ownsShadow: false } }))).toMatchObject({
      code: 'rename_swap_not_owner',
      message: 'role "r" must own "pg tools"."Shadow ""1""" (be a member of its owner role "Own \\"er\\"") to swap it by renaming',
    });
    const notOwnerAndBlocked = renameFacts({
      role: { name: 'r', ownsOriginal: false, ownsShadow: false },
      attached: attachedFacts({ extensions: ['extension x'] }),
    });
    expect(refusal(notOwnerAndBlocked).code).toBe('rename_swap_not_owner');
  });

  it('refuses a shadow that is not a full copy of the definition', () => {
    const facts = renameFacts({ shadowConstraints: { checks: [], notNulls: [], other: ['Shadow "1"_pkey'] } });
    facts.columns = { ...facts.columns, shadow: facts.columns.shadow.map((c) => (c.name === 'Code' ? { ...c, notNull: true } : c)) };
    const err = refusal(facts);
    expect(err.code).toBe('swap_precondition');
    expect(err.message).toContain('column "Code" differs in NOT NULL');
    expect(err.message).toContain(`CHECK constraints differ: original [Code "chk": CHECK ("Code" <> ''::text)], shadow []`);
    expect(err.message).toContain('the shadow already has constraints other than CHECK: Shadow "1"_pkey');
  });

  it('refuses a shadow whose NOT NULL constraints (PostgreSQL 18) differ in NO INHERIT or have a NOT VALID one, and counts none as other constraints', () => {
    const facts = renameFacts({
      attached: attachedFacts({ notNulls: [ID_NOT_NULL, { name: 'Code nn', column: 'Code', def: 'NOT NULL "Code" NO INHERIT', validated: true }] }),
      shadowConstraints: {
        checks: [{ name: 'Code "chk"', def: `CHECK ("Code" <> ''::text)` }],
        notNulls: [ID_NOT_NULL, { name: 'Code nn', column: 'Code', def: 'NOT NULL "Code"', validated: true }],
        other: [],
      },
    });
    const err = refusal(facts);
    expect(err.code).toBe('swap_precondition');
    expect(err.message).toContain('NOT NULL constraints differ: original [NOT NULL "Code" NO INHERIT], shadow [NOT NULL "Code"]');
    expect(err.message).not.toContain('other than CHECK');
    // A NOT VALID one belongs on the shadow only after the swap: the copied rows may have NULLs.
    const notValid = { name: 'Code nn', column: 'Code', def: 'NOT NULL "Code" NOT VALID', validated: false };
    const early = renameFacts({
      attached: attachedFacts({ notNulls: [ID_NOT_NULL, notValid] }),
      shadowConstraints: { ...renameFacts().shadowConstraints, notNulls: [ID_NOT_NULL, notValid] },
    });
    expect(refusal(early).message).toContain('NOT NULL constraints differ: original [], shadow [NOT NULL "Code" NOT VALID]');
    // Another name alone is no difference: the swap renames it.
    const renamed = renameFacts({ shadowConstraints: { ...renameFacts().shadowConstraints, notNulls: [{ ...ID_NOT_NULL, name: 'other name' }] } });
    expect(renameSwapRefusal(renamed, {})).not.toBeInstanceOf(PgToolsError);
  });

  it('takes NOT NULL constraints (PostgreSQL 18) set or dropped on purpose as they are, and adds no NOT VALID one back on such a column', () => {
    const codeNotNull = { name: 'It ems.Ü_Code_not_null', column: 'Code', def: 'NOT NULL "Code"', validated: true };
    const setOnShadow = renameFacts({ shadowConstraints: { ...renameFacts().shadowConstraints, notNulls: [ID_NOT_NULL, codeNotNull] } });
    setOnShadow.columns = { ...setOnShadow.columns, shadow: setOnShadow.columns.shadow.map((c) => (c.name === 'Code' ? { ...c, notNull: true } : c)) };
    const changes = { dropped: [], added: [], retyped: [], nullability: ['Code'] };
    expect(refusal(setOnShadow).message).toContain('NOT NULL constraints differ: original [], shadow [NOT NULL "Code"]');
    const set = swapSql(setOnShadow, { ...options, columnChanges: changes });
    // Named as on the table already: kept, not renamed.
    expect(set.filter((s) => s.includes('not_null'))).toEqual([]);
    // Dropped on purpose: the original's NOT VALID one is not added back either.
    const notValid = { name: 'Code nn', column: 'Code', def: 'NOT NULL "Code" NOT VALID', validated: false };
    const dropped = renameFacts({ attached: attachedFacts({ notNulls: [ID_NOT_NULL, notValid] }) });
    expect(swapSql(dropped).some((s) => s.includes('ADD CONSTRAINT "Code nn" NOT NULL "Code" NOT VALID'))).toBe(true);
    expect(swapSql(dropped, { ...options, columnChanges: changes }).some((s) => s.includes('"Code nn"'))).toBe(false);
    const validDropped = renameFacts({ attached: attachedFacts({ notNulls: [ID_NOT_NULL, { ...codeNotNull, name: 'Code nn' }] }) });
    validDropped.columns = { ...validDropped.columns, original: validDropped.columns.original.map((c) => (c.name === 'Code' ? { ...c, notNull: true } : c)) };
    expect(refusal(validDropped).message).toContain('NOT NULL constraints differ: original [NOT NULL "Code"], shadow []');
    expect(renameSwapRefusal(validDropped, { columnChanges: changes })).not.toBeInstanceOf(PgToolsError);
  });

  it('accepts a shadow without the NOT VALID CHECKs and refuses one that has them (the copied rows may violate them)', () => {
    const facts = notValidCheckFacts();
    expect(renameSwapRefusal(facts, {})).not.toBeInstanceOf(PgToolsError);
    facts.shadowConstraints = {
      ...facts.shadowConstraints,
      checks: [...facts.shadowConstraints.checks, { name: CODE_NOT_VALID.name, def: CODE_NOT_VALID.def }],
    };
    const err = refusal(facts);
    expect(err.code).toBe('swap_precondition');
    expect(err.message).toContain(
      `CHECK constraints differ: original [Code "chk": CHECK ("Code" <> ''::text)], shadow [Code "chk": CHECK ("Code" <> ''::text); Code "nv": ${CODE_NOT_VALID.def}]`,
    );
  });

  it('accepts planned column changes (an online schema change): dropped left out, added last, retyped with their new operator classes', () => {
    const base = renameFacts({
      attached: attachedFacts({
        serialSequences: [],
        columnGrants: [...attachedFacts().columnGrants, { column: 's.id', grantee: ROLE_UPPER, privilege: 'UPDATE', grantable: false }],
      }),
    });
    const idShape = (opclass: string): string => `403 | 1 | 1 | true | false | "Id ""x""" | ${opclass} | 0 | 0`;
    const facts: RenameFacts = {
      ...base,
      columns: {
        original: base.columns.original,
        shadow: [
          { ...base.columns.shadow[0]!, type: 'bigint', typeOid: 20 },
          base.columns.shadow[2]!,
          { ...base.columns.shadow[2]!, attnum: 4, name: 'New "c"', type: 'boolean', typeOid: 16, notNull: true },
        ],
      },
      indexes: {
        ...base.indexes,
        original: base.indexes.original.map((i) => (i.oid === 16430 ? { ...i, shape: idShape('1978') } : i)),
        shadow: base.indexes.shadow.map((i) => (i.oid === 16530 ? { ...i, shape: idShape('3124') } : i)),
      },
    };
    const changes = { dropped: ['s.id'], added: ['New "c"'], retyped: ['Id "x"'] };
    // Without the plan every difference is a refusal.
    const err = refusal(facts);
    expect(err.message).toContain(`column ${JSON.stringify('Id "x"')} differs in type or collation`);
    expect(err.message).toContain('column 2 is "s.id" in the original but "Code" in the shadow');
    const sql = swapSql(facts, { ...options, columnChanges: changes });
    // The dropped column's grants, settings and comment go with it; the others are carried over.
    expect(sql.some((s) => s.includes('"s.id"'))).toBe(false);
    expect(sql).toContain(`COMMENT ON COLUMN ${T}."Code" IS 'the code'`);
    // Only planned differences pass: another type change, or an added column not last, still refuses.
    const typeAlso = { ...facts, columns: { ...facts.columns, shadow: facts.columns.shadow.map((c) => (c.name === 'Code' ? { ...c, typeOid: 1043 } : c)) } };
    expect(refusal(typeAlso, { columnChanges: changes }).message).toContain('column "Code" differs in type or collation');
    expect(refusal(facts, { columnChanges: { ...changes, added: [] } }).message).toContain('2 columns in the original, 3 in the shadow');
    // Operator classes are compared again when nothing is retyped.
    const sameType = {
      ...facts,
      columns: { ...facts.columns, shadow: facts.columns.shadow.map((c) => (c.attnum === 1 ? { ...c, type: 'integer', typeOid: 23 } : c)) },
    };
    expect(renameSwapRefusal(sameType, { columnChanges: changes })).not.toBeInstanceOf(PgToolsError);
    expect(refusal(sameType, { columnChanges: { ...changes, retyped: [] } }).message).toMatch(/index_16430 is not a copy of .*PK/);
    // A NOT NULL set on purpose is no difference; elsewhere it still is.
    const notNull = { ...facts, columns: { ...facts.columns, shadow: facts.columns.shadow.map((c) => (c.name === 'Code' ? { ...c, notNull: true } : c)) } };
    expect(refusal(notNull, { columnChanges: changes }).message).toContain('column "Code" differs in NOT NULL');
    expect(renameSwapRefusal(notNull, { columnChanges: { ...changes, nullability: ['Code'] } })).not.toBeInstanceOf(PgToolsError);
  });

  it('refuses index pairs that do not match, a missing index, an exclusion constraint and statistics without a copy', () => {
    const missing = renameFacts();
    missing.indexes = {
      ...missing.indexes,
      pairs: [{ original: missing.indexes.pairs[0]!.original, shadow: { missing: 'index "pg tools".nope does not exist' } }],
    };
    expect(refusal(missing)).toMatchObject({ code: 'swap_precondition', message: 'index "pg tools".nope does not exist' });
    const unpaired = renameFacts();
    unpaired.indexes = { ...unpaired.indexes, pairs: unpaired.indexes.pairs.slice(1) };
    expect(refusal(unpaired).message).toMatch(
      /^index pairs do not match: index "Sch ""é"".x"."PK ""c""" of .* has no copy; index "pg tools".index_16430 of .* is not paired/,
    );
    const exclusion = renameFacts();
    exclusion.indexes = {
      ...exclusion.indexes,
      original: exclusion.indexes.original.map((i) => (i.oid === 16432 ? { ...i, constraintType: 'x', constraintName: 'ex' } : i)),
    };
    expect(refusal(exclusion)).toMatchObject({ code: 'rename_swap_unsupported' });
    expect(refusal(renameFacts({ shadowStatistics: [] }))).toMatchObject({
      code: 'swap_precondition',
      message: 'the shadow has no copy of statistics object "Sch ""é"".x"."St ""1"""',
    });
  });
});

describe('renameShadowStatements', () => {
  it('creates the shadow with LIKE, the options and the tablespace, then the CHECKs with their comments', () => {
    const attached = attachedFacts({
      constraintComments: [
        { name: 'Code "chk"', comment: 'chk c' },
        { name: 'PK "c"', comment: 'not a check' },
      ],
    });
    expect(renameShadowStatements(attached, { schema: SHADOW_SCHEMA, name: SHADOW }, 'Fast "ts"')).toEqual([
      `CREATE TABLE "pg tools"."Shadow ""1""" (LIKE ${T} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE ` +
        `INCLUDING COMPRESSION INCLUDING COMMENTS INCLUDING STATISTICS) WITH ("fillfactor" = '80', toast."autovacuum_enabled" = 'false') TABLESPACE "Fast ""ts"""`,
      `ALTER TABLE "pg tools"."Shadow ""1""" ADD CONSTRAINT "Code ""chk""" CHECK ("Code" <> ''::text)`,
      `COMMENT ON CONSTRAINT "Code ""chk""" ON "pg tools"."Shadow ""1""" IS 'chk c'`,
    ]);
    expect(TABLE).toBe('It ems.Ü');
    // PostgreSQL 18: LIKE copies NOT NULL constraints, making NOT VALID ones valid; the copied rows may have NULLs, so those go (the swap adds them).
    const notValid = attachedFacts({
      notNulls: [ID_NOT_NULL, { name: 'Code nn', column: 'Code', def: 'NOT NULL "Code" NO INHERIT NOT VALID', validated: false }],
      constraintComments: [
        { name: 'Code nn', comment: 'nn c' },
        { name: ID_NOT_NULL.name, comment: 'LIKE copies this one' },
      ],
    });
    expect(renameShadowStatements(notValid, { schema: SHADOW_SCHEMA, name: SHADOW }, 'ts').slice(2)).toEqual([
      `ALTER TABLE "pg tools"."Shadow ""1""" ALTER COLUMN "Code" DROP NOT NULL`,
    ]);
    expect(SCHEMA).toBe('Sch "é".x');
  });

  it('leaves NOT VALID CHECKs and their comments off the shadow: the copy would check the old rows against them', () => {
    const { attached } = notValidCheckFacts();
    expect(renameShadowStatements(attached, { schema: SHADOW_SCHEMA, name: SHADOW }, 'ts').slice(1)).toEqual([
      `ALTER TABLE "pg tools"."Shadow ""1""" ADD CONSTRAINT "Code ""chk""" CHECK ("Code" <> ''::text)`,
      `COMMENT ON CONSTRAINT "Code ""chk""" ON "pg tools"."Shadow ""1""" IS 'chk c'`,
    ]);
  });
});

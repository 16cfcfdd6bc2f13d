import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import { renameBlockers, renameSwapRefusal, renameSwapSteps, viewTreeBlockers, type RenameStepOptions, type RenameSwapStep } from '../src/index.js';
import { attachedFacts, renameFacts, viewTree } from './rename-facts-fixture.js';

const retyped: RenameStepOptions = { excludeTriggers: ['capture'], columnChanges: { dropped: [], added: [], retyped: ['Id "x"'] } };
const V1 = '"Vü.s"."V ""1"""';
const V2 = '"Vü.s"."V ""2"""';
const viewSql = (steps: RenameSwapStep[]): string[] =>
  steps.filter((s) => s.phase === 'swap' && (s.name === 'view' || s.sql.includes('"Vü.s"'))).map((s) => s.sql);

describe('rename swap: views over a retyped table', () => {
  it('drops the tree (readers first) and creates it again in order, with options, owner, defaults, ACL, column grants and comments', () => {
    const facts = renameFacts({ attached: attachedFacts({ viewTree: viewTree() }) });
    const { steps, moved } = renameSwapSteps(facts, retyped);
    expect(viewSql(steps)).toEqual([
      `DROP VIEW ${V2}`,
      `DROP VIEW ${V1}`,
      `CREATE VIEW ${V1} WITH ("security_barrier" = 'true', "check_option" = 'local') AS SELECT "It ems.Ü"."Id ""x""" FROM "Sch ""é"".x"."It ems.Ü"`,
      `ALTER VIEW ${V1} ALTER COLUMN "Id ""x""" SET DEFAULT 0`,
      `COMMENT ON VIEW ${V1} IS 'it''s v1'`,
      `COMMENT ON COLUMN ${V1}."Id ""x""" IS 'the id'`,
      `CREATE VIEW ${V2} WITH ("security_invoker" = 'true') AS SELECT "V ""1"""."Id ""x""" + 1 AS "n ""1""" FROM "Vü.s"."V ""1"""`,
      `ALTER VIEW ${V2} OWNER TO "Rö ""le"""`,
      `REVOKE ALL ON TABLE ${V2} FROM "UPPER"`,
      `REVOKE ALL ON TABLE ${V2} FROM "Rö ""le"""`,
      `GRANT SELECT ON TABLE ${V2} TO "Rö ""le"""`,
      `GRANT SELECT ON TABLE ${V2} TO PUBLIC`,
      `GRANT INSERT ON TABLE ${V2} TO "r.dot" WITH GRANT OPTION`,
      `GRANT UPDATE ("n ""1""") ON TABLE ${V2} TO "UPPER"`,
    ]);
    // The views come after the tables traded places: they are created on the new table.
    const names = steps.map((s) => s.sql);
    expect(names.findIndex((s) => s.startsWith('DROP VIEW'))).toBeGreaterThan(names.findIndex((s) => s.includes('RENAME TO "It ems.Ü"')));
    expect(steps.some((s) => s.sql.startsWith('CREATE OR REPLACE VIEW'))).toBe(false);
    expect(moved.views).toEqual(['"Vü.s"."V ""1"""', '"Vü.s"."V ""2"""']);
  });

  it('re-binds with CREATE OR REPLACE when no column is retyped', () => {
    const facts = renameFacts({ attached: attachedFacts({ viewTree: viewTree() }) });
    const { steps } = renameSwapSteps(facts, { ...retyped, columnChanges: { dropped: [], added: [], retyped: [] } });
    expect(steps.filter((s) => s.sql.startsWith('CREATE OR REPLACE VIEW')).length).toBe(2);
    expect(steps.filter((s) => s.sql.startsWith('DROP VIEW'))).toEqual([]);
  });

  it('refuses a tree it cannot recreate: a view not owned, a materialized view, a trigger or anything else depending on a view', () => {
    const [v1, v2] = viewTree() as [ReturnType<typeof viewTree>[number], ReturnType<typeof viewTree>[number]];
    const tree = [
      v1,
      {
        ...v2,
        owned: false,
        dependents: [
          { what: 'rule _RETURN on materialized view app."M v"', kind: 'materialized view' as const, relation: 18000 },
          { what: 'trigger t on view "Vü.s"."V ""2"""', kind: 'trigger' as const, relation: null },
          { what: 'function app.f()', kind: 'other' as const, relation: null },
          { what: 'rule _RETURN on view other.v', kind: 'view' as const, relation: 19000 },
        ],
      },
    ];
    const blockers = viewTreeBlockers(tree);
    expect(blockers).toEqual([
      `view ${V2} reads the table and the current role does not own it (recreating it needs its owner)`,
      `materialized view app."M v" reads view ${V2}: recreating it would run its query under the swap's lock; drop it before the run and create it again after`,
      `trigger t on view "Vü.s"."V ""2""" depends on view ${V2}, which must be recreated (not supported: drop it before the run and create it again after)`,
      `function app.f() depends on view ${V2}, which must be recreated (not supported: drop it before the run and create it again after)`,
      `rule _RETURN on view other.v depends on view ${V2}, which must be recreated (not supported: drop it before the run and create it again after)`,
    ]);
    const attached = attachedFacts({ viewTree: tree });
    expect(renameBlockers(attached, retyped)).toEqual(blockers);
    // Without a retyped column the views keep their OIDs: nothing to refuse.
    expect(renameBlockers(attached, {})).toEqual([]);
    const decision = renameSwapRefusal(renameFacts({ attached }), retyped);
    expect(decision).toBeInstanceOf(PgToolsError);
    expect((decision as PgToolsError).code).toBe('rename_swap_unsupported');
  });

  it("refuses another session's temporary view over the table", () => {
    const [v1] = viewTree();
    expect(viewTreeBlockers([{ ...v1!, schema: 'pg_temp_3', dependents: [] }])).toEqual([
      'view pg_temp_3."V ""1""" is a temporary view of another session (it cannot be recreated)',
    ]);
  });

  it('refuses a privilege it does not know', () => {
    const [v1] = viewTree();
    const facts = renameFacts({
      attached: attachedFacts({
        viewTree: [{ ...v1!, dependents: [], aclIsNull: false, grants: [{ grantee: null, privilege: 'EXECUTE', grantable: false }] }],
      }),
    });
    expect(() => renameSwapSteps(facts, retyped)).toThrow(/unknown privilege EXECUTE/);
  });
});

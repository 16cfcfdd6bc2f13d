import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import { createReplacementSql, oldMatviewName, replacementIndexName, replacementName } from '../src/matview-sql.js';
import { matviewSwitchSql, type MatviewSwitchFacts } from '../src/matview-switch.js';
import { matviewBlockers, refuseMatviews, type MatviewFacts } from '../src/matview-facts.js';
import { matviewTrialSql } from '../src/alter-matviews.js';

const hostile = 'Na"me; DROP';

const facts = (over: Partial<MatviewFacts> = {}): MatviewFacts => ({
  oid: 16400,
  schema: 'Rep orts',
  name: hostile,
  def: ' SELECT t.id\n   FROM public.t;',
  reloptions: [],
  tablespace: null,
  accessMethod: 'heap',
  owner: 'app',
  owned: true,
  canCreate: true,
  dependents: [],
  ...over,
});

describe('materialized view rebuild statements', () => {
  it('names the replacement, its indexes and the old matview after OIDs', () => {
    expect([replacementName(16400), replacementIndexName(16410), oldMatviewName(16400)]).toEqual(['matview_16400', 'mvindex_16410', 'pgtools_old_16400']);
  });

  it.each([
    [{}, `CREATE MATERIALIZED VIEW "tool s"."matview_16400" USING "heap" AS SELECT t.id\n   FROM public.t WITH NO DATA`],
    [
      { reloptions: ['fillfactor=80', 'autovacuum_enabled=false'], tablespace: 'Fast ts', accessMethod: null },
      `CREATE MATERIALIZED VIEW "tool s"."matview_16400" WITH ("fillfactor" = '80', "autovacuum_enabled" = 'false') TABLESPACE "Fast ts" AS SELECT t.id\n   FROM public.t WITH NO DATA`,
    ],
  ])('creates the replacement WITH NO DATA with options, tablespace and access method (%j)', (over, sql) => {
    expect(createReplacementSql('tool s', facts(over))).toBe(sql);
  });

  it('switches: drop the renamed old one, move and rename the replacement and its indexes, then owner, grants, comments, statistics, CLUSTER', () => {
    const f: MatviewSwitchFacts = {
      schema: 'Rep orts',
      name: hostile,
      owner: 'Mv Owner',
      currentUser: 'app',
      aclIsNull: false,
      grants: [
        { grantee: 'Mv Owner', privilege: 'SELECT', grantable: false },
        { grantee: null, privilege: 'SELECT', grantable: false },
      ],
      columnGrants: [{ column: 'x"y', grantee: 'reader', privilege: 'SELECT', grantable: true }],
      replacementGrantees: [],
      comment: "it's",
      columns: [
        { name: 'id', comment: null, statTarget: 500 },
        { name: 'x"y', comment: 'c', statTarget: null },
      ],
      indexes: [
        { oid: 16410, name: 'Idx "1"', comment: 'by id', clustered: true },
        { oid: 16411, name: 'not built', comment: null, clustered: false },
      ],
    };
    const M = `"Rep orts"."Na""me; DROP"`;
    expect(matviewSwitchSql(16400, { schema: 'pgtools', name: 'matview_16400' }, f, new Set([16410]))).toEqual([
      `DROP MATERIALIZED VIEW "Rep orts"."pgtools_old_16400"`,
      `ALTER MATERIALIZED VIEW "pgtools"."matview_16400" SET SCHEMA "Rep orts"`,
      `ALTER MATERIALIZED VIEW "Rep orts"."matview_16400" RENAME TO "Na""me; DROP"`,
      `ALTER INDEX "Rep orts"."mvindex_16410" RENAME TO "Idx ""1"""`,
      `ALTER MATERIALIZED VIEW ${M} OWNER TO "Mv Owner"`,
      `REVOKE ALL ON TABLE ${M} FROM "Mv Owner"`,
      `GRANT SELECT ON TABLE ${M} TO "Mv Owner"`,
      `GRANT SELECT ON TABLE ${M} TO PUBLIC`,
      `GRANT SELECT ("x""y") ON TABLE ${M} TO "reader" WITH GRANT OPTION`,
      `COMMENT ON MATERIALIZED VIEW ${M} IS 'it''s'`,
      `ALTER MATERIALIZED VIEW ${M} ALTER COLUMN "id" SET STATISTICS 500`,
      `COMMENT ON COLUMN ${M}."x""y" IS 'c'`,
      `COMMENT ON INDEX "Rep orts"."Idx ""1""" IS 'by id'`,
      `ALTER MATERIALIZED VIEW ${M} CLUSTER ON "Idx ""1"""`,
    ]);
  });

  it('refuses, naming the matview, why and what to do: not owned, no CREATE on its schema, something depending on it', () => {
    const blockers = matviewBlockers([
      facts({ owned: false }),
      facts({ name: 'b', canCreate: false }),
      facts({ name: 'c', dependents: ['rule _RETURN on view public."over mv"', 'function f(public.c)'] }),
    ]);
    expect(blockers).toEqual([
      `materialized view "Rep orts"."Na""me; DROP" reads the table and the current role does not own it (rebuilding it needs its owner: run as its owner or a member of "app")`,
      `materialized view "Rep orts".b reads the table and the current role may not create in its schema (GRANT CREATE ON SCHEMA "Rep orts")`,
      `view public."over mv" depends on materialized view "Rep orts".c, which is rebuilt on the new table (not supported: drop it before the run and create it again after)`,
      `function f(public.c) depends on materialized view "Rep orts".c, which is rebuilt on the new table (not supported: drop it before the run and create it again after)`,
    ]);
    expect(refuseMatviews('public.t', [facts()])).toHaveLength(1);
    const e = (() => {
      try {
        refuseMatviews('public.t', [facts({ owned: false })]);
      } catch (err) {
        return err as PgToolsError;
      }
      return undefined;
    })();
    expect(e?.code).toBe('rename_swap_unsupported');
    expect(e?.message).toMatch(/^the rename swap of public\.t rebuilds the materialized views over it .*; nothing was changed$/);
  });

  it('tries a matview query as a temporary view under a name of its own', () => {
    expect(matviewTrialSql({ oid: 7, def: ' SELECT id FROM "T x";' })).toBe('CREATE VIEW pg_temp."pgtools_matview_7" AS SELECT id FROM "T x"');
  });
});

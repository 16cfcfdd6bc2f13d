import { describe, expect, it } from 'vitest';
import type { DependentView } from '@pgtools/swap';
import { viewTrialSql } from '../src/alter-views.js';

const view = (over: Partial<DependentView>): DependentView => ({
  oid: 1,
  schema: 'public',
  name: 'v',
  def: '',
  reloptions: [],
  owner: 'o',
  owned: true,
  aclIsNull: true,
  grants: [],
  columnGrants: [],
  defaultGrantees: [],
  comment: null,
  columns: [],
  dependents: [],
  ...over,
});

describe('viewTrialSql', () => {
  it('puts pg_temp first, then the schemas quoted, and creates each view in pg_temp under its quoted name with its options', () => {
    const sql = viewTrialSql({
      schemas: ['Sch "é".x', 'public'],
      views: [
        {
          view: view({ schema: 'Sch "é".x', name: 'V "1"; DROP', reloptions: ['security_barrier=true', "check_option=lo'cal"] }),
          def: ' SELECT "It ems".id FROM "It ems";',
        },
        { view: view({ name: 'plain' }), def: 'SELECT id FROM "V ""1""; DROP"' },
      ],
    });
    expect(sql).toEqual({
      searchPath: 'pg_temp, "Sch ""é"".x", "public"',
      views: [
        `CREATE VIEW pg_temp."V ""1""; DROP" WITH ("security_barrier" = 'true', "check_option" = 'lo''cal') AS SELECT "It ems".id FROM "It ems"`,
        'CREATE VIEW pg_temp."plain" AS SELECT id FROM "V ""1""; DROP"',
      ],
    });
  });
});

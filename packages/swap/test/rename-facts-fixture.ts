import type { DependentView, RenameFacts, RenameTableFacts, SwapTableInfo } from '../src/index.js';

// Hostile names everywhere: quotes, dots, spaces, upper case and non-ASCII letters.
export const SCHEMA = 'Sch "é".x';
export const TABLE = 'It ems.Ü';
export const SHADOW_SCHEMA = 'pg tools';
export const SHADOW = 'Shadow "1"';
export const ROLE_QUOTE = 'Rö "le"';
export const ROLE_DOT = 'r.dot';
export const ROLE_UPPER = 'UPPER';

export const ORIGINAL_OID = 16400;
export const SHADOW_OID = 16500;

export const ID_NOT_NULL = { name: 'It ems.Ü_Id "x"_not_null', column: 'Id "x"', def: 'NOT NULL "Id ""x"""', validated: true };

/** A NOT VALID CHECK (old rows may violate it), NO INHERIT: never on the shadow, the swap adds it. */
export const CODE_NOT_VALID = { name: 'Code "nv"', def: `CHECK (("Code" <> 'x'::text)) NO INHERIT NOT VALID`, validated: false };

/** The fixture with {@link CODE_NOT_VALID} on the original (with a comment), its shadow without it. */
export function notValidCheckFacts(): RenameFacts {
  const base = attachedFacts();
  return renameFacts({
    attached: attachedFacts({
      checks: [...base.checks, CODE_NOT_VALID],
      constraintComments: [...base.constraintComments, { name: CODE_NOT_VALID.name, comment: 'new rows only' }],
    }),
  });
}

function table(over: Partial<SwapTableInfo>): SwapTableInfo {
  return {
    oid: ORIGINAL_OID,
    schema: SCHEMA,
    name: TABLE,
    relkind: 'r',
    persistence: 'p',
    ownerOid: 10,
    owner: 'Own "er"',
    toastOid: 16403,
    rowTypeOid: 16402,
    tablespace: null,
    accessMethod: 'heap',
    reloptions: ['fillfactor=80'],
    toastReloptions: ['autovacuum_enabled=false'],
    isPartition: false,
    ofType: 0,
    ...over,
  };
}

const column = (attnum: number, name: string, extra: Partial<RenameFacts['columns']['original'][number]> = {}) => ({
  attnum,
  name,
  dropped: false,
  type: 'integer',
  typeOid: 23,
  typmod: -1,
  collation: 0,
  notNull: false,
  identity: '',
  generated: '',
  ...extra,
});

const index = (oid: number, tableOid: number, schema: string, name: string, extra: Partial<RenameFacts['indexes']['original'][number]> = {}) => ({
  oid,
  table: tableOid,
  schema,
  name,
  valid: true,
  unique: false,
  primary: false,
  shape: `btree ${name}`,
  constraintName: null,
  constraintType: null,
  deferrable: false,
  deferred: false,
  ...extra,
});

/** Everything attached to the original, with nothing that blocks the swap. */
export function attachedFacts(over: Partial<RenameTableFacts> = {}): RenameTableFacts {
  return {
    table: table({}),
    inheritance: [],
    partition: null,
    extensions: [],
    subscriptions: [],
    dependents: [],
    triggers: [
      {
        name: 'Trg "a"',
        def: `CREATE TRIGGER "Trg ""a""" BEFORE INSERT ON "Sch ""é"".x"."It ems.Ü" FOR EACH ROW EXECUTE FUNCTION "Sch ""é"".x".f()`,
        enabled: 'O',
        comment: null,
        inherited: false,
      },
      { name: 'capture', def: 'CREATE TRIGGER capture ...', enabled: 'A', comment: null, inherited: false },
      { name: 'Trg.r', def: 'CREATE TRIGGER "Trg.r" ...', enabled: 'R', comment: "it's", inherited: false },
    ],
    foreignKeysOut: [{ name: 'Cat.fk', def: `FOREIGN KEY (cat) REFERENCES "Sch ""é"".x"."Cat ""1"""(id)`, validated: true, comment: 'fk c', inherited: false }],
    foreignKeysIn: [
      {
        schema: 'Oth er',
        table: 'Ref"s',
        name: 'Ref "fk"',
        def: `FOREIGN KEY (item) REFERENCES "Sch ""é"".x"."It ems.Ü"("Id ""x""") NOT VALID`,
        validated: false,
        comment: null,
        inherited: false,
      },
    ],
    checks: [{ name: 'Code "chk"', def: `CHECK ("Code" <> ''::text)`, validated: true }],
    // PostgreSQL 18 keeps NOT NULL as constraints; LIKE copies them with their names.
    notNulls: [ID_NOT_NULL],
    constraintComments: [{ name: 'Code "chk"', comment: 'chk c' }],
    policies: [
      { name: 'Pol "all"', permissive: true, cmd: '*', roles: [''], qual: 'true', withCheck: null, comment: null },
      { name: 'pol.r', permissive: false, cmd: 'r', roles: [ROLE_QUOTE, ROLE_DOT], qual: `("Code" <> 'c3'::text)`, withCheck: null, comment: null },
      { name: 'Ins Ü', permissive: true, cmd: 'a', roles: [ROLE_UPPER], qual: null, withCheck: '(cat > 0)', comment: "it's \\ a policy" },
    ],
    views: [
      { schema: 'Vü.s', name: 'V "1"', def: ` SELECT "It ems.Ü"."Id ""x""" FROM "Sch ""é"".x"."It ems.Ü";`, reloptions: ['security_barrier=true'] },
      { schema: 'public', name: 'plain', def: 'SELECT 1', reloptions: [] },
    ],
    viewTree: [],
    publications: [{ name: 'Pub "1"', columns: ['Id "x"', 'Code'], filter: '("Id ""x""" > 0)' }],
    tableGrants: [
      { grantee: 'Own "er"', privilege: 'SELECT', grantable: false },
      { grantee: null, privilege: 'SELECT', grantable: false },
      { grantee: ROLE_QUOTE, privilege: 'UPDATE', grantable: true },
      { grantee: ROLE_DOT, privilege: 'INSERT', grantable: false },
      { grantee: ROLE_UPPER, privilege: 'INSERT', grantable: false },
    ],
    tableAclIsNull: false,
    columnGrants: [
      { column: 'Code', grantee: ROLE_UPPER, privilege: 'SELECT', grantable: true },
      { column: 'ü', grantee: null, privilege: 'UPDATE', grantable: false },
    ],
    serialSequences: [{ oid: 16410, schema: SCHEMA, name: 'It ems.Ü_s.id_seq', column: 's.id' }],
    identitySequences: [{ oid: 16411, schema: SCHEMA, name: 'It ems.Ü_Id "x"_seq', column: 'Id "x"' }],
    statistics: [{ oid: 16420, schema: SCHEMA, name: 'St "1"', shape: 'f | cat,parent | ', target: 200, comment: 'st' }],
    rowSecurity: true,
    forceRowSecurity: true,
    replicaIdentity: 'i',
    replicaIdentityIndex: 16431,
    clusterIndex: 16432,
    tableComment: 'tab',
    columns: [
      { name: 'Id "x"', comment: null, statTarget: -1, options: [] },
      { name: 's.id', comment: null, statTarget: -1, options: [] },
      { name: 'Code', comment: 'the code', statTarget: 500, options: ['pg_attver=1', 'n_distinct=5'] },
    ],
    indexDetails: [
      { oid: 16430, comment: null, statTargets: [] },
      { oid: 16431, comment: null, statTargets: [] },
      { oid: 16432, comment: 'ix', statTargets: [{ position: 1, target: 300 }] },
    ],
    ...over,
  };
}

/** A swap the builder accepts: the shadow is a full copy with its index copies. */
export function renameFacts(over: Partial<RenameFacts> = {}): RenameFacts {
  const columns = [
    column(1, 'Id "x"', { notNull: true, identity: 'a' }),
    column(2, 'gone', { dropped: true }),
    column(3, 's.id'),
    column(4, 'Code', { type: 'text', typeOid: 25 }),
  ];
  const shadowColumns = [column(1, 'Id "x"', { notNull: true, identity: 'a' }), column(2, 's.id'), column(3, 'Code', { type: 'text', typeOid: 25 })];
  return {
    original: table({}),
    shadow: table({ oid: SHADOW_OID, schema: SHADOW_SCHEMA, name: SHADOW, toastOid: 16503, rowTypeOid: 16502, reloptions: ['fillfactor=80'] }),
    fingerprint: "f'1",
    role: { name: 'Own "er"', ownsOriginal: true, ownsShadow: true },
    attached: attachedFacts(),
    columns: { original: columns, shadow: shadowColumns },
    shadowConstraints: { checks: [{ name: 'Code "chk"', def: `CHECK ("Code" <> ''::text)` }], notNulls: [ID_NOT_NULL], other: [] },
    indexes: {
      original: [
        index(16430, ORIGINAL_OID, SCHEMA, 'PK "c"', { unique: true, primary: true, shape: 'pk', constraintName: 'PK "c"', constraintType: 'p' }),
        index(16431, ORIGINAL_OID, SCHEMA, 'U.idx', {
          unique: true,
          shape: 'u',
          constraintName: 'U "con"',
          constraintType: 'u',
          deferrable: true,
          deferred: true,
        }),
        index(16432, ORIGINAL_OID, SCHEMA, 'Idx "lower"', { shape: 'lower' }),
      ],
      shadow: [
        index(16530, SHADOW_OID, SHADOW_SCHEMA, 'index_16430', { unique: true, shape: 'pk' }),
        index(16531, SHADOW_OID, SHADOW_SCHEMA, 'index_16431', { unique: true, shape: 'u' }),
        index(16532, SHADOW_OID, SHADOW_SCHEMA, 'index_16432', { shape: 'lower' }),
      ],
      pairs: [
        {
          original: { oid: 16430, table: ORIGINAL_OID, schema: SCHEMA, name: 'PK "c"' },
          shadow: { oid: 16530, table: SHADOW_OID, schema: SHADOW_SCHEMA, name: 'index_16430' },
        },
        {
          original: { oid: 16431, table: ORIGINAL_OID, schema: SCHEMA, name: 'U.idx' },
          shadow: { oid: 16531, table: SHADOW_OID, schema: SHADOW_SCHEMA, name: 'index_16431' },
        },
        {
          original: { oid: 16432, table: ORIGINAL_OID, schema: SCHEMA, name: 'Idx "lower"' },
          shadow: { oid: 16532, table: SHADOW_OID, schema: SHADOW_SCHEMA, name: 'index_16432' },
        },
      ],
    },
    shadowStatistics: [{ oid: 16520, schema: SHADOW_SCHEMA, name: 'Shadow "1"_cat_parent_stat', shape: 'f | cat,parent | ', target: -1, comment: null }],
    shadowGrantees: [ROLE_UPPER],
    shadowReloptions: { heap: ['fillfactor=80', 'parallel_workers=2'], toast: ['vacuum_truncate=false'] },
    shadowIdentitySequences: [{ oid: 16511, schema: SHADOW_SCHEMA, name: 'Shadow "1"_Id "x"_seq', column: 'Id "x"' }],
    ...over,
  };
}

/** A view over the table and a view over that one, hostile names, grants, defaults and comments. */
export function viewTree(): DependentView[] {
  const view = (over: Partial<DependentView>): DependentView => ({
    oid: 17000,
    schema: 'Vü.s',
    name: 'V "1"',
    def: ` SELECT "It ems.Ü"."Id ""x""" FROM "Sch ""é"".x"."It ems.Ü";`,
    reloptions: ['security_barrier=true', 'check_option=local'],
    owner: 'Own "er"',
    owned: true,
    aclIsNull: true,
    grants: [],
    columnGrants: [],
    defaultGrantees: [],
    comment: null,
    columns: [{ name: 'Id "x"', comment: null, default: null }],
    dependents: [],
    ...over,
  });
  return [
    view({
      dependents: [{ what: 'rule _RETURN on view "Vü.s"."V ""2"""', kind: 'view', relation: 17001 }],
      comment: "it's v1",
      columns: [{ name: 'Id "x"', comment: 'the id', default: '0' }],
    }),
    view({
      oid: 17001,
      name: 'V "2"',
      def: ` SELECT "V ""1"""."Id ""x""" + 1 AS "n ""1""" FROM "Vü.s"."V ""1""";`,
      reloptions: ['security_invoker=true'],
      owner: ROLE_QUOTE,
      aclIsNull: false,
      grants: [
        { grantee: ROLE_QUOTE, privilege: 'SELECT', grantable: false },
        { grantee: null, privilege: 'SELECT', grantable: false },
        { grantee: ROLE_DOT, privilege: 'INSERT', grantable: true },
      ],
      columnGrants: [{ column: 'n "1"', grantee: ROLE_UPPER, privilege: 'UPDATE', grantable: false }],
      defaultGrantees: [ROLE_UPPER],
      columns: [{ name: 'n "1"', comment: null, default: null }],
    }),
  ];
}

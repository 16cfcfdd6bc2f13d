import type { ColumnInfo, TableInfo } from './catalog.js';
import type { IndexPairFacts } from './preconditions.js';

/**
 * The catalog rows the rename swap is worked out from, as plain data (numbers, strings, booleans,
 * arrays, null: JSON-serialisable). {@link readRenameFacts} reads them; the pure builders
 * ({@link renameSwapRefusal}, {@link renameSwapSteps}) decide and write every statement from them alone.
 */
export interface RenameFacts {
  original: TableInfo;
  shadow: TableInfo;
  /** md5 of everything the swap moves or names, read before anything else (see fingerprintSql). */
  fingerprint: string;
  /** The current role and whether it is a member of each table's owner role. */
  role: { name: string; ownsOriginal: boolean; ownsShadow: boolean };
  /** Everything attached to the original. */
  attached: RenameTableFacts;
  /** Columns of both tables in attnum order, dropped ones included. */
  columns: { original: ColumnInfo[]; shadow: ColumnInfo[] };
  /**
   * The shadow's constraints: its CHECKs and NOT NULL constraints (PostgreSQL 18+ keeps those as
   * pg_constraint rows; LIKE copies them), deparsed, and the names of any others.
   */
  shadowConstraints: { checks: Array<{ name: string; def: string }>; notNulls: NotNullFacts[]; other: string[] };
  indexes: IndexPairFacts;
  /** The shadow's extended statistics (LIKE gave them generated names). */
  shadowStatistics: StatObject[];
  /** Who holds privileges on the shadow now (null: PUBLIC); ALTER DEFAULT PRIVILEGES may have granted some. */
  shadowGrantees: Array<string | null>;
  /** The shadow's reloptions now, heap and TOAST. */
  shadowReloptions: { heap: string[]; toast: string[] };
  /** The shadow's identity sequences; SET SCHEMA carries them into the original's schema. */
  shadowIdentitySequences: SequenceFacts[];
}

/**
 * Everything attached to a table's OID that the rename swap must rebuild on the new table, captured as
 * server-deparsed text under a pg_catalog search path (every user object qualified). Captured before any
 * rename: the texts name the table as schema.name, which resolves to the new table once it has taken that name.
 */
export interface RenameTableFacts {
  table: TableInfo;
  /** pg_inherits rows the table is in, the other table as regclass text. */
  inheritance: Array<{ role: 'child' | 'parent'; other: string }>;
  /** The table's place in its partitioned table when it is a partition, else null. */
  partition: PartitionFacts | null;
  /** Extensions the table belongs to, as pg_describe_object prints them. */
  extensions: string[];
  /** Subscriptions replicating into the table (quoted names). */
  subscriptions: string[];
  /** Every catalog row that depends on the table, its indexes or its row and array types. */
  dependents: RenameDependent[];
  /**
   * Non-internal triggers, excluded ones included (the options decide). `inherited`: cloned from a
   * trigger of the partitioned table (tgparentid), which attaching the partition clones again.
   */
  triggers: Array<{ name: string; def: string; enabled: string; comment: string | null; inherited: boolean }>;
  foreignKeysOut: ForeignKeyFacts[];
  foreignKeysIn: Array<ForeignKeyFacts & { schema: string; table: string }>;
  checks: CheckFacts[];
  /** NOT NULL constraints (PostgreSQL 18+; none on earlier versions, which keep only attnotnull). */
  notNulls: NotNullFacts[];
  /** Comments on the table's own constraints other than foreign keys. */
  constraintComments: Array<{ name: string; comment: string }>;
  /** Policies; a role '' is PUBLIC. */
  policies: PolicyFacts[];
  views: Array<{ schema: string; name: string; def: string; reloptions: string[] }>;
  /** Every view that reads the table, directly or through other views, readers after what they read: recreated when columns are retyped (see recreatesViews). */
  viewTree: DependentView[];
  publications: Array<{ name: string; columns: string[] | null; filter: string | null }>;
  tableGrants: AclEntry[];
  tableAclIsNull: boolean;
  columnGrants: Array<AclEntry & { column: string }>;
  serialSequences: SequenceFacts[];
  identitySequences: SequenceFacts[];
  statistics: StatObject[];
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  replicaIdentity: string;
  replicaIdentityIndex: number | null;
  clusterIndex: number | null;
  tableComment: string | null;
  /** Live columns; statTarget is null where the server keeps no explicit target (PostgreSQL 17+ stores NULL for the default). */
  columns: Array<{ name: string; comment: string | null; statTarget: number | null; options: string[] }>;
  indexDetails: Array<{ oid: number; comment: string | null; statTargets: Array<{ position: number; target: number }> }>;
}

/**
 * A view that reads the table, directly or through other views: what the rename swap needs to
 * drop it and create it again on the new table as it was (see recreateViewSteps in rename-views.ts).
 */
export interface DependentView {
  oid: number;
  schema: string;
  name: string;
  /** pg_get_viewdef's text, printed under the search path it was read with. */
  def: string;
  /** security_barrier, check_option, security_invoker. */
  reloptions: string[];
  owner: string;
  /** The current role is a member of the view's owner (it must be, to drop it and give the new one that owner). */
  owned: boolean;
  aclIsNull: boolean;
  grants: AclEntry[];
  columnGrants: Array<AclEntry & { column: string }>;
  /** Who a relation the current role creates in the view's schema gets privileges for by ALTER DEFAULT PRIVILEGES (null: PUBLIC). */
  defaultGrantees: Array<string | null>;
  comment: string | null;
  /** The view's columns with their comments and defaults (ALTER VIEW ... SET DEFAULT), in order. */
  columns: Array<{ name: string; comment: string | null; default: string | null }>;
  /**
   * What depends on the view other than the views of the tree, its own rule, its row type and its
   * column defaults: each makes recreating it impossible (see viewTreeBlockers).
   */
  dependents: Array<{ what: string; kind: 'materialized view' | 'view' | 'rule' | 'trigger' | 'other'; relation: number | null }>;
}

/** A pg_depend row on the table (or its indexes or types) with what the rename swap needs to classify it. */
export interface RenameDependent {
  classid: string;
  objid: number;
  deptype: string;
  /** pg_describe_object's text. */
  what: string;
  relkind: string | null;
  conRel: number | null;
  conFrel: number | null;
  contype: string | null;
  /** The current role is a member of the owner of the constraint's table. */
  conOwned: boolean | null;
  tgRel: number | null;
  rwClass: number | null;
  rwRelkind: string | null;
  /** The rule's relation, quoted and qualified, for messages. */
  rwName: string | null;
  rwOwned: boolean | null;
  polRel: number | null;
  stxRel: number | null;
  prRel: number | null;
  pubOwned: boolean | null;
  pubName: string | null;
  adRel: number | null;
  /** The row depends on the table's row type or its array type. */
  refIsType: boolean;
}

/**
 * A CHECK constraint row. `def` is pg_get_constraintdef's text (`CHECK (expr) [NO INHERIT] [NOT VALID]`).
 * A NOT VALID one (old rows may violate it) is kept off the shadow while the rows are copied and added
 * at the swap, NOT VALID again.
 */
export interface CheckFacts {
  name: string;
  def: string;
  validated: boolean;
}

/**
 * A NOT NULL constraint row (contype 'n', PostgreSQL 18+). `def` is pg_get_constraintdef's text
 * (`NOT NULL col [NO INHERIT] [NOT VALID]`), which has no name in it: the rename swap pairs the
 * shadow's with the original's by column and def, then gives them the original's names.
 */
export interface NotNullFacts {
  name: string;
  column: string;
  def: string;
  validated: boolean;
}

export interface ForeignKeyFacts {
  name: string;
  def: string;
  validated: boolean;
  comment: string | null;
  /** Cloned from a foreign key of a partitioned table (conparentid): attaching and detaching partitions own it. */
  inherited: boolean;
}

/**
 * A leaf partition's place in its partitioned table: the rename swap detaches the old leaf and
 * attaches the new one with the same bound.
 */
export interface PartitionFacts {
  parentOid: number;
  parentSchema: string;
  parentName: string;
  /** The current role is a member of the partitioned table's owner (DETACH and ATTACH need it). */
  parentOwned: boolean;
  /** The bound as pg_get_expr prints relpartbound: `FOR VALUES ...` or `DEFAULT`. */
  bound: string;
  /**
   * pg_get_partition_constraintdef: what every row of the leaf satisfies (its ancestors' bounds
   * included); null when nothing limits them (a default partition alone). The new leaf carries it as
   * a CHECK so the ATTACH needs no scan.
   */
  constraint: string | null;
  /** The parent's default partition when that is another table (quoted, qualified), else null. */
  otherDefault: string | null;
  /** The leaf's indexes attached to partitioned indexes of the parent, with those (quoted, qualified). */
  indexParents: Array<{ index: number; parent: string }>;
}

export interface PolicyFacts {
  name: string;
  permissive: boolean;
  /** polcmd: '*', 'r', 'a', 'w', 'd'. */
  cmd: string;
  roles: string[];
  qual: string | null;
  withCheck: string | null;
  comment: string | null;
}

export interface AclEntry {
  /** null: PUBLIC. */
  grantee: string | null;
  privilege: string;
  grantable: boolean;
}

export interface SequenceFacts {
  oid: number;
  schema: string;
  name: string;
  column: string;
}

/** An extended statistics object with a name-free shape to pair the original's objects with the shadow's. */
export interface StatObject {
  oid: number;
  schema: string;
  name: string;
  shape: string;
  /** null: the default target (PostgreSQL 17+ stores NULL, earlier versions -1). */
  target: number | null;
  comment: string | null;
}

/**
 * Column differences between the original and the shadow that the caller made on purpose (an online
 * schema change): the shadow lacks the `dropped` columns, has the `added` ones after the original's
 * (in this order), has a new type for the `retyped` ones and NOT NULL set or dropped on the
 * `nullability` ones. Everything else must still match.
 */
export interface ColumnChanges {
  dropped: readonly string[];
  added: readonly string[];
  retyped: readonly string[];
  /** Columns whose NOT NULL was set or dropped (PostgreSQL 15-17, where it is only attnotnull). */
  nullability?: readonly string[];
  /** Constraints the new table gets that the original lacks. */
  constraints?: AddedConstraints;
  /** The shadow's live columns in this order (the caller rewrote the table with its columns reordered): compared by name, not position. */
  order?: readonly string[];
}

/** Constraints an online schema change adds (see {@link ColumnChanges}). */
export interface AddedConstraints {
  /** CHECK constraints already on the shadow (every row written to it was checked), by name. */
  checks: readonly string[];
  /** Unique indexes built on the shadow, each attached at the swap as the named UNIQUE constraint (`ADD CONSTRAINT ... UNIQUE USING INDEX`). */
  uniques: ReadonlyArray<{ name: string; index: string }>;
  /** Foreign keys (the definition after `ADD CONSTRAINT name`) added NOT VALID at the swap and validated as the moved ones are. */
  foreignKeys: ReadonlyArray<{ name: string; def: string }>;
}

/** The options that shape the statements (the rest of RenameSwapOptions is about reporting). */
export interface RenameStepOptions {
  /** Planned column differences (see {@link ColumnChanges}); none by default: the shadow is a full copy. */
  columnChanges?: ColumnChanges;
  /** Trigger names on the original not to recreate (the repack's capture trigger). */
  excludeTriggers?: readonly string[];
  /** OIDs of the caller's helper tables that depend on the table (e.g. a change log of its row type) and are dropped before the swap. */
  ignoreRelations?: readonly number[];
  /**
   * `'inside'` (default): foreign keys are re-added NOT VALID and validated in this transaction, so they are exactly
   * as before at commit. `'after-commit'`: they stay NOT VALID and the VALIDATE statements are returned in
   * `afterCommit`, to run after the commit (VALIDATE takes only SHARE UPDATE EXCLUSIVE).
   */
  foreignKeyValidation?: 'inside' | 'after-commit';
  /**
   * The partition is one leaf of a whole partitioned table swapped at once (`--alter` on a
   * partitioned table): the caller drops the foreign keys referencing the partitioned table before
   * the leaves are detached and adds them again after, so the leaf's inherited ones are left to it.
   */
  partitionTree?: boolean;
  /**
   * Materialized views reading the table directly are the caller's to rebuild after the commit: the swap
   * leaves them on the old table (which must then be kept until they are rebuilt) instead of refusing.
   */
  keepMaterializedViews?: boolean;
}

/** What a statement of the rename swap is for. */
export type RenameStepName =
  | 'check'
  | 'owner'
  | 'publication'
  | 'foreign key'
  | 'index'
  | 'sequence'
  | 'statistics'
  | 'rename'
  | 'constraint'
  | 'comment'
  | 'trigger'
  | 'row security'
  | 'policy'
  | 'grant'
  | 'reloptions'
  | 'replica identity'
  | 'cluster'
  | 'column'
  | 'view'
  | 'partition';

/**
 * One statement of a planned rename swap. `phase` says when it runs: `check` first, under ACCESS
 * EXCLUSIVE (it raises unless the lock is held and nothing changed), then every `swap` step in
 * order in the same transaction, and `after-commit` ones after the commit.
 */
export interface RenameSwapStep {
  name: RenameStepName;
  sql: string;
  phase: 'check' | 'swap' | 'after-commit';
}

/** What the swap moves to the new table, by name, for the result. */
export interface RenameMoved {
  indexes: string[];
  constraints: string[];
  foreignKeysOut: string[];
  foreignKeysIn: string[];
  triggers: string[];
  policies: string[];
  views: string[];
  publications: string[];
  sequencesReowned: string[];
  identityContinued: string[];
  statistics: string[];
  grants: number;
}

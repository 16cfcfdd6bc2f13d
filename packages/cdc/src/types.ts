import type { Logger } from '@pgtools/core';

/** A table by schema, name and OID (the OID names our objects; schema and name are for SQL and messages). */
export interface TableRef {
  schema: string;
  name: string;
  oid: number;
}

/**
 * Where a target column's value comes from in a log apply: the logged row's column of that name, or an
 * expression over the logged row's columns (by bare name: the row is expanded in a subquery of its
 * own, so the names resolve to its columns only). The expression is SQL text the caller has checked.
 */
export type ColumnSource = { column: string } | { expression: string };

/** Where a table lives: schema and name. */
export interface RelationName {
  schema: string;
  name: string;
}

/**
 * The names of the capture objects for one table. Derived from the table OID only, so a later
 * run (or `findCaptures`) can find leftovers without knowing what the crashed run remembered.
 */
export interface CdcNames {
  tableOid: number;
  toolSchema: string;
  /** `log_<oid>` in the tool schema. */
  logTable: string;
  /** `!pgtools_capture_<oid>` on the captured table (the `!` makes it fire first among AFTER triggers). */
  triggerName: string;
  /** `capture_<oid>` in the tool schema. */
  functionName: string;
}

/** What `createCapture` made: the names plus the table and key they were made for. */
export interface CdcObjects extends CdcNames {
  table: TableRef;
  keyColumns: string[];
  /** Per key column, the key index's equality operator as SQL; lets `applyLog` skip the catalog lookup. */
  keyOperators: string[];
}

/** Counts of one or more applied batches, per operation kind as logged. */
export interface ApplyStats {
  /** Log entries applied (and deleted from the log). */
  entries: number;
  inserts: number;
  updates: number;
  deletes: number;
  /** Batches (transactions) that applied at least one entry. */
  batches: number;
}

/** Options of `applyLog`. */
export interface ApplyLogOptions {
  objects: CdcNames;
  /** The shadow table S the log is replayed onto. */
  target: RelationName;
  /** Column names of the table's unique NOT NULL key, in index order. */
  keyColumns: string[];
  /** The table's non-dropped columns (generated ones included): S has exactly these, as plain columns. */
  columns: string[];
  /** S has identity columns GENERATED ALWAYS among `columns`: insert with OVERRIDING SYSTEM VALUE to keep the logged values. */
  overridingSystemValue?: boolean;
  /** Parallel to `columns`: how each is computed from a logged row (an online schema change); see `ApplySqlParts`. */
  columnSources?: readonly ColumnSource[];
  /** Parallel to `keyColumns`: the type the logged keys are cast to (the key's type changed), or null; see `ApplySqlParts`. */
  keyCasts?: ReadonlyArray<string | null>;
  /** Log entries per batch (one transaction each). Default 1000. */
  batchSize?: number;
  /**
   * `'own'` (default): each batch runs in its own transaction (BEGIN/COMMIT here).
   * `'caller'`: the client is already inside a transaction (e.g. the final drain under the swap
   * lock); statements run in it and the caller commits or rolls back.
   */
  transaction?: 'own' | 'caller';
  signal?: AbortSignal;
  logger?: Logger;
}

/** Options of `applyLogUntil`. */
export interface ApplyLogUntilOptions extends ApplyLogOptions {
  /** Stop after a batch that applied fewer entries than this (pg_repack's threshold). Default 1: drain. */
  stopBelow?: number;
  /** Upper bound on batches in this call; default unbounded. */
  maxBatches?: number;
  /** Called after each batch that applied something. */
  onBatch?: (stats: ApplyStats) => void;
}

/** Result of `applyLogUntil`: totals, and why it stopped. */
export interface ApplyUntilStats extends ApplyStats {
  stoppedBy: 'below-threshold' | 'max-batches';
}

/** A capture object set found in the catalog (possibly partial, possibly for a dropped table). */
export interface FoundCapture {
  names: CdcNames;
  /** The captured table as it is named now, or null when no table with that OID exists. */
  table: RelationName | null;
  hasLogTable: boolean;
  hasFunction: boolean;
  hasTrigger: boolean;
}

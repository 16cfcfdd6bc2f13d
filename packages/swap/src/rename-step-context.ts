import type { TableInfo } from './catalog.js';
import type { RenameFacts, RenameMoved, RenameStepName, RenameTableFacts } from './rename-facts.js';

/** What the section builders share: the facts, where the statements go, and names worked out on the way. */
export interface StepContext {
  facts: RenameFacts;
  attached: RenameTableFacts;
  original: TableInfo;
  shadow: TableInfo;
  /** The table's quoted name; after the renames it means the new table. */
  T: string;
  /** Adds a statement run in the locked transaction. */
  swap: (name: RenameStepName, sql: string) => void;
  /** Adds a statement run after the commit. */
  afterCommit: (name: RenameStepName, sql: string) => void;
  moved: RenameMoved;
  /** Columns of the original the caller left out of the shadow on purpose (`RenameStepOptions.columnChanges`). */
  droppedColumns: ReadonlySet<string>;
  /** The name each of the original's indexes (by OID) has on the new table, filled by the index steps. */
  indexName: Map<number, string>;
}

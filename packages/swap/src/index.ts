export { catalogSwap, prepareCatalogSwap, executeCatalogSwap, catalogSwapStatements, finishCatalogSwap, catalogSwapError } from './catalog-swap.js';
export type { CatalogSwapOptions, CatalogSwapResult, CatalogSwapPlan, CatalogSwapStatement } from './catalog-swap.js';
export type { TableInfo as SwapTableInfo } from './catalog.js';
export { withSearchPath } from './catalog.js';
export { renameSwap, prepareRenameSwap, executeRenameSwap, renameSwapStatements, finishRenameSwap, renameSwapError } from './rename-swap.js';
export type { RenameSwapOptions, RenameSwapResult, RenameSwapPlan, RenameSwapStep } from './rename-swap.js';
export { readRenameFacts } from './rename-read.js';
export { renameBlockers, renameSwapRefusal } from './rename-refusal.js';
export type { RenameSwapAccepted } from './rename-refusal.js';
export { renameSwapSteps } from './rename-steps.js';
export { readDependentViews, recreatesViews, viewTreeBlockers, viewTreeSteps } from './rename-views.js';
export type { DependentView } from './rename-views.js';
export { createViewSql } from './reloptions.js';
export { aclSteps } from './acl-steps.js';
export type { AclTarget } from './acl-steps.js';
export type { RenameSwapSteps } from './rename-steps.js';
export type {
  AclEntry as RenameAclEntry,
  AddedConstraints,
  ColumnChanges,
  CheckFacts,
  ForeignKeyFacts,
  NotNullFacts,
  PartitionFacts,
  PolicyFacts,
  RenameDependent,
  RenameFacts,
  RenameMoved,
  RenameStepName,
  RenameStepOptions,
  RenameTableFacts,
  SequenceFacts,
  StatObject,
} from './rename-facts.js';
export type { IndexLookup, IndexPairFacts } from './preconditions.js';
export { createRenameShadow, renameCopyColumns, renameShadowStatements } from './rename-shadow.js';
export type { CreateRenameShadowOptions, CreateRenameShadowResult, RenameCopyColumns } from './rename-shadow.js';
export { indexDefinitionParts, shadowIndexDefinitions, shadowIndexName } from './index-definitions.js';
export type { ShadowIndexDefinition, ShadowIndexDefinitionsOptions } from './index-definitions.js';
export { dropShadow } from './drop-shadow.js';
export type { DropShadowOptions } from './drop-shadow.js';
export type { IndexPair, IndexRef, RelationName, SwapCommonOptions, SwapEvent } from './types.js';

export { cdcObjectNames, tableOidFromName, DEFAULT_TOOL_SCHEMA, TRIGGER_PREFIX } from './names.js';
export { createCapture, prepareCapture, attachCapture } from './create-capture.js';
export type { CreateCaptureOptions } from './create-capture.js';
export { dropCapture, detachCapture } from './drop-capture.js';
export { findCaptures } from './find-captures.js';
export { countLog } from './count-log.js';
export { applyLog, applyLogUntil } from './apply-log.js';
export { resolveKey } from './resolve-key.js';
export type { ResolvedKey } from './resolve-key.js';
export {
  oldKeyColumn,
  buildCreateSchemaSql,
  buildCreateLogTableSql,
  buildCaptureFunctionSql,
  buildCreateTriggerSql,
  buildLogCommentSql,
  buildGrantSql,
  buildDropCaptureSql,
} from './capture-sql.js';
export type { KeyColumnDef } from './capture-sql.js';
export {
  operatorSql,
  buildBatchIdsSql,
  buildApplyDeleteSql,
  buildApplyInsertSql,
  buildApplyPurgeSql,
  buildCountLogSql,
  buildDrainLogSql,
} from './apply-sql.js';
export type { ApplySqlParts, ApplyScope } from './apply-sql.js';
export type {
  TableRef,
  RelationName,
  CdcNames,
  CdcObjects,
  ApplyStats,
  ApplyLogOptions,
  ApplyLogUntilOptions,
  ApplyUntilStats,
  FoundCapture,
  ColumnSource,
} from './types.js';

export { PgToolsError, pgErrorFields, sqlStateOf, wrapPgError, SQLSTATE } from './errors.js';
export type { PgErrorFields, PgToolsErrorOptions } from './errors.js';
export { quoteIdent, quoteQualified, quoteLiteral, parseQualifiedName, displayName, MAX_IDENTIFIER_BYTES } from './quote.js';
export type { QualifiedName } from './quote.js';
export { silentLogger, createStreamLogger, stringifyLogValue } from './logger.js';
export { debugFailure, debugFailureOr } from './debug-failure.js';
export type { Logger, LogFields, LogLevel, LogRecord, StreamLoggerOptions } from './logger.js';
export { prepareSession, withTransaction, isPool } from './session.js';
export type { Queryable, SessionSettings, PoolOrConfig, PoolClient } from './session.js';

export { createHealthApi, parseListen } from './health-api.js';
export type {
  HealthApi,
  HealthApiOptions,
  HealthApiHandlers,
  HealthApiTls,
  HealthApiEvent,
  HandlerResult,
  ConfigSnapshot,
} from './health-api.js';
export type { NodeState, PostgresRole, PostgresState, XlogState, ReplicationInfo, ClusterInfo, ClusterMemberInfo } from './node-state.js';
export { healthCheckStatus, holdsLeaderLock, HEALTH_CHECK_PATHS } from './health-checks.js';
export { statusBody, roleName, formatPatroniTimestamp, DEFAULT_PATRONI_VERSION } from './status-body.js';
export type { PrimaryRoleName } from './status-body.js';
export { renderMetrics } from './metrics.js';
export { parseLag } from './lag.js';
export { mergeConfigPatch, jsonEqual } from './config-patch.js';
export { checkBasicAuth, buildAllowlist, normalizeAddress } from './access.js';
export type { BasicAuth } from './access.js';
export { parseSchedule, validateSwitchover, validateRestart } from './request-validation.js';
export type { SwitchoverRequest, RestartRequest, Rejection } from './request-validation.js';

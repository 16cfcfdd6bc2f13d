// '@pgtools/ha-agent/internals': the agent's parts, for pgtools' own apps, tools and tests. No
// compatibility promise: these change with the agent. The stable surface is re-exported too.
export * from './index.js';
export { probeFromPatroniStatus } from './decision/peer-probe.js';
export { createRestHandlers } from './agent/agent-rest-handlers.js';
export { AgentFence } from './agent/agent-fence.js';
export type { AgentFenceOptions } from './agent/agent-fence.js';
export { MaintenanceQueue } from './agent/agent-maintenance.js';
export { dcsOptionsFromConfig } from './agent/dcs-options.js';
export { pickSyncStandby, synchronousStandbyNames, planSyncReplication, withinSyncnodeLag } from './agent/sync-standby.js';
export type { SyncStandbyChoice, SyncPlan, SyncKeyFacts, SyncnodeLag } from './agent/sync-standby.js';
export { slotRetention, MEMBER_SLOTS_TTL_MS } from './agent/slot-retention.js';
export type { SlotRetention } from './agent/slot-retention.js';
export { LeaderLease, LEASE_GUARD_MARGIN_MS } from './agent/leader-lease.js';
export type { Clock } from './agent/leader-lease.js';
export { buildMemberData, buildNodeState, buildClusterInfo } from './agent/published-state.js';
export type { PublishedFacts } from './agent/published-state.js';
export type { PgState } from './agent/agent-state.js';
export type { MaintenanceHost } from './agent/agent-maintenance.js';
export type { RestHandlerContext } from './agent/agent-rest-handlers.js';
export { probeMembers } from './agent/peer-probes.js';
export { LeaderStream } from './agent/leader-stream.js';
export { divergedFromHistory, lsnToNumber, parseTimelineHistory } from './agent/timeline-history.js';
export type { TimelineSwitch } from './agent/timeline-history.js';
export { memberServer, serverOf, syncStandbysOf, toDecisionView } from './agent/view-mapping.js';
export { Postmaster, readPidFile } from './postgres/postmaster.js';
export { reapLeftovers, serverProcessesIn, LEFTOVER_QUIT_GRACE_MS } from './postgres/postmaster-leftovers.js';
export type { ProcessId } from './postgres/postmaster-leftovers.js';
export type { StopMode, PostmasterStatus, PostmasterStartOptions } from './postgres/postmaster.js';
export { runBinary, DEFAULT_BIN_DIR } from './postgres/run-binary.js';
export type { RunAs, RunBinaryOptions } from './postgres/run-binary.js';
export { parseControlData, readControlData, wasPrimary } from './postgres/controldata.js';
export type { ControlData } from './postgres/controldata.js';
export { forcedSettings, fileParameters, confValue, splitHostPort } from './postgres/server-settings.js';
export { withConnection, conninfo } from './postgres/pg-connection.js';
export type { PgEndpoint } from './postgres/pg-connection.js';
export { identifyTimeline, queryStatus } from './postgres/pg-status.js';
export type { PgStatus } from './postgres/pg-status.js';
export { ensureInclude, writeManagedConf, MANAGED_CONF } from './postgres/managed-conf.js';
export type { StandbySource } from './postgres/managed-conf.js';
export { slotNameFor, ensureSlots, dropSlots } from './postgres/replication-slots.js';
export { initdb, writeHba, createBootstrapUsers, prepareDataDir } from './postgres/bootstrap-cluster.js';
export { basebackup, rewind, emptyDir } from './postgres/clone-and-rewind.js';
export { CALLBACK_ACTIONS, parseCallbacks } from './config/callbacks-config.js';
export { shlexSplit } from './config/shlex-split.js';
export {
  DYNAMIC_REWIND_DEFAULTS,
  effectiveDynamic,
  primaryStopTimeoutMs,
  parseDynamicPostgresqlRewind,
  parseDynamicRewind,
  parseLocalRewind,
} from './config/rewind-config.js';
export { callbackArgv } from './agent/callback-command.js';
export { CallbackRunner } from './agent/callback-runner.js';
export type { CallbackRunnerOptions } from './agent/callback-runner.js';
export { PostgresCallbacks } from './agent/postgres-callbacks.js';
export type { PostgresCallbacksOptions } from './agent/postgres-callbacks.js';

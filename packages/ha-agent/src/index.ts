export { parseConfig, loadConfig, parseDynamicConfig, configHasPasswords, secretsReadableWarning, ETCD_V2_ADVICE, DYNAMIC_DEFAULTS } from './config/parse-config.js';
export { applyEnvOverrides } from './config/env-overrides.js';
export type { HaConfig, DynamicConfig, NodeTags, Credentials, ParsedConfig } from './config/config-types.js';
export { decide, RECONNECT_KICK_WINDOW_MS, START_RETRY_INTERVAL_MS } from './decision/decide.js';
export { probeFromPatroniStatus } from './decision/peer-probe.js';
export type { HaAction, HaActionKind, DemoteMode } from './decision/ha-action.js';
export type {
  DecisionInput,
  ClusterView,
  ClusterMember,
  FailoverRequest,
  LocalState,
  DecisionConfig,
  PeerProbe,
  MemberRole,
  LastLeader,
} from './decision/decision-input.js';
export { HaAgent } from './agent/ha-agent.js';
export type { HaAgentOptions } from './agent/ha-agent.js';
export type { HaAgentEvent, AgentRole } from './agent/agent-events.js';
export { createRestHandlers } from './agent/agent-rest-handlers.js';
export { AgentFence } from './agent/agent-fence.js';
export type { AgentFenceOptions } from './agent/agent-fence.js';
export { MaintenanceQueue } from './agent/agent-maintenance.js';
export { dcsOptionsFromConfig } from './agent/dcs-options.js';
export { pickSyncStandby, synchronousStandbyNames, planSyncReplication } from './agent/sync-standby.js';
export type { SyncStandbyChoice, SyncPlan, SyncKeyFacts } from './agent/sync-standby.js';
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
export { PostgresControl } from './postgres/postgres-control.js';
export type { PostgresControlOptions, RemoteServer } from './postgres/postgres-control.js';
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
export { queryStatus } from './postgres/pg-status.js';
export type { PgStatus } from './postgres/pg-status.js';
export { ensureInclude, writeManagedConf, MANAGED_CONF } from './postgres/managed-conf.js';
export type { StandbySource } from './postgres/managed-conf.js';
export { slotNameFor, ensureSlots, dropSlots } from './postgres/replication-slots.js';
export { initdb, writeHba, createBootstrapUsers, prepareDataDir } from './postgres/bootstrap-cluster.js';
export { basebackup, rewind, emptyDir } from './postgres/clone-and-rewind.js';

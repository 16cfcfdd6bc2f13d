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
export { slotRetention, slotPlan } from './agent/slot-retention.js';
export type { SlotRetention, SlotPlan } from './agent/slot-retention.js';
export { failoverTags, syncTags } from './decision/failover-tags.js';
export type { FailoverTags } from './decision/failover-tags.js';
export { upstreamOf } from './decision/upstream.js';
export { inStandbyCluster } from './decision/standby-cluster.js';
export {
  checkStandbyMethods,
  isStandbyClusterValue,
  parseStandbyCluster,
  standbyClusterMethods,
  standbyReplicaMethods,
} from './config/standby-cluster-config.js';
export type { StandbyClusterConfig } from './config/standby-cluster-config.js';
export { remoteServer, remoteSource, standbyClusterRecovery } from './postgres/standby-source.js';
export type { UpstreamMember } from './decision/upstream.js';
export { parseTags, publishedTags } from './config/tags-config.js';
export { LeaderLease, LEASE_GUARD_MARGIN_MS } from './agent/leader-lease.js';
export type { Clock } from './agent/leader-lease.js';
export { buildMemberData, buildNodeState, buildClusterInfo, replicationFacts } from './agent/published-state.js';
export type { PublishedFacts } from './agent/published-state.js';
export type { PgState } from './agent/agent-state.js';
export type { MaintenanceHost } from './agent/agent-maintenance.js';
export type { RestHandlerContext } from './agent/agent-rest-handlers.js';
export { postFailsafe, probeMembers, type FailsafeAnswer } from './agent/peer-probes.js';
export { Failsafe, type FailsafeDeps } from './agent/failsafe.js';
export { LeaderStream } from './agent/leader-stream.js';
export { divergedFromHistory, lsnToNumber, parseTimelineHistory } from './agent/timeline-history.js';
export type { TimelineSwitch } from './agent/timeline-history.js';
export { memberServer, serverOf, syncKeyQuorum, syncStandbysOf, toDecisionView, upstreamMembers } from './agent/view-mapping.js';
export { formatSsn, planQuorumStep, quorumSafe, quorumStricter, quorumTarget, ssnForKey } from './agent/quorum-plan.js';
export type { QuorumKey, QuorumPlanInput, QuorumStep, Ssn } from './agent/quorum-plan.js';
export { namesForSyncKey } from './agent/quorum-replication.js';
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
export type { BootstrapRecovery, ManagedRole, StandbySource } from './postgres/managed-conf.js';
export { slotNameFor, ensureSlots, dropSlots } from './postgres/replication-slots.js';
export {
  listSlots,
  createPhysicalSlot,
  createLogicalSlot,
  advanceSlot,
  dropInactiveSlot,
  readSlotStateFiles,
  installSlotStateFile,
} from './postgres/slot-queries.js';
export type { LocalSlot, SlotStateFile } from './postgres/slot-queries.js';
export { permanentSlotPlan, publishedSlotPositions, wantedPermanentSlots } from './agent/permanent-slots.js';
export type { PermanentSlotPlan } from './agent/permanent-slots.js';
export { LogicalReadiness } from './agent/logical-readiness.js';
export { parseSlotsConfig, slotIgnored, MEMBER_SLOTS_TTL_DEFAULT_MS } from './config/slots-config.js';
export type { PermanentSlot, IgnoreSlotMatcher, DynamicSlots, SlotAttributes } from './config/slots-config.js';
export { initdb, createBootstrapUsers, prepareDataDir, setSuperuserPassword } from './postgres/bootstrap-cluster.js';
export { effectiveAuthFiles, writeAuthFiles, writeBootstrapAuthFiles, type AuthFiles } from './postgres/auth-files.js';
export { rewind, emptyDir, emptyDataDir } from './postgres/clone-and-rewind.js';
export { BASEBACKUP_METHOD, BASEBACKUP_REFUSED_OPTIONS, DEFAULT_REPLICA_METHODS, parseBasebackupOptions, parseReplicaConfig } from './config/replica-config.js';
export type { BasebackupMethod, CommandMethod, ReplicaConfig, ReplicaMethod } from './config/replica-config.js';
export { basebackupArgv, customMethodArgv } from './postgres/replica-argv.js';
export type { ReplicaTarget } from './postgres/replica-argv.js';
export { createReplica, createReplicaFor, dirSize, usableMethods, REPLICA_PROGRESS_INTERVAL_MS } from './postgres/create-replica.js';
export type { CloneSource, CreateReplicaOptions, ReplicaCreationEvent } from './postgres/create-replica.js';
export { runCancellable } from './postgres/cancellable-process.js';
export type { CancellableOptions, CancellableResult } from './postgres/cancellable-process.js';
export { CALLBACK_ACTIONS, parseCallbacks } from './config/callbacks-config.js';
export { parseBootstrapScripts } from './config/bootstrap-config.js';
export { customBootstrapArgv, localSuperuserUrl, runBeforeStop, runScript, runPostBootstrap, tidyRestoredDataDir } from './postgres/bootstrap-scripts.js';
export { pgpassContent, writePgpass } from './postgres/pgpass.js';
export type { ScriptExit } from './postgres/bootstrap-scripts.js';
export { shlexSplit } from './config/shlex-split.js';
export { patroniKey } from './config/patroni-keys.js';
export { memberApiHosts } from './agent/agent-api.js';
export { parseRecoveryConf } from './config/recovery-conf.js';
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
export { singleUserRecovery } from './postgres/single-user-recovery.js';
export { defaultSocketDir, localEndpoint, localHost } from './postgres/local-address.js';
export { quorumVotes } from './decision/quorum-vote.js';
export type { QuorumVerdict } from './decision/quorum-vote.js';

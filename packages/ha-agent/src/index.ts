// The stable surface: the agent, its configuration, the decision function and its types, and
// PostgresControl. Everything else is under '@pgtools/ha-agent/internals' (./internals.ts), for
// our apps and tools; it may change in any release.
export { parseConfig, loadConfig, parseDynamicConfig, ETCD_V2_ADVICE, DYNAMIC_DEFAULTS } from './config/parse-config.js';
export { applyEnvOverrides } from './config/env-overrides.js';
export { configHasPasswords, secretsReadableWarning } from './config/secrets.js';
export type { HaConfig, DynamicConfig, NodeTags, Credentials, ParsedConfig } from './config/config-types.js';
export type { CallbackAction, CallbackCommands } from './config/callbacks-config.js';
export { PATRONI_KEYS } from './config/patroni-keys.js';
export type { PatroniKey, KeyStatus } from './config/patroni-keys.js';
export type { BootstrapScripts, CustomBootstrap } from './config/bootstrap-config.js';
export type { DynamicRewindSettings, DynamicPostgresqlRewind, LocalRewindOverrides } from './config/config-types.js';
export { decide, RECONNECT_KICK_WINDOW_MS, START_RETRY_INTERVAL_MS } from './decision/decide.js';
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
  FailsafeAck,
  FailsafeFacts,
} from './decision/decision-input.js';
export { HaAgent } from './agent/ha-agent.js';
export type { HaAgentOptions } from './agent/ha-agent.js';
export type { HaAgentEvent, AgentRole } from './agent/agent-events.js';
export type { CallbackRunnerEvent } from './agent/callback-runner.js';
export type { CallbackRole } from './agent/callback-command.js';
export { PostgresControl } from './postgres/postgres-control.js';
export type { PostgresControlOptions, RemoteServer } from './postgres/postgres-control.js';

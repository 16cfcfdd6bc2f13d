export { parseConfig, loadConfig, parseDynamicConfig, configHasPasswords, ETCD_V2_ADVICE, DYNAMIC_DEFAULTS } from './config/parse-config.js';
export { applyEnvOverrides } from './config/env-overrides.js';
export type { HaConfig, DynamicConfig, NodeTags, Credentials, ParsedConfig } from './config/config-types.js';
export { decide } from './decision/decide.js';
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
} from './decision/decision-input.js';

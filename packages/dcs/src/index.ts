export { EtcdDcs } from './etcd-dcs.js';
export type { EtcdDcsOptions, DcsEvent, WakeListener } from './etcd-dcs-options.js';
export { DCS_ERROR } from './dcs-errors.js';
export { keyLayout } from './key-layout.js';
export type { KeyLayout } from './key-layout.js';
export { parseClusterView, syncStandbys } from './parse-cluster-view.js';
export type { RawKeyValue } from './parse-cluster-view.js';
export { patroniJson } from './patroni-json.js';
export type { KeyChange } from './kv-cache.js';
export type {
  ClusterConfig,
  ClusterView,
  FailoverValue,
  FailsafeValue,
  HistoryEntry,
  LeaderInfo,
  Member,
  MemberData,
  MemberRole,
  MemberTags,
  StatusValue,
  SyncState,
  Versioned,
  ViewProblem,
} from './types.js';

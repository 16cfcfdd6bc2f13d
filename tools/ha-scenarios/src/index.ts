export { agentCommand } from './agent-kind.js';
export type { AgentKind } from './agent-kind.js';
export { nodeConfig, nodeConfigYaml, deepMerge, SCENARIO_TIMINGS } from './node-config.js';
export type { HaTimings, NodeConfigOptions } from './node-config.js';
export { unixHttp } from './unix-http.js';
export type { HttpAnswer } from './unix-http.js';
export { connectSocket, dropClient, socketQuery } from './pg-socket.js';
export type { SocketTarget } from './pg-socket.js';
export { processTree } from './process-tree.js';
export { ScenarioNode } from './scenario-node.js';
export { startScenarioCluster } from './scenario-cluster.js';
export type { ScenarioCluster, ScenarioClusterOptions } from './scenario-cluster.js';
export { checkConvergence, waitConverged } from './convergence.js';
export type { Converged, ConvergenceCheck } from './convergence.js';
export { startWriter, WRITES_TABLE_DDL } from './write-load.js';
export type { Ack, LoadError, WriteLoad } from './write-load.js';
export { startReader } from './read-load.js';
export type { Read, ReadLoad } from './read-load.js';
export { startSplitBrainDetector, analyzeAcceptances, PROBE_TABLE_DDL } from './split-brain.js';
export type { Acceptance, ProbeTarget, SplitBrainDetector, SplitBrainReport } from './split-brain.js';
export { outageWindow } from './outage.js';
export type { Outage } from './outage.js';
export { findLostWrites } from './lost-writes.js';
export {
  partitionNode,
  healNode,
  signalAgent,
  stallAgent,
  signalPostmaster,
  killBackend,
  powerLoss,
  stopEtcd,
  startEtcdAgain,
  restartAgent,
} from './faults.js';
export { runScenario, formatScenarioSummary, waitForNewPrimary } from './scenario-run.js';
export type { ScenarioContext, ScenarioResult, ScenarioSpec } from './scenario-run.js';
export { agentRss } from './agent-rss.js';
export type { AgentRss } from './agent-rss.js';
export { waitStreaming } from './rejoin.js';
export { haBenchSpec, finishHaBenchExtras, HA_BENCH_SCENARIOS, HA_BENCH_TITLES } from './bench-ha-scenarios.js';
export type { HaBenchExtras, HaBenchScenario, HaBenchSpecOptions } from './bench-ha-scenarios.js';
export { runHaBench } from './bench-ha.js';
export type { HaBenchEvent, HaBenchMeasurement, HaBenchOptions, HaBenchReport } from './bench-ha.js';
export { formatHaBenchTable } from './bench-ha-table.js';
export { runHaSoak, soakDrift, formatSoakTable, SOAK_TIMINGS } from './bench-ha-soak.js';
export type { HaSoakDrift, HaSoakOptions, HaSoakReport, HaSoakSample } from './bench-ha-soak.js';
export { parseHaBenchArgs, HA_BENCH_USAGE } from './bench-ha-args.js';
export type { HaBenchArgs } from './bench-ha-args.js';
export { waitForSyncStandby } from './sync-standby.js';
export { runFaultSequence, attributeLosses, formatSequenceSummary } from './fault-sequence.js';
export type { AttributedLoss, SequenceContext, SequenceFault, SequenceResult, SequenceSpec } from './fault-sequence.js';
export { crashThenPowerLoss, crashThenAgentKill, switchoverThenCrashThenPowerLoss, replicasStreamingAgain, SECOND_FAULT_AFTER_MS } from './fault-sequences.js';
export { runBenchSequences, benchSequenceSpec, formatSequenceTable, HA_BENCH_SEQUENCES, ASYNC_LOSS_BOUND_MS } from './bench-ha-sequences.js';
export type { HaBenchMode, HaBenchSequence, HaBenchSequenceMeasurement } from './bench-ha-sequences.js';

import { holdsLeaderLock } from './leader-lock.js';
import { parseLag } from './lag.js';
import type { NodeState } from './node-state.js';

/** Patroni's default `maximum_lag_on_failover`, the readiness limit when neither the request nor the state gives one. */
const DEFAULT_MAXIMUM_LAG = 1_048_576;

/**
 * Why `GET /readiness` answers 503 (Patroni 4.1's `_readiness`), or undefined when the node is
 * ready: the leader always is; a replica when PostgreSQL runs, streams, and its replay (`?mode=write`:
 * what it received) is within `?lag=` (default `maximum_lag_on_failover`) of the leader's WAL end,
 * the newer of the `status` key's optime and what the WAL receiver last heard.
 *
 * @example
 * ```ts
 * import { readinessFailure } from '@pgtools/health-api';
 * readinessFailure(new URLSearchParams('lag=16MB&mode=write'), state, Date.now()); // undefined when ready
 * ```
 */
export function readinessFailure(query: URLSearchParams, state: NodeState, now: number): string | undefined {
  if (holdsLeaderLock(state, now)) return undefined;
  const pg = state.postgres;
  if (pg.state !== 'running') return 'PostgreSQL is not running';
  if (pg.replicationState !== 'streaming') return 'PostgreSQL replication state is not streaming';
  const heard = pg.latestEndLocation ?? 0;
  // Patroni 4.1: a replica the primary keeps posting to (failsafe mode) is ready without etcd.
  if (!state.dcsAvailable && heard === 0) return state.failsafeActive ? undefined : 'DCS is not accessible';
  const leaderEnd = Math.max(state.dcsAvailable ? (state.clusterOptime ?? 0) : 0, heard);
  const mode = query.get('mode') === 'write' ? 'write' : 'apply';
  const here = (mode === 'write' ? pg.xlog?.receivedLocation : pg.xlog?.replayedLocation) ?? 0;
  const limit = parseLag(query.get('lag') ?? undefined) ?? state.maximumLagOnFailover ?? DEFAULT_MAXIMUM_LAG;
  const lag = leaderEnd - here;
  return lag > limit ? `Replication ${mode} lag ${lag} exceeds maximum allowable ${limit}` : undefined;
}

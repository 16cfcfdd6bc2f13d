import { parseLag } from './lag.js';
import { holdsLeaderLock } from './leader-lock.js';
import type { NodeState } from './node-state.js';
import { readinessFailure } from './readiness.js';

/**
 * Paths answered by the role checks (HAProxy, load balancers, Kubernetes probes).
 *
 * @example
 * ```ts
 * import { HEALTH_CHECK_PATHS } from '@pgtools/health-api';
 * HEALTH_CHECK_PATHS.has('/replica'); // true
 * ```
 */
export const HEALTH_CHECK_PATHS: ReadonlySet<string> = new Set([
  '/',
  '/primary',
  '/master',
  '/read-write',
  '/leader',
  '/standby-leader',
  '/standby_leader',
  '/replica',
  '/read-only',
  '/sync',
  '/synchronous',
  '/read-only-sync',
  '/read-only-synchronous',
  '/quorum',
  '/read-only-quorum',
  '/async',
  '/asynchronous',
  '/health',
  '/liveness',
  '/readiness',
]);

function truthy(value: unknown): boolean {
  if (typeof value === 'string') return ['true', 'yes', 'on', '1', 'y', 't'].includes(value.toLowerCase());
  return Boolean(value);
}

/**
 * The status code of a role check (`/primary`, `/replica?lag=10MB&tag_zone=a`, `/liveness`...),
 * following Patroni's rules; `undefined` when `path` is not a role check.
 *
 * Deliberately stricter than Patroni in one place: `/primary` (and `/`, `/master`, `/read-write`)
 * also needs PostgreSQL running as primary, so HAProxy does not send writes to a leader that is
 * still restarting read-only after a crash.
 *
 * @example
 * ```ts
 * import { healthCheckStatus } from '@pgtools/health-api';
 * healthCheckStatus('/replica', new URLSearchParams('lag=16kB'), state, Date.now()); // 200 or 503
 * ```
 */
export function healthCheckStatus(path: string, query: URLSearchParams, state: NodeState, now: number): 200 | 503 | undefined {
  if (!HEALTH_CHECK_PATHS.has(path)) return undefined;
  const pg = state.postgres;
  const running = pg.state === 'running';
  const tags = state.tags ?? {};
  const ok = (cond: boolean): 200 | 503 => (cond ? 200 : 503);

  if (path === '/liveness') {
    if (state.paused || state.lastLoopAt === undefined) return 200;
    const ttl = state.ttl ?? 30;
    const threshold = ttl * (pg.role === 'primary' && running ? 1 : 2) * 1000;
    return ok(state.lastLoopAt + threshold > now);
  }
  if (path === '/readiness') return ok(readinessFailure(query, state, now) === undefined);

  const lagLimit = parseLag(query.get('lag') ?? undefined) ?? Number.POSITIVE_INFINITY;
  const optime = state.clusterOptime ?? 0;
  const replayed = pg.xlog?.replayedLocation ?? 0;
  const lagging = optime > 0 && optime > replayed + lagLimit;
  // Patroni after 4.1: `?replication_state=streaming` keeps out replicas still catching up from the archive.
  const wantedState = query.get('replication_state');
  const stateMatches = wantedState === null || wantedState === '' || pg.replicationState === wantedState;
  const replicaCode = ok(!truthy(tags.noloadbalance) && !lagging && stateMatches && pg.role === 'replica' && running);

  let leaderCode: 200 | 503 = 503;
  let primaryCode: 200 | 503 = 503;
  let standbyLeaderCode: 200 | 503 = 503;
  if (!state.dcsAvailable && state.paused) {
    // Maintenance mode without etcd: nobody acts on roles, so report what PostgreSQL is.
    leaderCode = ok(pg.role === 'primary' || pg.role === 'standby_leader');
    primaryCode = ok(pg.role === 'primary' && running);
    standbyLeaderCode = ok(pg.role === 'standby_leader');
  } else if (holdsLeaderLock(state, now)) {
    leaderCode = 200;
    if (state.standbyCluster) {
      standbyLeaderCode = ok(pg.role === 'replica' || pg.role === 'standby_leader');
    } else {
      primaryCode = ok(pg.role === 'primary' && running);
    }
  }

  let status: 200 | 503 = 503;
  let ignoreTags = false;
  switch (path) {
    case '/standby-leader':
    case '/standby_leader':
      status = standbyLeaderCode;
      ignoreTags = true;
      break;
    case '/leader':
      status = leaderCode;
      ignoreTags = true;
      break;
    case '/':
    case '/primary':
    case '/master':
    case '/read-write':
      status = primaryCode;
      ignoreTags = true;
      break;
    case '/replica':
      status = replicaCode;
      break;
    case '/read-only':
      status = primaryCode === 200 || standbyLeaderCode === 200 ? 200 : replicaCode;
      break;
    case '/health':
      status = ok(running);
      break;
    case '/sync':
    case '/synchronous':
      if (state.dcsAvailable && state.isSyncStandby) status = replicaCode;
      break;
    case '/async':
    case '/asynchronous':
      if (state.dcsAvailable && !state.isSyncStandby && !state.isQuorumStandby) status = replicaCode;
      break;
    case '/quorum':
      if (state.dcsAvailable && state.isQuorumStandby) status = replicaCode;
      break;
    case '/read-only-sync':
    case '/read-only-synchronous':
    case '/read-only-quorum':
      if (!state.dcsAvailable) break;
      if (primaryCode === 200 || standbyLeaderCode === 200) status = 200;
      else if (path === '/read-only-quorum' ? state.isQuorumStandby : state.isSyncStandby) status = replicaCode;
      break;
  }

  if (!ignoreTags && status === 200) {
    for (const [key, wanted] of query) {
      if (!key.startsWith('tag_')) continue;
      const actual = tags[key.slice(4)];
      if (actual === undefined || actual === null) return 503;
      const text = typeof actual === 'string' ? actual : String(actual).toLowerCase();
      if (text !== wanted) return 503;
    }
  }
  return status;
}

import { holdsLeaderLock } from './leader-lock.js';
import type { NodeState } from './node-state.js';
import { DEFAULT_PATRONI_VERSION } from './status-body.js';

function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function epochSeconds(value: string | Date | null | undefined): number {
  if (value === undefined || value === null) return 0;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value.replace(' UTC', 'Z').replace(' ', 'T'));
  return Number.isFinite(ms) ? ms / 1000 : 0;
}

/** Patroni 4.1's `PostgresqlState` names in index order (patroni/postgresql/misc.py). */
const POSTGRES_STATES = [
  'initializing new cluster',
  'initdb failed',
  'running custom bootstrap script',
  'custom bootstrap failed',
  'creating replica',
  'running',
  'starting',
  'starting after custom bootstrap',
  'start failed',
  'restarting',
  'restart failed',
  'stopping',
  'stopped',
  'stop failed',
  'crashed',
] as const;

/**
 * The `GET /metrics` body: Prometheus text format with Patroni's metric names, each labelled
 * `{scope="..."}` like Patroni 3.0.2, plus the ones Patroni 4.1 added (`patroni_quorum_standby`,
 * `patroni_postgres_streaming`, `patroni_postgres_in_archive_recovery`, `patroni_postgres_state`).
 *
 * @example
 * ```ts
 * import { renderMetrics } from '@pgtools/health-api';
 * const text = renderMetrics(state, Date.now());
 * // patroni_primary{scope="demo"} 1
 * ```
 */
export function renderMetrics(state: NodeState, now: number): string {
  const pg = state.postgres;
  const running = pg.state === 'running';
  const x = pg.xlog ?? {};
  const leader = holdsLeaderLock(state, now);
  const isPrimary = running && pg.role === 'primary';
  const labels = `{scope="${labelValue(state.scope)}"}`;
  const version = (state.version ?? DEFAULT_PATRONI_VERSION)
    .split('.')
    .map((p) => p.replace(/\D.*$/, '').padStart(2, '0'))
    .join('');
  const b = (v: boolean | undefined): number => (v ? 1 : 0);
  // Patroni 4.1 prints these two only for a server that has replication states (9.6 and later).
  const replicaStates = (pg.serverVersion ?? 0) >= 90600;
  type Metric = [string, 'gauge' | 'counter', string, number | string];
  const metrics: Metric[] = [
    ['patroni_version', 'gauge', 'Patroni semver without periods.', version],
    ['patroni_postgres_running', 'gauge', 'Value is 1 if Postgres is running, 0 otherwise.', b(running)],
    ['patroni_postmaster_start_time', 'gauge', 'Epoch seconds since Postgres started.', running ? epochSeconds(pg.postmasterStartTime) : 0],
    ['patroni_primary', 'gauge', 'Value is 1 if this node is the leader, 0 otherwise.', b(isPrimary && leader)],
    ['patroni_master', 'gauge', 'Value is 1 if this node is the leader, 0 otherwise.', b(isPrimary && leader)],
    [
      'patroni_xlog_location',
      'counter',
      'Current location of the Postgres transaction log, 0 if this node is not the leader.',
      isPrimary ? (x.location ?? 0) : 0,
    ],
    ['patroni_standby_leader', 'gauge', 'Value is 1 if this node is the standby_leader, 0 otherwise.', b(running && pg.role === 'standby_leader')],
    ['patroni_replica', 'gauge', 'Value is 1 if this node is a replica, 0 otherwise.', b(running && pg.role === 'replica')],
    [
      'patroni_sync_standby',
      'gauge',
      'Value is 1 if this node is a sync standby replica, 0 otherwise.',
      b(running && pg.role === 'replica' && state.isSyncStandby),
    ],
    [
      'patroni_quorum_standby',
      'gauge',
      'Value is 1 if this node is a quorum standby, 0 otherwise.',
      b(running && pg.role === 'replica' && state.isQuorumStandby),
    ],
    [
      'patroni_xlog_received_location',
      'counter',
      'Current location of the received Postgres transaction log, 0 if this node is not a replica.',
      isPrimary || !running ? 0 : (x.receivedLocation ?? x.replayedLocation ?? 0),
    ],
    [
      'patroni_xlog_replayed_location',
      'counter',
      'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.',
      isPrimary || !running ? 0 : (x.replayedLocation ?? 0),
    ],
    [
      'patroni_xlog_replayed_timestamp',
      'gauge',
      'Current timestamp of the replayed Postgres transaction log, 0 if null.',
      isPrimary || !running ? 0 : epochSeconds(x.replayedTimestamp),
    ],
    ['patroni_xlog_paused', 'gauge', 'Value is 1 if the Postgres xlog is paused, 0 otherwise.', b(!isPrimary && running && x.paused)],
    ...(replicaStates
      ? ([
          ['patroni_postgres_streaming', 'gauge', 'Value is 1 if Postgres is streaming, 0 otherwise.', b(pg.replicationState === 'streaming')],
          [
            'patroni_postgres_in_archive_recovery',
            'gauge',
            'Value is 1 if Postgres is replicating from archive, 0 otherwise.',
            b(pg.replicationState === 'in archive recovery'),
          ],
        ] satisfies Metric[])
      : []),
    ['patroni_postgres_server_version', 'gauge', 'Version of Postgres (if running), 0 otherwise.', running ? (pg.serverVersion ?? 0) : 0],
    ['patroni_cluster_unlocked', 'gauge', 'Value is 1 if the cluster is unlocked, 0 if locked.', b(!state.dcsAvailable || state.clusterUnlocked)],
    ['patroni_postgres_timeline', 'counter', 'Postgres timeline of this node (if running), 0 otherwise.', running ? (pg.timeline ?? 0) : 0],
    ['patroni_dcs_last_seen', 'gauge', 'Epoch timestamp when DCS was last contacted successfully by Patroni.', state.dcsLastSeen ?? 0],
    ['patroni_pending_restart', 'gauge', 'Value is 1 if the node needs a restart, 0 otherwise.', b(pg.pendingRestart)],
    ['patroni_is_paused', 'gauge', 'Value is 1 if auto failover is disabled, 0 otherwise.', b(state.paused)],
    ['patroni_failsafe_mode_is_active', 'gauge', 'Value is 1 if failsafe mode is active, 0 if inactive.', b(state.failsafeActive)],
  ];
  // The agent's own memory (prom-client's names), for leak watching: the soak bench reads these.
  const mem = process.memoryUsage();
  metrics.push(
    ['process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', mem.rss],
    ['nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', mem.heapUsed],
  );
  const lines: string[] = [];
  for (const [name, type, help, value] of metrics) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
  }
  // Patroni 4.1's numeric state, with its fixed indexes (never renumbered: dashboards keep them).
  lines.push(
    '# HELP patroni_postgres_state Numeric representation of Postgres state.',
    `# Values: ${POSTGRES_STATES.map((name, i) => `${i}=${name}`).join(', ')}`,
    '# TYPE patroni_postgres_state gauge',
    `patroni_postgres_state${labels} ${POSTGRES_STATES.indexOf(pg.state as (typeof POSTGRES_STATES)[number])}`,
  );
  return `${lines.join('\n')}\n`;
}

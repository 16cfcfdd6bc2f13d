import type { Logger } from '@pgtools/core';
import type { LocalState } from '../decision/decision-input.js';
import type { PgStatus } from '../postgres/pg-status.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { AgentRole } from './agent-events.js';
import { wasPrimary } from '../postgres/controldata.js';
import { withConnection } from '../postgres/pg-connection.js';
import { debugFailure, errMessage } from './agent-errors.js';
import type { AgentRunState } from './agent-state.js';
import { serverOf } from './view-mapping.js';
import type { LeaderStream } from './leader-stream.js';
import { divergedFromHistory, parseTimelineHistory } from './timeline-history.js';

/** What `observeLocal` reads from and records in. */
export interface LocalFactsDeps {
  state: AgentRunState;
  pg: PostgresControl;
  leaderStream: LeaderStream;
  logger: Logger;
  setRole(role: AgentRole, reason: string): void;
}

/**
 * Feeds a status read to `leaderStream`. Every read that can be published must go through here: a
 * member key saying `streaming` that the failover rule never saw would let a replica look ready to
 * others while it refuses to take over (seen when the leader died within a loop of a replica's start).
 */
export function observeStreaming(leaderStream: LeaderStream, status: PgStatus, state: AgentRunState): void {
  leaderStream.observeReceiver(status, serverOf(leaderStream.lastLeader?.name, state.name, state.view));
}

/**
 * Reads this node's PostgreSQL for the decision (`LocalState`): running or not, role, timeline,
 * WAL positions, system identifier, what it streamed from the leader. Records what it saw in the
 * shared state (the published state follows it).
 */
export async function observeLocal(d: LocalFactsDeps): Promise<LocalState> {
  const { state, pg, leaderStream } = d;
  const local: LocalState = { postgresRunning: false, role: 'replica', dataDirEmpty: false };
  if (pg.isRunning) {
    const status = await pg.status();
    if (status) {
      state.pgStatus = status;
      state.pgState = 'running';
      state.postgresDownSince = undefined;
      local.postgresRunning = true;
      local.role = status.inRecovery ? 'replica' : 'primary';
      local.timeline = status.timeline;
      if (status.walPosition !== undefined) local.walPosition = status.walPosition;
      if (status.receivedLsn !== undefined) local.receivedLsn = status.receivedLsn;
      if (status.replayedLsn !== undefined) local.replayedLsn = status.replayedLsn;
      local.systemId = status.systemId;
      state.systemId = status.systemId;
      observeStreaming(leaderStream, status, state);
      const streamed = leaderStream.streamedAt;
      if (streamed !== undefined) local.streamedFromLeaderAt = streamed;
      // A standby leader stays one while it runs in recovery (the lead_standby action says when it is).
      if (!(status.inRecovery && state.role === 'standby_leader')) d.setRole(status.inRecovery ? 'replica' : 'primary', 'observed');
    } else {
      state.pgStatus = undefined;
      state.pgState = 'starting';
      local.postgresRunning = true;
      local.postgresStarting = true;
    }
  } else {
    state.pgStatus = undefined;
    local.dataDirEmpty = await pg.dataDirEmpty();
    if (!local.dataDirEmpty) {
      if (state.pgState === 'running' || state.pgState === 'starting') state.pgState = 'stopped';
      state.postgresDownSince ??= Date.now();
      local.postgresDownSince = state.postgresDownSince;
      if (!state.systemId || !state.mayHaveDiverged) {
        const cd = await pg.controlData().catch(debugFailure(d.logger, 'reading pg_controldata'));
        if (cd?.systemId && !state.systemId) state.systemId = cd.systemId;
        // A data dir last run as a primary (an agent started on the old primary's data) must not follow unchecked.
        if (cd && wasPrimary(cd.clusterState)) state.mayHaveDiverged = true;
      }
      if (state.systemId) local.systemId = state.systemId;
    } else {
      state.pgState = 'stopped';
      d.setRole('uninitialized', 'empty data directory');
    }
  }
  if (state.mayHaveDiverged) local.mayHaveDiverged = true;
  if (state.rewindFailedAt !== undefined) local.rewindFailedAt = state.rewindFailedAt;
  if (state.lastStartAttempt > 0) local.lastStartAttemptAt = state.lastStartAttempt;
  return local;
}

/** How often a replica on an older timeline than its leader's reads the leader's history file. */
const FORK_CHECK_INTERVAL_MS = 5000;

/**
 * A replica on an older timeline than `leader`'s (checked at most every 5 s): is it past the point
 * where the leader's timeline forked from its own? Read from the leader's history file. The fact
 * `replayedPastFork` of `decide()`; false when it cannot tell.
 */
export async function replayedPastFork(d: LocalFactsDeps, leader: string, server: { host: string; port: number }): Promise<boolean> {
  const { state, pg } = d;
  const s = state.pgStatus;
  const leaderTimeline = state.view?.members.find((m) => m.name === leader)?.data.timeline;
  if (!s?.inRecovery || typeof leaderTimeline !== 'number' || leaderTimeline <= s.timeline) return false;
  if (Date.now() - state.divergenceCheckedAt < FORK_CHECK_INTERVAL_MS) return false;
  state.divergenceCheckedAt = Date.now();
  // The timeline reported from the last restartpoint lags a replay that already switched to the
  // leader's timeline (after pg_rewind, or a restart before the receiver connects); the minimum
  // recovery point's timeline follows the replay. Without this, a rewound or merely restarted
  // replica would look diverged (and be rewound again, or cloned again).
  const replayTimeline = await withConnection(pg.localEndpoint(), async (c) =>
    Number((await c.query<{ t: number | null }>('SELECT min_recovery_end_timeline AS t FROM pg_control_recovery()')).rows[0]?.t ?? 0),
  ).catch(() => 0);
  if (replayTimeline >= leaderTimeline) return false;
  const a = state.config.postgresql.authentication;
  const user = a.rewind ?? a.superuser;
  const file = `pg_wal/${leaderTimeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
  try {
    const text = await withConnection(
      { host: server.host, port: server.port, user: user.username, password: user.password },
      async (c) => (await c.query<{ t: string }>('SELECT pg_read_file($1) AS t', [file])).rows[0]?.t ?? '',
    );
    // PostgreSQL checks the replay position against the fork: WAL received past it but not replayed is simply discarded.
    return divergedFromHistory(s.timeline, s.replayedLsn ?? s.receivedLsn ?? 0, parseTimelineHistory(text));
  } catch (err) {
    d.logger.debug(`timeline history of ${leader}: ${errMessage(err)}`);
    return false;
  }
}

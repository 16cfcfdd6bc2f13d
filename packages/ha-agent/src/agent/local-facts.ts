import type { Logger } from '@pgtools/core';
import type { LocalState } from '../decision/decision-input.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { AgentRole } from './agent-events.js';
import { debugFailure } from './agent-errors.js';
import type { AgentRunState } from './agent-state.js';
import { serverOf } from './view-mapping.js';
import type { LeaderStream } from './leader-stream.js';

/** What `observeLocal` reads from and records in. */
export interface LocalFactsDeps {
  state: AgentRunState;
  pg: PostgresControl;
  leaderStream: LeaderStream;
  logger: Logger;
  setRole(role: AgentRole, reason: string): void;
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
      const leader = leaderStream.lastLeader?.name;
      leaderStream.observeReceiver(status, serverOf(leader, state.name, state.view));
      const streamed = leaderStream.streamedAt;
      if (streamed !== undefined) local.streamedFromLeaderAt = streamed;
      d.setRole(status.inRecovery ? 'replica' : 'primary', 'observed');
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
      if (!state.systemId) {
        const cd = await pg.controlData().catch(debugFailure(d.logger, 'reading pg_controldata for the system identifier'));
        if (cd?.systemId) state.systemId = cd.systemId;
      }
      if (state.systemId) local.systemId = state.systemId;
    } else {
      state.pgState = 'stopped';
      d.setRole('uninitialized', 'empty data directory');
    }
  }
  return local;
}

import type { Logger } from '@pgtools/core';
import type { EtcdDcs } from '@pgtools/dcs';
import type { PostgresControl } from '../postgres/postgres-control.js';
import { debugFailure } from './agent-errors.js';
import type { AgentRole, HaAgentEvent } from './agent-events.js';
import type { AgentRunState } from './agent-state.js';
import type { PostgresCallbacks } from './postgres-callbacks.js';
import { LEASE_GUARD_MARGIN_MS, type LeaderLease } from './leader-lease.js';

/** What the lease guard's stop acts on (a part of the action executor's dependencies). */
export interface LeaseGuardDeps {
  state: AgentRunState;
  lease: LeaderLease;
  pg: PostgresControl;
  dcs: EtcdDcs;
  callbacks: PostgresCallbacks;
  logger: Logger;
  emit(event: HaAgentEvent): void;
  setRole(role: AgentRole, reason: string): void;
}

/**
 * The lease guard's stop: the primary stops at once, its lease about to expire without a refresh.
 * Once PostgreSQL is down the leader key protects nothing: it is released (if etcd answers) so a
 * replica need not wait out the rest of the lease.
 */
export async function stopAsLeaseExpired(d: LeaseGuardDeps): Promise<void> {
  const { dcs, logger } = d;
  d.state.mayHaveDiverged = true;
  d.emit({ type: 'demoted', reason: 'leader lease expired', mode: 'immediate' });
  const stopped = await d.pg.stop('immediate');
  if (stopped) d.callbacks.stopped();
  d.setRole('replica', 'leader lease expired');
  if (!stopped) return;
  if (await dcs.deleteLeader().catch(debugFailure(logger, 'releasing the leader key after the lease guard stopped PostgreSQL'))) {
    logger.info('released the leader key: PostgreSQL is stopped');
    d.emit({ type: 'leader_released', reason: 'PostgreSQL stopped by the lease guard' });
  }
}

/**
 * The lease guard's check (every `LEASE_GUARD_PERIOD_MS`): the primary must not outlive its lease;
 * if the loop could not refresh it in time, PostgreSQL is stopped now.
 */
export function checkLeaseGuard(d: LeaseGuardDeps): void {
  if (d.state.stopping) return;
  // The margin covers the timer's period, a busy event loop and the immediate stop itself.
  if (!d.lease.guardDue(LEASE_GUARD_MARGIN_MS)) return;
  d.lease.lost();
  d.logger.error('leader lease about to expire without a refresh: stopping PostgreSQL');
  d.emit({ type: 'leader_released', reason: 'lease expired before it could be refreshed' });
  if (d.pg.isRunning && d.state.role === 'primary') void stopAsLeaseExpired(d);
}

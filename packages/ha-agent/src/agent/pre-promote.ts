import type { Logger } from '@pgtools/core';
import type { EtcdDcs } from '@pgtools/dcs';
import { commandWords } from '../config/command-config.js';
import { runScript } from '../postgres/bootstrap-scripts.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import { debugFailure } from './agent-errors.js';
import type { HaAgentEvent } from './agent-events.js';
import type { AgentRunState } from './agent-state.js';
import type { LeaderLease } from './leader-lease.js';

/** What `prePromote` needs from the agent. */
export interface PrePromoteDeps {
  state: AgentRunState;
  dcs: EtcdDcs;
  pg: PostgresControl;
  logger: Logger;
  lease: LeaderLease;
  emit(event: HaAgentEvent): void;
}

/**
 * Patroni's `pre_promote` (a fencing script): run once the leader key is ours, before promoting.
 * A non-zero exit, or a key lost while it ran (the loop waits for it), gives the key back and
 * keeps this member out of the race for `ttl` seconds. True when promotion may go on.
 *
 * @example
 * ```ts
 * if (!(await prePromote(deps))) return; // not promoting
 * ```
 */
export async function prePromote(d: PrePromoteDeps): Promise<boolean> {
  const { state, dcs, pg, logger, lease } = d;
  const command = state.config.postgresql.prePromote;
  if (!command) return true;
  logger.info(`running pre_promote: ${command}`);
  const exit = await runScript(commandWords('postgresql.pre_promote', command), { runAs: pg.runAs, logger, label: 'pre_promote' });
  d.emit({ type: 'script_exited', script: 'pre_promote', name: 'pre_promote', code: exit.code, signal: exit.signal });
  const t0 = lease.now();
  if (exit.code === 0 && (await dcs.updateLeader().catch(() => false))) {
    lease.granted(t0, state.dynamic.ttl);
    return true;
  }
  logger.error(
    exit.code === 0
      ? 'pre_promote succeeded but the leader key was lost meanwhile: not promoting'
      : `pre_promote exited with ${exit.code ?? exit.signal}: not promoting, giving the leader key back`,
  );
  await dcs.deleteLeader().catch(debugFailure(logger, 'releasing the leader key after pre_promote'));
  lease.lost();
  state.raceBackoffUntil = Date.now() + state.dynamic.ttl * 1000;
  return false;
}

import type { Logger } from '@pgtools/core';
import { primaryStopTimeoutMs } from '../config/rewind-config.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { HaAgentEvent } from './agent-events.js';
import type { AgentRunState } from './agent-state.js';

/** What `stopPrimary` needs from the agent. */
export interface BoundedStopDeps {
  state: AgentRunState;
  pg: PostgresControl;
  logger: Logger;
  emit(event: HaAgentEvent): void;
}

/**
 * A fast stop of a primary, bounded by `primary_stop_timeout` in synchronous mode (Patroni's rule,
 * for demotions and shutdowns) when `bounded`. A stop that had to be forced (immediate, then
 * SIGKILL) may leave WAL no standby has: the node is marked as possibly diverged, and the caller
 * is told so it can rewind before following.
 *
 * @example
 * ```ts
 * const { stopped, forced } = await stopPrimary(deps, 'switchover', true);
 * ```
 */
export async function stopPrimary(d: BoundedStopDeps, reason: string, bounded: boolean): Promise<{ stopped: boolean; forced: boolean }> {
  const timeoutMs = bounded ? primaryStopTimeoutMs(d.state.dynamic) : undefined;
  let forced = false;
  const onForced = (): void => {
    forced = true;
    const timeoutSeconds = d.state.dynamic.primaryStopTimeout;
    d.logger.warn(`PostgreSQL did not stop within primary_stop_timeout (${timeoutSeconds} s): aborting it (immediate stop, then SIGKILL)`);
    d.state.mayHaveDiverged = true;
    d.emit({ type: 'postgres_stop_forced', timeoutSeconds, reason });
  };
  const stopped = await d.pg.stop('fast', timeoutMs, timeoutMs === undefined ? undefined : onForced);
  return { stopped, forced };
}

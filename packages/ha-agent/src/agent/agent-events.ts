import type { FenceEvent } from '@pgtools/watchdog';
import type { HaAction } from '../decision/ha-action.js';
import type { CallbackRunnerEvent } from './callback-runner.js';

/** The role the agent reports for its node. */
export type AgentRole = 'primary' | 'replica' | 'uninitialized' | 'stopped';

/**
 * Typed events `HaAgent` reports through `onEvent` (the library never prints).
 *
 * @example
 * ```ts
 * import type { HaAgentEvent } from '@pgtools/ha-agent';
 * const onEvent = (e: HaAgentEvent): void => {
 *   if (e.type === 'role_changed') console.log(`${e.previous} -> ${e.role}`);
 * };
 * ```
 */
export type HaAgentEvent =
  | { type: 'started'; apiUrl: string }
  | { type: 'action'; action: HaAction }
  | { type: 'role_changed'; previous: AgentRole; role: AgentRole; reason: string }
  | { type: 'leader_acquired' }
  | { type: 'leader_released'; reason: string }
  | { type: 'promoted'; timeline: number | undefined }
  | { type: 'demoted'; reason: string; mode: 'immediate' | 'graceful' }
  | { type: 'bootstrapped'; systemId: string }
  | { type: 'cloned'; from: string }
  | { type: 'rewound'; from: string; changed: boolean }
  | { type: 'rewind_failed'; message: string }
  /** A demoting primary's stop took longer than `primary_stop_timeout` and was forced (immediate, then SIGKILL). */
  | { type: 'postgres_stop_forced'; timeoutSeconds: number; reason: string }
  | { type: 'postmaster_started'; pid: number; adopted: boolean }
  | { type: 'postmaster_exited'; pid: number; code: number | null; signal: string | null }
  | { type: 'loop_error'; message: string; code?: string | undefined }
  | { type: 'fatal'; message: string; code: string }
  | { type: 'api_request'; method: string; path: string; status: number }
  /** Synchronous mode: the `sync` key now names this standby. */
  | { type: 'sync_standby_changed'; standby: string }
  /** What the software fence reported (armed, disarmed, fencing, fenced...). */
  | { type: 'fence'; event: FenceEvent }
  /** A `postgresql.callbacks` command started or ended. */
  | CallbackRunnerEvent
  | { type: 'stopped' };

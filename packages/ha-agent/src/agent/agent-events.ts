import type { FenceEvent } from '@pgtools/watchdog';
import type { HaAction } from '../decision/ha-action.js';
import type { ReplicaCreationEvent } from '../postgres/create-replica.js';
import type { CallbackRunnerEvent } from './callback-runner.js';

/** The role the agent reports for its node; `standby_leader`: the leader of a standby cluster (follows a remote primary). */
export type AgentRole = 'primary' | 'replica' | 'standby_leader' | 'uninitialized' | 'stopped';

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
  /**
   * A configured script ended: the custom `bootstrap.method` or `post_bootstrap` (a non-zero code
   * fails the bootstrap), `pre_promote` (a non-zero code gives the leader key back) or `before_stop`.
   */
  | { type: 'script_exited'; script: 'method' | 'post_bootstrap' | 'pre_promote' | 'before_stop'; name: string; code: number | null; signal: string | null }
  /** A replica was made (`from` empty: restored without a leader) with `method`. */
  | { type: 'cloned'; from: string; method: string }
  /** Replica creation: a method started (its PID), failed, or its data dir grew. */
  | ReplicaCreationEvent
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
  /**
   * The member this replica streams from changed (`replicatefrom`, or back to the leader);
   * `upstream` undefined = not streaming (`nostream`, or no leader).
   */
  | { type: 'upstream_changed'; upstream: string | undefined; leader: string | undefined }
  /** Failsafe mode started (etcd unreachable, every member accepted) or stopped keeping this primary. */
  | { type: 'failsafe'; active: boolean; reason: string }
  /** What the software fence reported (armed, disarmed, fencing, fenced...). */
  | { type: 'fence'; event: FenceEvent }
  /** A `postgresql.callbacks` command started or ended. */
  | CallbackRunnerEvent
  | { type: 'stopped' };

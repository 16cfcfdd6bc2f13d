import type { BlockerInfo } from './blockers.js';

/**
 * What {@link acquireTableLock} reports while it works (the `type` field tells them apart).
 * `elapsedMs`/`waitedMs` count from the start of the call.
 *
 * @example
 * ```ts
 * import type { LockEvent } from '@pgtools/lock';
 * const onEvent = (e: LockEvent) => {
 *   if (e.type === 'backend-terminated') console.error(`terminated pid ${e.blocker.pid} (${e.blocker.query})`);
 * };
 * ```
 */
export type LockEvent =
  | { type: 'lock-attempt-failed'; try: number; tryTimeoutMs: number; elapsedMs: number }
  | { type: 'lock-waiting'; tries: number; elapsedMs: number; blockers: BlockerInfo[] }
  | { type: 'backend-cancelled'; blocker: BlockerInfo; elapsedMs: number }
  | { type: 'backend-terminated'; blocker: BlockerInfo; elapsedMs: number }
  | { type: 'backend-signal-failed'; action: 'cancel' | 'terminate'; blocker: BlockerInfo; error: string; elapsedMs: number }
  | { type: 'lock-timeout'; tries: number; waitedMs: number; blockers: BlockerInfo[] }
  | { type: 'lock-acquired'; tries: number; waitedMs: number };

/**
 * What the lock escalation does about blockers once `waitTimeoutMs` has passed.
 *
 * @example
 * ```ts
 * import type { OnBlockers } from '@pgtools/lock';
 * const onBlockers: OnBlockers = noKillBackend ? 'give-up' : 'terminate';
 * ```
 */
export type OnBlockers = 'give-up' | 'cancel' | 'terminate';

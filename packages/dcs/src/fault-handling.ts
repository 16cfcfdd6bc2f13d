import { GRPCDeadlineExceededError, isRecoverableError, type IOptions } from 'etcd3';
import { isTransientFailure, TLS_FAILURE } from './dcs-errors.js';

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = NonNullable<FaultHandling['global']>;
type Backoff = NonNullable<FaultHandling['watchBackoff']>;

/** Thrown by a host policy to make the etcd3 pool skip that host without calling it. */
class HostSkippedError extends Error {
  override readonly name = 'HostSkippedError';
}

const noEvent = (): { dispose(): void } => ({ dispose: () => {} });

function policy(execute: <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) => Promise<T>): Policy {
  // The etcd3 pool only calls `execute`; the event members exist to satisfy cockatiel's interface.
  return { execute, onSuccess: noEvent, onFailure: noEvent } as unknown as Policy;
}

/**
 * Fault handling for the etcd3 client that never outlives a call's deadline.
 *
 * etcd3's defaults (three global retries, a per-host circuit breaker that stays open 5 s after
 * three failures, a watch backoff growing to 30 s) can turn one failed call into many seconds of
 * retries, or keep refusing a host that is back. Instead:
 * - global: each call is tried at most once per host; the pool's host iterator is shared across
 *   attempts, so a retry goes to the next host. The gRPC deadline is absolute, so a retry after it
 *   fails at once: total time stays within the deadline.
 * - host: a host that just failed is skipped for `cooldownMs`, but only while some other host is
 *   not cooling down, so with every host failing each call still reaches one (no "breaker open"
 *   refusal hiding a recovered etcd).
 * - watch: reconnect backoff from 100 ms doubling to `maxWatchBackoffMs`.
 */
export function deadlineFaultHandling(hostCount: number, options: { cooldownMs: number; maxWatchBackoffMs: number }): FaultHandling {
  const coolingUntil = new Map<string, number>();
  const attempts = Math.max(1, hostCount);

  const global = policy(async (fn) => {
    const signal = new AbortController().signal;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      try {
        return await fn({ signal });
      } catch (err) {
        lastError = err;
        if (!(err instanceof Error) || !isRecoverableError(err)) throw err;
      }
    }
    throw lastError;
  });

  const host = (name: string): Policy =>
    policy(async (fn) => {
      const now = Date.now();
      const until = coolingUntil.get(name) ?? 0;
      if (until > now) {
        const othersAvailable = [...coolingUntil.entries()].some(([h, t]) => h !== name && t <= now) || coolingUntil.size < hostCount;
        if (othersAvailable) throw new HostSkippedError(`etcd host ${name} failed recently; trying another`);
      }
      try {
        const result = await fn({ signal: new AbortController().signal });
        coolingUntil.set(name, 0);
        return result;
      } catch (err) {
        if (isHostFailure(err)) coolingUntil.set(name, Date.now() + options.cooldownMs);
        throw err;
      }
    });

  return { global, host, watchBackoff: exponentialBackoff(100, options.maxWatchBackoffMs) };
}

/** The host did not answer in time or at all, or its cluster is between leaders: another member may. */
export function isHostFailure(err: unknown): boolean {
  return err instanceof GRPCDeadlineExceededError || isTransientFailure(err);
}

/**
 * Runs one etcd call in attempts that share `deadline`, each with its own share of it (the time
 * left split between the members, at least 1 s), like Patroni splits retry_timeout: a member that
 * drops packets (cut off, no reset) costs its share instead of the whole deadline, and the next
 * attempt goes to another member (the failed one cools down in the pool). Refused connections (etcd
 * down) are retried every 100 ms until the deadline rather than failing at once.
 *
 * @example
 * ```ts
 * const res = await attemptsWithinDeadline(Date.now() + 10_000, 3, (deadline) => client.kv.range({ key }, { deadline }));
 * ```
 */
export async function attemptsWithinDeadline<T>(deadline: number, hostCount: number, call: (attemptDeadline: number) => Promise<T>): Promise<T> {
  const share = Math.max(1000, Math.floor((deadline - Date.now()) / Math.max(1, hostCount)));
  // Later attempts know less ("deadline exceeded", "Last error: null") than the first failure.
  let telling: unknown;
  for (;;) {
    const began = Date.now();
    const attemptDeadline = Math.min(deadline, began + share);
    try {
      return await call(attemptDeadline);
    } catch (err) {
      if (!(err instanceof GRPCDeadlineExceededError)) telling ??= err;
      // A certificate etcd or we refuse will not be accepted on a retry: say so now.
      if (!isHostFailure(err) || (err instanceof Error && TLS_FAILURE.test(err.message))) throw err;
      if (Date.now() >= deadline - 50) throw telling ?? err;
      const pause = Math.min(100 - (Date.now() - began), deadline - Date.now() - 50);
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  }
}

function exponentialBackoff(durationMs: number, maxMs: number): Backoff {
  const make = (duration: number): Backoff =>
    ({
      duration,
      next: () => make(Math.min(maxMs, duration * 2)),
    }) as unknown as Backoff;
  // The first `next()` (called by the watch manager) yields the initial duration.
  return { duration: 0, next: () => make(durationMs) } as unknown as Backoff;
}

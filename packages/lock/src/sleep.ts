/**
 * Internal. Waits `ms` milliseconds, or less when `signal` aborts (it never rejects:
 * the caller checks the signal and decides what an abort means).
 *
 * @example
 * ```ts
 * await sleep(100, controller.signal);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

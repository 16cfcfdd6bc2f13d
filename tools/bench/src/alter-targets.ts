import type { ContenderSummary, TargetCheck } from './summary.js';

/**
 * Issue 19's "Measured": pgtools' max load latency must be this many times lower than the plain ALTER's.
 */
export const ALTER_LATENCY_FACTOR = 20;
/** Issue 19 (as issue 5 for the repack): the longest ACCESS EXCLUSIVE hold, ms. */
export const ALTER_MAX_HOLD_MS = 100;

/**
 * Checks pgtools' online change against issue 19's targets: the longest ACCESS EXCLUSIVE hold
 * (the tool's own figure or pg_locks', whichever is longer) below 100 ms, and a max load latency
 * at least 20x lower than the plain ALTER's in the same run.
 *
 * @example
 * ```ts
 * for (const t of checkAlterTargets(summarize(passes, ['no-repack', 'pgtools-alter', 'plain-alter']))) console.log(t.target, t.met);
 * ```
 */
export function checkAlterTargets(rows: readonly ContenderSummary[]): TargetCheck[] {
  const pgtools = rows.find((r) => r.contender === 'pgtools-alter');
  if (!pgtools) return [];
  const plain = rows.find((r) => r.contender === 'plain-alter');
  const out: TargetCheck[] = [];
  const add = (target: string, actual: string | undefined, met: boolean): void => {
    out.push({ contender: pgtools.contender, target, actual: actual ?? 'n/a', met: actual === undefined ? undefined : met });
  };
  const ae = [pgtools.aeToolMaxMs, pgtools.aeSampledMaxMs].filter((x): x is number => x !== undefined);
  const hold = ae.length > 0 ? Math.max(...ae) : undefined;
  add(
    `longest ACCESS EXCLUSIVE < ${ALTER_MAX_HOLD_MS} ms`,
    hold === undefined ? undefined : `${hold.toFixed(0)} ms`,
    hold !== undefined && hold < ALTER_MAX_HOLD_MS,
  );
  const mine = pgtools.maxMs;
  const theirs = plain?.maxMs;
  const known = mine !== undefined && theirs !== undefined && mine > 0;
  add(
    `max load latency ${ALTER_LATENCY_FACTOR}x lower than plain ALTER`,
    known
      ? `${mine.toFixed(0)} ms vs ${theirs.toFixed(0)} ms (${theirs >= mine ? `${(theirs / mine).toFixed(1)}x lower` : `${(mine / theirs).toFixed(1)}x higher`})`
      : undefined,
    known && mine * ALTER_LATENCY_FACTOR <= theirs,
  );
  return out;
}

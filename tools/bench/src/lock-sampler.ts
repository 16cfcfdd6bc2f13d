import type pg from 'pg';

/** One look at `pg_locks`: who held ACCESS EXCLUSIVE on the table at time `t` (ms since the epoch). */
export interface LockSample {
  t: number;
  holder: number | null;
}

/** One ACCESS EXCLUSIVE hold as the sampler saw it. */
export interface SampledHold {
  pid: number;
  /** First and last sample that saw it. */
  firstSeen: number;
  lastSeen: number;
  /** Between `lastSeen - firstSeen` (lower bound) and the gap between the samples around it (upper bound). */
  estimateMs: number;
  lowerMs: number;
  upperMs: number;
}

/**
 * Turns samples into holds: a run of consecutive samples that saw the same holder PID is one
 * hold. Its length is only known to within the sampling gaps, so the estimate is the middle of
 * the lower bound (first to last sighting) and the upper bound (last sample before it to first
 * sample after it). A hold shorter than one gap can be missed entirely.
 *
 * @example
 * ```ts
 * const holds = holdsFromSamples([
 *   { t: 0, holder: null }, { t: 5, holder: 42 }, { t: 10, holder: 42 }, { t: 15, holder: null },
 * ]);
 * holds[0]?.estimateMs; // 10 (between 5 and 15)
 * ```
 */
export function holdsFromSamples(samples: readonly LockSample[]): SampledHold[] {
  const holds: SampledHold[] = [];
  let i = 0;
  while (i < samples.length) {
    const s = samples[i]!;
    if (s.holder === null) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < samples.length && samples[j + 1]!.holder === s.holder) j++;
    const first = s.t;
    const last = samples[j]!.t;
    const before = i > 0 ? samples[i - 1]!.t : first;
    const after = j + 1 < samples.length ? samples[j + 1]!.t : last;
    const lowerMs = last - first;
    const upperMs = after - before;
    holds.push({ pid: s.holder, firstSeen: first, lastSeen: last, lowerMs, upperMs, estimateMs: (lowerMs + upperMs) / 2 });
    i = j + 1;
  }
  return holds;
}

/** A running `pg_locks` sampler; `stop()` ends it and returns what it saw. */
export interface LockSampler {
  stop(): Promise<{ samples: LockSample[]; holds: SampledHold[]; meanGapMs: number }>;
}

/**
 * Samples `pg_locks` every `intervalMs` (plus a round trip) from its own connection (a superuser's, to see every
 * session) for a granted ACCESS EXCLUSIVE lock on the table: by its OID at the start and by its
 * name, since a rename swap gives the table a new OID.
 *
 * @example
 * ```ts
 * const sampler = startLockSampler(client, { tableOid: 16384, tableName: 'public.bench', intervalMs: 5 });
 * // ... run the repack ...
 * const { holds } = await sampler.stop();
 * ```
 */
export function startLockSampler(
  client: pg.ClientBase,
  { tableOid, tableName, intervalMs }: { tableOid: number; tableName: string; intervalMs: number },
): LockSampler {
  const sql = {
    name: 'bench_lock_sample',
    text: `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t,
                  (SELECT l.pid FROM pg_locks l
                    WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
                      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND l.relation IN ($1::oid, to_regclass($2)::oid)
                    LIMIT 1) AS holder`,
    values: [tableOid, tableName],
  };
  const polling = pollRows<{ t: number; holder: number | null }>(client, sql, intervalMs);
  return {
    async stop() {
      const samples: LockSample[] = (await polling.stop()).map((r) => ({ t: r.t, holder: r.holder ?? null }));
      const first = samples[0];
      const last = samples[samples.length - 1];
      const meanGapMs = first && last && samples.length > 1 ? (last.t - first.t) / (samples.length - 1) : 0;
      return { samples, holds: holdsFromSamples(samples), meanGapMs };
    },
  };
}

/**
 * Runs a one-row query every `intervalMs` (plus its round trip) until `stop()`, which returns
 * every row, or throws the query's error. The samplers' queries read the server's clock at the
 * moment they read the lock table (same machine, same clock as pgbench's and ours): our own
 * scheduling delays do not blur the sample times.
 *
 * @example
 * ```ts
 * const polling = pollRows<{ t: number }>(client, { text: 'SELECT 1 AS t', values: [] }, 10);
 * const rows = await polling.stop();
 * ```
 */
export function pollRows<R>(client: pg.ClientBase, sql: { name?: string; text: string; values: unknown[] }, intervalMs: number): { stop(): Promise<R[]> } {
  const rows: R[] = [];
  let stopped = false;
  let failure: unknown;
  const loop = (async () => {
    while (!stopped) {
      try {
        const result = await client.query<R & pg.QueryResultRow>(sql);
        if (result.rows[0] !== undefined) rows.push(result.rows[0]);
      } catch (err) {
        failure = err;
        return;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      if (failure) throw failure;
      return rows;
    },
  };
}

import type pg from 'pg';

/** WAL one heap_insert record adds beyond the tuple's data (record and block headers, tuple header). */
const WAL_BYTES_PER_ROW = 55;

/**
 * WAL bytes the copy of a table's live rows is expected to write: one heap_insert record per row,
 * sized from the planner statistics (the average width of each column); `undefined` without them.
 * TOASTed values count at their pointer width, so the estimate runs short on such tables.
 *
 * @example
 * ```ts
 * const expected = await expectedCopyWal(client, tableOid, 1_000_000); // e.g. 240_000_000
 * ```
 */
export async function expectedCopyWal(client: pg.ClientBase, tableOid: number, estimatedRows: number): Promise<number | undefined> {
  const { rows } = await client.query<{ width: number | null }>(
    `SELECT sum(s.avg_width)::float8 AS width
       FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
      WHERE c.oid = $1 AND NOT s.inherited`,
    [tableOid],
  );
  const width = rows[0]?.width;
  if (!width || estimatedRows <= 0) return undefined;
  return estimatedRows * (width + WAL_BYTES_PER_ROW);
}

/** A running sampler; `stop()` resolves once no sample is in flight on its connection. */
export interface WalProgressSampler {
  stop(): Promise<void>;
}

/**
 * While one long statement copies a table on another connection, reads every `intervalMs` how
 * much WAL was written since `startLsn` and reports it as a fraction of `expectedBytes`, capped
 * below 1 (the estimate is rough, and other sessions write WAL too). Its own connection is opened
 * at the first tick only, so a short copy never opens one. Sampling errors end the sampling and
 * are otherwise ignored: progress is cosmetic and must never fail the copy.
 *
 * @example
 * ```ts
 * const sampler = sampleWalProgress({
 *   connect: () => pool.connect(),
 *   release: (c) => c.release(),
 *   startLsn: '0/3000148',
 *   expectedBytes: 2e8,
 *   intervalMs: 1000,
 *   onSample: (fraction) => console.log(`${Math.round(fraction * 100)}%`),
 * });
 * await work.query('CREATE TABLE pgtools.table_16385 AS SELECT * FROM ONLY public.orders');
 * await sampler.stop();
 * ```
 */
export function sampleWalProgress<C extends pg.ClientBase>(options: {
  connect: () => Promise<C>;
  release: (client: C, broken: boolean) => Promise<void> | void;
  startLsn: string;
  expectedBytes: number;
  intervalMs: number;
  onSample: (fraction: number) => void;
}): WalProgressSampler {
  let stopped = false;
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let client: C | undefined;
  let broken = false;
  const tick = async (): Promise<void> => {
    client ??= await options.connect();
    if (stopped) return;
    const { rows } = await client.query<{ written: number }>('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::float8 AS written', [
      options.startLsn,
    ]);
    const fraction = Math.min(0.99, Math.max(0, (rows[0]?.written ?? 0) / options.expectedBytes));
    if (!stopped && fraction > last) {
      last = fraction;
      options.onSample(fraction);
    }
  };
  const running = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, options.intervalMs);
      });
      if (stopped) break;
      await tick();
    }
  })().catch(() => {
    broken = true;
  });
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await running;
      if (client) await options.release(client, broken);
    },
  };
}

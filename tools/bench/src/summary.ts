import type { ContenderName } from './options.js';
import type { PassResult } from './pass.js';
import { median } from './stats.js';

/** One contender's figures over all its runs (medians of the fixed-rate passes unless noted). */
export interface ContenderSummary {
  contender: ContenderName;
  runs: number;
  wallS: { median: number; min: number; max: number } | undefined;
  /** pgtools: median time inside `repack()`, without node start-up. */
  innerS: number | undefined;
  /** The tool's own timestamps: the longest hold and the sum of holds (pgtools only). */
  aeToolMaxMs: number | undefined;
  aeToolTotalMs: number | undefined;
  /** pg_locks sampling: longest hold and sum of holds. */
  aeSampledMaxMs: number | undefined;
  aeSampledTotalMs: number | undefined;
  p99Ms: number | undefined;
  maxMs: number | undefined;
  maxLagMs: number | undefined;
  /** Unthrottled load: tps while the repack ran, and as a share of the no-repack baseline. */
  unthrottledTps: number | undefined;
  tpsKeptPct: number | undefined;
  walMB: number | undefined;
  /** WAL from start to end of the tail minus what the load alone writes in as long (from `no-repack`). */
  walNetMB: number | undefined;
  sizeBeforeMB: number | undefined;
  sizeAfterMB: number | undefined;
  /** Highest peak RSS over all passes. */
  rssMB: number | undefined;
  /** Passes whose table content, indexes and load were all right, of all passes. */
  correctPasses: number;
  passes: number;
  errors: string[];
}

const MB = 1024 * 1024;

/**
 * Folds the passes into one summary per contender, in the order given.
 *
 * @example
 * ```ts
 * const rows = summarize(passes, ['no-repack', 'pg_repack']);
 * console.log(rows[1]?.wallS?.median);
 * ```
 */
export function summarize(passes: readonly PassResult[], contenders: readonly ContenderName[]): ContenderSummary[] {
  const baselineThrottled = passes.filter((p) => p.contender === 'no-repack' && p.load === 'throttled');
  const baselineUnthrottled = passes.filter((p) => p.contender === 'no-repack' && p.load === 'unthrottled');
  const loadWalRate = median(baselineThrottled.map((p) => p.walWithTailBytes / Math.max(1, p.walWithTailMs)));
  const baselineTps = median(baselineUnthrottled.map((p) => p.loadStats.tps));
  return contenders.map((contender) => {
    const all = passes.filter((p) => p.contender === contender);
    const fixed = all.filter((p) => p.load === 'throttled' && p.ok);
    const free = all.filter((p) => p.load === 'unthrottled' && p.ok);
    const walls = fixed.map((p) => p.wallMs / 1000);
    const m = (f: (p: PassResult) => number | undefined): number | undefined => median(fixed.map(f).filter((x): x is number => x !== undefined));
    const unthrottledTps = median(free.map((p) => p.loadStats.tps));
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    const isRepack = contender !== 'no-repack';
    return {
      contender,
      runs: fixed.length,
      wallS: walls.length > 0 ? { median: median(walls)!, min: Math.min(...walls), max: Math.max(...walls) } : undefined,
      innerS: m((p) => (p.innerMs === undefined ? undefined : p.innerMs / 1000)),
      aeToolMaxMs: m((p) => (p.toolHolds ? Math.max(0, ...p.toolHolds.map((h) => h.heldMs)) : undefined)),
      aeToolTotalMs: m((p) => (p.toolHolds ? sum(p.toolHolds.map((h) => h.heldMs)) : undefined)),
      aeSampledMaxMs: isRepack ? m((p) => Math.max(0, ...p.sampledHolds.map((h) => h.estimateMs))) : undefined,
      aeSampledTotalMs: isRepack ? m((p) => sum(p.sampledHolds.map((h) => h.estimateMs))) : undefined,
      p99Ms: m((p) => p.loadStats.p99Ms),
      maxMs: m((p) => p.loadStats.maxMs),
      maxLagMs: m((p) => p.loadStats.maxLagMs),
      unthrottledTps,
      tpsKeptPct: unthrottledTps !== undefined && baselineTps ? (100 * unthrottledTps) / baselineTps : undefined,
      walMB: m((p) => p.walBytes / MB),
      walNetMB: loadWalRate === undefined ? undefined : m((p) => (p.walWithTailBytes - loadWalRate * p.walWithTailMs) / MB),
      sizeBeforeMB: m((p) => p.sizeBefore.totalBytes / MB),
      sizeAfterMB: m((p) => p.verification.totalBytes / MB),
      rssMB: all.some((p) => p.maxRssKb !== undefined) ? Math.max(...all.map((p) => (p.maxRssKb ?? 0) / 1024)) : undefined,
      correctPasses: all.filter((p) => p.verification.correct).length,
      passes: all.length,
      errors: all.filter((p) => p.error).map((p) => `run ${p.run} ${p.load}: ${p.error}`),
    };
  });
}

/** One target from the issue, checked against one pgtools contender. */
export interface TargetCheck {
  contender: ContenderName;
  target: string;
  actual: string;
  met: boolean | undefined;
}

/**
 * Checks each pgtools contender against the targets (ratios from this run).
 *
 * @example
 * ```ts
 * for (const t of checkTargets(summarize(passes, contenders))) console.log(t.contender, t.target, t.met);
 * ```
 */
export function checkTargets(rows: readonly ContenderSummary[]): TargetCheck[] {
  const by = (c: ContenderName): ContenderSummary | undefined => rows.find((r) => r.contender === c);
  const pgRepack = by('pg_repack');
  const vacuumFull = by('vacuum-full');
  const out: TargetCheck[] = [];
  const pct = (x: number): string => `${x.toFixed(0)}%`;
  for (const row of rows.filter((r) => r.contender.startsWith('pgtools-'))) {
    const add = (target: string, actual: string | undefined, met: boolean | undefined): void => {
      out.push({ contender: row.contender, target, actual: actual ?? 'n/a', met: actual === undefined ? undefined : met });
    };
    const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b ? a / b : undefined);
    const vsRepack = ratio(row.wallS?.median, pgRepack?.wallS?.median);
    add('wall time <= 0.8x pg_repack', vsRepack === undefined ? undefined : `${vsRepack.toFixed(2)}x`, vsRepack !== undefined && vsRepack <= 0.8);
    const vsVf = ratio(row.wallS?.median, vacuumFull?.wallS?.median);
    add('wall time <= 1.0x VACUUM FULL', vsVf === undefined ? undefined : `${vsVf.toFixed(2)}x`, vsVf !== undefined && vsVf <= 1.0);
    const maxVs = pgRepack?.maxMs;
    add(
      'max load latency <= pg_repack',
      row.maxMs === undefined || maxVs === undefined ? undefined : `${row.maxMs.toFixed(0)} ms vs ${maxVs.toFixed(0)} ms`,
      row.maxMs !== undefined && maxVs !== undefined && row.maxMs <= maxVs,
    );
    add('throughput kept >= 95% (unthrottled)', row.tpsKeptPct === undefined ? undefined : pct(row.tpsKeptPct), (row.tpsKeptPct ?? 0) >= 95);
    const ae = [row.aeToolMaxMs, row.aeSampledMaxMs].filter((x): x is number => x !== undefined);
    add('longest ACCESS EXCLUSIVE < 100 ms', ae.length ? `${Math.max(...ae).toFixed(0)} ms` : undefined, ae.length > 0 && Math.max(...ae) < 100);
    const wal = row.walNetMB ?? row.walMB;
    const walRef = row.walNetMB !== undefined ? pgRepack?.walNetMB : pgRepack?.walMB;
    add(
      'WAL <= pg_repack',
      wal === undefined || walRef === undefined ? undefined : `${wal.toFixed(0)} MB vs ${walRef.toFixed(0)} MB`,
      wal !== undefined && walRef !== undefined && wal <= walRef,
    );
    add('client RSS < 100 MB', row.rssMB === undefined ? undefined : `${row.rssMB.toFixed(0)} MB`, (row.rssMB ?? Infinity) < 100);
  }
  return out;
}

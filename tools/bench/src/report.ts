import type { MachineInfo } from './machine.js';
import type { BenchOptions } from './options.js';
import type { PassResult } from './pass.js';
import type { ContenderSummary, TargetCheck } from './summary.js';

/** Everything the markdown report shows. */
export interface ReportInput {
  command: string;
  date: string;
  machine: MachineInfo;
  postgresVersion: string;
  pgRepackVersion: string | undefined;
  settings: Record<string, string | number | boolean>;
  options: BenchOptions;
  table: { heapMB: number; totalMB: number; liveRows: number; buildS: number };
  loadCommand: string;
  loadScript: string;
  summaries: ContenderSummary[];
  targets: TargetCheck[];
  passes: PassResult[];
  notes: string[];
}

const f = (x: number | undefined, digits = 0): string =>
  // A net figure that is zero within rounding must not print as "-0.0".
  x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits).replace(/^-(0\.?0*)$/, '$1');
/** Megabytes: one decimal below 100 so small test tables still show a difference. */
const mb = (x: number | undefined): string => f(x, x !== undefined && Math.abs(x) < 100 ? 1 : 0);

/**
 * The results table alone (markdown), one row per contender.
 *
 * @example
 * ```ts
 * console.log(resultsTable(summarize(passes, contenders)));
 * ```
 */
export function resultsTable(rows: readonly ContenderSummary[]): string {
  const head = [
    'contender',
    'wall s (min–max)',
    'AE max ms tool / pg_locks',
    'AE total ms pg_locks',
    'load p99 ms',
    'load max ms',
    'max lag ms',
    'tps kept (unthrottled)',
    'WAL MB (net)',
    'size MB before → after',
    'client RSS MB',
    'correct',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const inner = r.innerS === undefined ? '' : `; repack() ${f(r.innerS, 2)}`;
    const wall = r.wallS ? `${f(r.wallS.median, 2)} (${f(r.wallS.min, 2)}–${f(r.wallS.max, 2)})${inner}` : '—';
    const cells = [
      r.contender,
      r.contender === 'no-repack' ? `${wall} idle` : wall,
      r.contender === 'no-repack' ? '—' : `${f(r.aeToolMaxMs)} / ${f(r.aeSampledMaxMs)}`,
      f(r.aeSampledTotalMs),
      f(r.p99Ms, 1),
      f(r.maxMs, 1),
      f(r.maxLagMs, 1),
      r.unthrottledTps === undefined ? '—' : `${f(r.tpsKeptPct)}% (${f(r.unthrottledTps)} tps)`,
      `${mb(r.walMB)} (${mb(r.walNetMB)})`,
      r.contender === 'no-repack' ? mb(r.sizeBeforeMB) : `${mb(r.sizeBeforeMB)} → ${mb(r.sizeAfterMB)}`,
      f(r.rssMB),
      r.correctPasses === r.passes ? `yes (${r.passes}/${r.passes})` : `**NO** (${r.correctPasses}/${r.passes})`,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** What each column means, for the report and the README. */
export const COLUMN_NOTES = [
  '**wall s**: the repack process from spawn to exit, median (min–max) of the fixed-rate runs; pgtools pays node start-up and module loading here, `repack()` is the median time inside the library call alone; `no-repack` is an idle window of the same load.',
  "**AE max ms tool / pg_locks**: the longest ACCESS EXCLUSIVE hold on the table, from the tool's own timestamps (pgtools only) and from sampling `pg_locks` every few ms from another connection, timed by the server's clock (estimate: middle of the bounds the samples give; a hold shorter than one sampling gap can be missed). The tool's figure runs from its lock call returning to its COMMIT returning, so client scheduling delays on a busy machine can make it longer than the server-side hold. **AE total**: sum of the sampled holds.",
  '**load p99 / max ms**: latency of the fixed-rate pgbench transactions scheduled during the repack, measured from their scheduled start (so it includes waiting behind a lock); **max lag**: the largest schedule lag among them.',
  '**tps kept**: transactions per second finished during the repack by the same load run unthrottled, as a share of the unthrottled tps in the `no-repack` window.',
  "**WAL MB (net)**: `pg_current_wal_lsn()` difference over the repack (includes the load's WAL); net: from the start to the end of the tail minus what the load alone writes in as long (rate from `no-repack`), i.e. the WAL the repack adds, its triggers included.",
  '**size**: `pg_total_relation_size` (heap + indexes + TOAST) before and after (after includes rows the load inserted meanwhile).',
  '**client RSS**: peak resident memory of the repack client process (GNU time `%M`), the highest over all passes.',
  "**correct**: passes (fixed-rate and unthrottled) where the table checksum equals the one implied by the load's ledger, the three indexes are valid and pass `bt_index_check(heapallindexed)`, nothing is left over, and no load client failed.",
];

/**
 * The whole markdown report: machine, setup, the results table, targets, per-pass details.
 *
 * @example
 * ```ts
 * writeFileSync('docs/benchmarks.md', renderReport(input));
 * ```
 */
export function renderReport(r: ReportInput): string {
  const o = r.options;
  const out: string[] = [];
  out.push('# Repack benchmark: pgtools vs pg_repack vs VACUUM FULL', '');
  out.push(`Produced by \`${r.command}\` on ${r.date}.`, '');
  out.push('## Machine', '');
  out.push(`- CPU: ${r.machine.cpuModel}, \`nproc\` = ${r.machine.nproc}; ${r.machine.kernel}; node ${r.machine.node}`);
  out.push(`- Load average when the benchmark started: ${r.machine.loadAverage}`);
  out.push(`- ${r.postgresVersion}; pg_repack ${r.pgRepackVersion ?? 'not installed'}`);
  out.push('- `free -h`:', '', '```', r.machine.memory, '```', '');
  out.push('## Setup', '');
  out.push(
    `- Table \`public.bench\`: ${o.rows} rows of about 180 bytes inserted, a primary key and two secondary btree indexes, every second row deleted, VACUUM ANALYZE: ` +
      `${r.table.liveRows} live rows, heap ${f(r.table.heapMB)} MB, total ${f(r.table.totalMB)} MB (built in ${f(r.table.buildS, 1)} s). ` +
      'Every pass starts from a FILE_COPY clone of the same template database, then CHECKPOINT.',
  );
  out.push(
    `- Load: pgbench, ${o.clients} clients, ${o.threads} threads, fixed rate ${o.tps} tps, ${o.warmupS} s of warm-up before the repack and ${o.tailS} s after it` +
      `${o.unthrottled ? '; every contender also runs once more per run under the same load unthrottled' : ''}. Command: \`${r.loadCommand}\`.`,
  );
  out.push(`- Runs: ${o.runs}, contenders interleaved (${o.contenders.join(', ')}, then again); pg_locks sampled every ${o.lockSampleMs} ms.`);
  out.push(
    `- Server settings (same for every contender): ${Object.entries(r.settings)
      .map(([k, v]) => `\`${k}=${String(v)}\``)
      .join(', ')}.`,
  );
  for (const n of r.notes) out.push(`- ${n}`);
  out.push('', `## Results (median of ${o.runs} run${o.runs === 1 ? '' : 's'}, ${o.tps} tps)`, '', resultsTable(r.summaries), '');
  for (const n of COLUMN_NOTES) out.push(`- ${n}`);
  if (r.targets.length > 0) {
    out.push('', '## Targets (issue 5)', '', targetsTable(r.targets));
  }
  out.push('', '## Every pass', '', passesTable(r.passes));
  out.push('', '<details><summary>pgbench script</summary>', '', '```', r.loadScript.trim(), '```', '', '</details>', '');
  return out.join('\n');
}

/**
 * The targets checked (markdown): contender, target, this run's figure, met (`yes`, `**no**`, `n/a`).
 *
 * @example
 * ```ts
 * console.log(targetsTable(checkTargets(summaries)));
 * ```
 */
export function targetsTable(targets: readonly TargetCheck[]): string {
  return [
    '| contender | target | this run | met |',
    '|---|---|---|---|',
    ...targets.map((t) => `| ${t.contender} | ${t.target} | ${t.actual} | ${t.met === undefined ? 'n/a' : t.met ? 'yes' : '**no**'} |`),
  ].join('\n');
}

/**
 * The table of every pass (markdown): contender, run, load, wall time, phases, holds, latency, WAL, RSS, CPU, result.
 *
 * @example
 * ```ts
 * console.log(passesTable(result.passes));
 * ```
 */
export function passesTable(passes: readonly PassResult[]): string {
  const out: string[] = [];
  out.push(
    '| contender | run | load | wall s | repack() s | phases (s) | AE tool ms | AE pg_locks ms | p99 / max ms | tps | WAL MB | RSS MB | CPU s | result |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const p of passes) {
    const phases = p.phases?.map((x) => `${x.phase} ${f(x.ms / 1000, 2)}`).join(', ') ?? '';
    const tool = p.toolHolds?.map((h) => `${h.purpose} ${h.heldMs}`).join(', ') ?? '';
    const sampled = p.sampledHolds.map((h) => f(h.estimateMs)).join(', ');
    out.push(
      `| ${p.contender} | ${p.run} | ${p.load} | ${f(p.wallMs / 1000, 2)} | ${p.innerMs === undefined ? '' : f(p.innerMs / 1000, 2)} | ${phases} | ${tool} | ${sampled} | ` +
        `${f(p.loadStats.p99Ms, 1)} / ${f(p.loadStats.maxMs, 1)} | ${f(p.loadStats.tps)} | ${mb(p.walBytes / 1048576)} | ${p.maxRssKb === undefined ? '' : f(p.maxRssKb / 1024)} | ` +
        `${f(p.cpuS, 2)} | ${p.ok ? 'ok' : `**${(p.error ?? 'failed').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 300)}**`} |`,
    );
  }
  return out.join('\n');
}

import { agentRss } from './agent-rss.js';
import type { HaTimings } from './node-config.js';
import { startScenarioCluster, type ScenarioCluster } from './scenario-cluster.js';
import type { ScenarioNode } from './scenario-node.js';

/**
 * The soak's timings: issue 20 asks for loop_wait 1 (about 1,800 cycles in 30 minutes); ttl and
 * retry_timeout as the other scenarios (ttl >= loop_wait + 2 * retry_timeout holds).
 */
export const SOAK_TIMINGS: HaTimings = { ttl: 10, loopWait: 1, retryTimeout: 4 };

/** What `runHaSoak` runs. */
export interface HaSoakOptions {
  /** Length of the soak after warm-up (issue 20: 30). */
  minutes: number;
  /** A switchover this often (default 5 minutes). */
  switchoverEveryMs?: number;
  /** Memory sampled this often on every node (default 30 s). */
  sampleEveryMs?: number;
  /** Not counted: the first switchover and the heap's growth to its working size (default 2 minutes). */
  warmupMs?: number;
  /** Compared windows: the first and the last this long of the soak (default 10 minutes, at most a third of it). */
  windowMs?: number;
  signal?: AbortSignal;
  onEvent?: (message: string) => void;
}

/** One memory sample of one node's agent. */
export interface HaSoakSample {
  /** ms since the soak began (after warm-up; negative during it). */
  at: number;
  node: string;
  /** Agent and fence processes, as `agentRss` counts them. */
  rssKb: number;
  /** The agent's own V8 heap in use, from its `/metrics`; undefined when it did not answer. */
  heapUsedBytes: number | undefined;
}

/** Per node: mean of the first and of the last window. */
export interface HaSoakDrift {
  node: string;
  rssFirstMb: number;
  rssLastMb: number;
  heapFirstMb: number | undefined;
  heapLastMb: number | undefined;
}

export interface HaSoakReport {
  minutes: number;
  timings: HaTimings;
  windowMs: number;
  samples: HaSoakSample[];
  switchovers: Array<{ at: number; from: string; to: string; ok: boolean; answer: string }>;
  drift: HaSoakDrift[];
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(new Error('aborted'))), { once: true });
  });

async function heapUsed(node: ScenarioNode): Promise<number | undefined> {
  try {
    const res = await node.rest('GET', '/metrics');
    const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\d+)$/m.exec(res.body);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const mean = (xs: number[]): number | undefined => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

/** First and last window means per node, from the samples taken after warm-up. */
export function soakDrift(samples: readonly HaSoakSample[], soakMs: number, windowMs: number): HaSoakDrift[] {
  const nodes = [...new Set(samples.map((s) => s.node))].sort();
  return nodes.map((node) => {
    const mine = samples.filter((s) => s.node === node && s.at >= 0);
    const first = mine.filter((s) => s.at < windowMs);
    const last = mine.filter((s) => s.at >= soakMs - windowMs);
    const mb = (xs: Array<number | undefined>): number | undefined => {
      const m = mean(xs.filter((x): x is number => x !== undefined));
      return m === undefined ? undefined : m / 1024;
    };
    return {
      node,
      rssFirstMb: mb(first.map((s) => s.rssKb)) ?? 0,
      rssLastMb: mb(last.map((s) => s.rssKb)) ?? 0,
      heapFirstMb: mb(first.map((s) => (s.heapUsedBytes === undefined ? undefined : s.heapUsedBytes / 1024))),
      heapLastMb: mb(last.map((s) => (s.heapUsedBytes === undefined ? undefined : s.heapUsedBytes / 1024))),
    };
  });
}

/**
 * Issue 20's soak: three ha-agent nodes at loop_wait 1 for `minutes`, a switchover every 5 minutes,
 * and every agent's RSS (fence included) and V8 heap sampled on a timer. A leak shows as the last
 * window's mean above the first's; the drift table says by how much.
 *
 * @example
 * ```ts
 * import { runHaSoak } from '@pgtools/ha-scenarios';
 * const r = await runHaSoak({ minutes: 30 });
 * console.log(r.drift);
 * ```
 */
export async function runHaSoak(options: HaSoakOptions): Promise<HaSoakReport> {
  const soakMs = Math.round(options.minutes * 60_000);
  const switchoverEveryMs = options.switchoverEveryMs ?? 300_000;
  const sampleEveryMs = options.sampleEveryMs ?? 30_000;
  const warmupMs = options.warmupMs ?? 120_000;
  const windowMs = Math.min(options.windowMs ?? 600_000, Math.floor(soakMs / 3));
  const say = options.onEvent ?? (() => {});
  const report: HaSoakReport = { minutes: options.minutes, timings: SOAK_TIMINGS, windowMs, samples: [], switchovers: [], drift: [] };
  let cluster: ScenarioCluster | undefined;
  try {
    cluster = await startScenarioCluster({ agent: 'ha-agent', scope: 'soak', timings: SOAK_TIMINGS });
    await cluster.converged();
    say(`cluster converged; warm-up ${warmupMs / 1000} s, then ${options.minutes} min`);
    const t0 = Date.now() + warmupMs;
    const end = t0 + soakMs;
    let nextSample = Date.now();
    let nextSwitchover = Date.now() + Math.min(switchoverEveryMs, warmupMs / 2);
    while (Date.now() < end) {
      if (Date.now() >= nextSwitchover) {
        nextSwitchover += switchoverEveryMs;
        const { leader, replicas } = await cluster.converged({ timeoutMs: 120_000 });
        const to = replicas[0] ?? '';
        const res = await cluster
          .node(leader)
          .rest('POST', '/switchover', { leader, candidate: to }, 60_000)
          .catch((err: Error) => ({ status: 0, body: err.message }));
        const ok = res.status === 200;
        report.switchovers.push({ at: Date.now() - t0, from: leader, to, ok, answer: `${res.status} ${res.body.trim().slice(0, 100)}` });
        say(`switchover ${leader} -> ${to}: ${ok ? 'ok' : res.body.trim().slice(0, 100)}`);
        await cluster.converged({ timeoutMs: 120_000 });
      }
      if (Date.now() >= nextSample) {
        nextSample += sampleEveryMs;
        const at = Date.now() - t0;
        for (const node of cluster.nodes) {
          report.samples.push({ at, node: node.name, rssKb: agentRss(node).totalKb, heapUsedBytes: await heapUsed(node) });
        }
        const latest = report.samples.slice(-cluster.nodes.length);
        say(
          `${(at / 1000).toFixed(0)} s: ${latest.map((s) => `${s.node} ${(s.rssKb / 1024).toFixed(1)} MB rss, ${((s.heapUsedBytes ?? 0) / 1048576).toFixed(1)} MB heap`).join('; ')}`,
        );
      }
      await sleep(Math.max(50, Math.min(nextSample, nextSwitchover, end) - Date.now()), options.signal);
    }
    report.drift = soakDrift(report.samples, soakMs, windowMs);
    return report;
  } finally {
    await cluster?.destroy();
  }
}

/** The soak's drift table in markdown. */
export function formatSoakTable(report: HaSoakReport, command: string): string {
  const f = (x: number | undefined): string => (x === undefined ? '—' : x.toFixed(1));
  const w = report.windowMs / 60_000;
  const rows = report.drift.map(
    (d) =>
      `| ${d.node} | ${f(d.rssFirstMb)} | ${f(d.rssLastMb)} | ${f(d.rssLastMb - d.rssFirstMb)} | ${f(d.heapFirstMb)} | ${f(d.heapLastMb)} | ${f(d.heapLastMb !== undefined && d.heapFirstMb !== undefined ? d.heapLastMb - d.heapFirstMb : undefined)} |`,
  );
  const ok = report.switchovers.filter((s) => s.ok).length;
  return [
    `Produced by \`${command}\`: ${report.minutes} min at ttl ${report.timings.ttl} / loop_wait ${report.timings.loopWait} / retry_timeout ${report.timings.retryTimeout}, ${ok} of ${report.switchovers.length} switchovers done, ${report.samples.length} samples. Means of the first and the last ${w} min, MB (RSS: agent and fence; heap: V8 heap in use).`,
    '',
    `| node | RSS first ${w} min | RSS last ${w} min | RSS drift | heap first | heap last | heap drift |`,
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

import pg from 'pg';
import { quoteIdent, quoteQualified } from '@pgtools/core';
import { createCapture, dropCapture } from '@pgtools/cdc';
import { startPostgres } from '@pgtools/testkit';
import { startCpuMeter } from './cpu-meter.js';
import { FIXTURE, fixtureStatements } from './fixture.js';
import { startLoad } from './load.js';
import { loadWindowStats } from './pgbench-log.js';
import { describeMachine, type MachineInfo } from './machine.js';
import { clientBinDir } from './contenders.js';
import type { BenchOptions } from './options.js';
import { benchSettings } from './settings.js';
import { median } from './stats.js';

/** One measured piece of work: wall time and how many cores the machine kept busy meanwhile. */
export interface FloorSample {
  ms: number;
  cores: number;
}

/** One load window: the load's throughput and the machine's busy cores, with or without the capture trigger. */
export interface LoadFloorSample {
  level: string;
  capture: boolean;
  tps: number;
  cores: number;
  /** With the capture: the log rows the trigger wrote during the load. */
  logRows?: number;
  /** Load clients that aborted during the window (their share of throughput is missing). */
  clientsLost?: number;
}

/** What `--floors` measured, and its markdown report. */
export interface FloorsResult {
  work: Map<string, FloorSample[]>;
  load: LoadFloorSample[];
  report: string;
}

const DB = 'floors';
const TABLE = quoteQualified(FIXTURE.schema, FIXTURE.table);
const COPY = quoteQualified(FIXTURE.schema, 'floor_copy');
const INSERTED = quoteQualified(FIXTURE.schema, 'floor_insert');

/** The benchmark table's indexes, rebuilt on the copy; the size of the original orders the schedule. */
const INDEXES = [
  { label: 'primary key (id)', original: `${FIXTURE.table}_pkey`, name: 'floor_pk', unique: true, column: 'id' },
  { label: 'account', original: FIXTURE.accountIndex, name: 'floor_account', unique: false, column: 'account' },
  { label: 'code (text)', original: FIXTURE.codeIndex, name: 'floor_code', unique: false, column: 'code' },
].map((i) => ({ ...i, sql: `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(i.name)} ON ${COPY} (${quoteIdent(i.column)})` }));

/** The names of the measured steps, as the report and {@link FloorsResult.work} key them. */
export const FLOOR_STEPS = {
  ctas: 'copy: CREATE TABLE ... AS SELECT (pgtools, catalog swap)',
  insert: 'copy: INSERT ... SELECT (pg_repack, chunked pgtools copies)',
  hints: 'first read of the new heap (sets hint bits; the first index builds pay it)',
  pgtoolsBuilds: 'the 3 index builds over 2 connections, largest first, no parallel workers (pgtools)',
  serialBuilds: 'the 3 index builds one at a time with parallel workers (pg_repack, VACUUM FULL)',
  analyze: 'ANALYZE of the new heap',
} as const;
const indexStep = (label: string): string => `index ${label} alone, no parallel workers`;

/** One load level of the floors: a fixed rate, or unthrottled (`tps` undefined). */
export interface FloorLoadLevel {
  level: string;
  tps: number | undefined;
  clients: number;
}

/**
 * The loads `--floors` runs: the benchmark's fixed rate, the heavy 2,000 tps (once, when the fixed
 * rate is already that), and unthrottled.
 *
 * @example
 * ```ts
 * floorLoadLevels({ tps: 400, clients: 8 }).map((l) => l.level); // ['400 tps', '2000 tps (heavy, 16 clients)', 'unthrottled']
 * ```
 */
export function floorLoadLevels(options: Pick<BenchOptions, 'tps' | 'clients'>): FloorLoadLevel[] {
  const heavy: FloorLoadLevel = { level: '2000 tps (heavy, 16 clients)', tps: 2000, clients: 16 };
  return [
    ...(options.tps === heavy.tps ? [] : [{ level: `${options.tps} tps`, tps: options.tps, clients: options.clients }]),
    heavy,
    { level: 'unthrottled', tps: undefined, clients: options.clients },
  ];
}

/**
 * Measures what bounds a repack's speed on this machine, piece by piece, with the benchmark's
 * server settings and table: each server-side step of a repack alone on an idle server (wall time
 * and busy cores), then the load by itself and with the change-capture trigger at each load level.
 * The sums say how fast the two schedules of this work (pgtools', and pg_repack's and VACUUM FULL's)
 * run here; the load windows say what the trigger alone costs the application. Progress lines go to `log`.
 *
 * @example
 * ```ts
 * import { parseBenchArgs, runFloors } from '@pgtools/bench';
 * const { report } = await runFloors(parseBenchArgs(['--floors', '--rows', '200000', '--runs', '1']), {
 *   command: 'pnpm bench:repack --floors --rows 200000 --runs 1',
 *   log: (line) => console.error(line),
 * });
 * console.log(report);
 * ```
 */
export async function runFloors(options: BenchOptions, { command, log }: { command: string; log: (line: string) => void }): Promise<FloorsResult> {
  const settings = benchSettings({ fsync: options.fsync });
  const machine = describeMachine();
  const cluster = await startPostgres({ settings, name: 'bench-floors', version: options.pgVersion });
  const work = new Map<string, FloorSample[]>();
  const load: LoadFloorSample[] = [];
  try {
    await cluster.query(`CREATE DATABASE ${quoteIdent(DB)}`);
    const a = new pg.Client(cluster.clientConfig(DB));
    const b = new pg.Client(cluster.clientConfig(DB));
    // A connection lost mid-way fails the query in flight; no unhandled 'error' event on top of it.
    for (const c of [a, b]) c.on('error', () => {});
    let liveRows = 0;
    let version = '';
    try {
      await a.connect();
      await b.connect();
      log(`building the table: ${options.rows} rows`);
      for (const sql of fixtureStatements(options.rows)) await a.query(sql);
      const { rows } = await a.query<{ live: string; version: string }>(`SELECT (SELECT count(*) FROM ${TABLE})::text AS live, version() AS version`);
      liveRows = Number(rows[0]!.live);
      version = rows[0]!.version.replace(/ on .*$/, '');
      const { rows: sizes } = await a.query<{ name: string; bytes: string }>(
        'SELECT relname AS name, pg_relation_size(oid)::text AS bytes FROM pg_class WHERE relname = ANY($1)',
        [INDEXES.map((i) => i.original)],
      );
      const size = (name: string): number => Number(sizes.find((s) => s.name === name)?.bytes ?? 0);
      const bySize = [...INDEXES].sort((x, y) => size(y.original) - size(x.original));

      const measure = async (step: string, fn: () => Promise<unknown>): Promise<void> => {
        // As before every benchmark pass: no checkpoint of earlier steps' writes lands in this one.
        await a.query('CHECKPOINT');
        const meter = startCpuMeter();
        const t0 = performance.now();
        await fn();
        const sample = { ms: performance.now() - t0, cores: meter.stop() };
        work.set(step, [...(work.get(step) ?? []), sample]);
        log(`  ${step}: ${sample.ms.toFixed(0)} ms, ${sample.cores.toFixed(2)} cores`);
      };
      const dropIndexes = () => a.query(`DROP INDEX IF EXISTS ${INDEXES.map((i) => quoteQualified(FIXTURE.schema, i.name)).join(', ')}`);
      const workers = (n: string) => Promise.all([a, b].map((c) => c.query("SELECT set_config('max_parallel_maintenance_workers', $1, false)", [n])));
      for (let run = 1; run <= options.runs; run++) {
        log(`server work, run ${run}/${options.runs}`);
        await a.query(`DROP TABLE IF EXISTS ${COPY}, ${INSERTED}`);
        await measure(FLOOR_STEPS.ctas, () => a.query(`CREATE TABLE ${COPY} AS SELECT * FROM ${TABLE}`));
        await a.query(`CREATE TABLE ${INSERTED} (LIKE ${TABLE})`);
        await measure(FLOOR_STEPS.insert, () => a.query(`INSERT INTO ${INSERTED} SELECT * FROM ${TABLE}`));
        await a.query(`DROP TABLE ${INSERTED}`);
        await measure(FLOOR_STEPS.hints, () => a.query(`SELECT count(*) FROM ${COPY}`));
        await workers('0');
        for (const index of INDEXES) {
          await measure(indexStep(index.label), () => a.query(index.sql));
          await dropIndexes();
        }
        await measure(FLOOR_STEPS.pgtoolsBuilds, async () => {
          const queue = [...bySize];
          const worker = async (c: pg.Client): Promise<void> => {
            for (let next = queue.shift(); next; next = queue.shift()) await c.query(next.sql);
          };
          await Promise.all([worker(a), worker(b)]);
        });
        await dropIndexes();
        await workers(String(settings.max_parallel_maintenance_workers));
        await measure(FLOOR_STEPS.serialBuilds, async () => {
          for (const index of bySize) await a.query(index.sql);
        });
        await measure(FLOOR_STEPS.analyze, () => a.query(`ANALYZE ${COPY}`));
      }
      await a.query(`DROP TABLE IF EXISTS ${COPY}`);

      const levels = floorLoadLevels(options);
      const oid = Number((await a.query<{ oid: string }>('SELECT $1::regclass::oid::text AS oid', [TABLE])).rows[0]!.oid);
      for (let run = 1; run <= options.runs; run++) {
        for (const level of levels) {
          // Alternated, so neither window always runs on the table the other has just written to.
          for (const capture of run % 2 === 1 ? [false, true] : [true, false]) {
            const objects = capture
              ? await createCapture(a, { table: { schema: FIXTURE.schema, name: FIXTURE.table, oid }, keyColumns: ['id'], toolSchema: 'floors' })
              : undefined;
            try {
              const running = await startLoad(a, {
                pgbench: `${clientBinDir(cluster.binDir, cluster.version)}/pgbench`,
                host: cluster.host,
                port: cluster.port,
                user: cluster.superuser,
                database: DB,
                rows: options.rows,
                clients: level.clients,
                threads: options.threads,
                tps: level.tps,
              });
              let stopped: Awaited<ReturnType<typeof running.stop>> | undefined;
              let from = 0;
              let to = 0;
              let cores = 0;
              try {
                // Clients connect and prepare first; the window starts once they are running.
                await new Promise((r) => setTimeout(r, 1000));
                const meter = startCpuMeter();
                from = Date.now();
                await new Promise((r) => setTimeout(r, options.baselineS * 1000));
                to = Date.now();
                cores = meter.stop();
              } finally {
                stopped = await running.stop(a);
              }
              const { transactions, clientsAlive, stderr } = stopped;
              const sample: LoadFloorSample = { level: level.level, capture, tps: loadWindowStats(transactions, from, to).tps, cores };
              // A client that died (a deadlock between two load transactions aborts it) lowers the
              // throughput for a reason other than the trigger: the report says so next to the figure.
              if (clientsAlive < level.clients) {
                sample.clientsLost = level.clients - clientsAlive;
                log(`  ${sample.clientsLost} load client(s) aborted: ${stderr.slice(-300)}`);
              }
              if (objects) {
                const logged = await a.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteQualified(objects.toolSchema, objects.logTable)}`);
                sample.logRows = Number(logged.rows[0]!.n);
              }
              load.push(sample);
              log(`load ${level.level}${capture ? ' with the capture trigger' : ''}, run ${run}: ${sample.tps.toFixed(0)} tps, ${cores.toFixed(2)} cores`);
            } finally {
              if (objects) await dropCapture(a, objects);
            }
          }
        }
      }
    } finally {
      await a.end().catch(() => {});
      await b.end().catch(() => {});
    }
    return {
      work,
      load,
      report: renderFloors({
        command,
        date: new Date().toISOString(),
        machine,
        version,
        rows: options.rows,
        runs: options.runs,
        windowS: options.baselineS,
        liveRows,
        work,
        load,
      }),
    };
  } finally {
    await cluster.destroy();
  }
}

/** What {@link renderFloors} shows. */
export interface FloorsReportInput {
  command: string;
  date: string;
  machine: Pick<MachineInfo, 'cpuModel' | 'nproc'>;
  version: string;
  rows: number;
  runs: number;
  windowS: number;
  liveRows: number;
  work: Map<string, FloorSample[]>;
  load: LoadFloorSample[];
}

/**
 * The markdown section of a `--floors` run: the steps with their medians, both schedules' sums,
 * and the load windows with the unthrottled share kept under the capture trigger.
 *
 * @example
 * ```ts
 * const markdown = renderFloors({ command, date, machine, version, rows, runs, windowS, liveRows, work, load });
 * ```
 */
export function renderFloors(input: FloorsReportInput): string {
  const { work, load } = input;
  const ms = (step: string): number => median((work.get(step) ?? []).map((s) => s.ms)) ?? Number.NaN;
  const cores = (step: string): number => median((work.get(step) ?? []).map((s) => s.cores)) ?? Number.NaN;
  const s = (x: number): string => (x / 1000).toFixed(2);
  const workRows = [...work.keys()].map((step) => {
    const all = work.get(step)!.map((x) => x.ms);
    return `| ${step} | ${s(ms(step))} (${s(Math.min(...all))}–${s(Math.max(...all))}) | ${cores(step).toFixed(2)} | ${((ms(step) * cores(step)) / 1000).toFixed(2)} |`;
  });
  const pgtoolsSum = ms(FLOOR_STEPS.ctas) + ms(FLOOR_STEPS.hints) + ms(FLOOR_STEPS.pgtoolsBuilds) + ms(FLOOR_STEPS.analyze);
  const pgRepackSum = ms(FLOOR_STEPS.insert) + ms(FLOOR_STEPS.hints) + ms(FLOOR_STEPS.serialBuilds) + ms(FLOOR_STEPS.analyze);
  const levels = [...new Set(load.map((l) => l.level))];
  const loadOf = (level: string, capture: boolean) => load.filter((l) => l.level === level && l.capture === capture);
  const loadRows = levels.flatMap((level) =>
    [false, true].map((capture) => {
      const samples = loadOf(level, capture);
      const tps = median(samples.map((x) => x.tps)) ?? Number.NaN;
      const without = median(loadOf(level, false).map((x) => x.tps)) ?? Number.NaN;
      // At a fixed rate the trigger shows as CPU, not as throughput.
      const share = capture && level === 'unthrottled' ? ` (${((100 * tps) / without).toFixed(0)}%)` : '';
      const lost = samples.reduce((n, x) => n + (x.clientsLost ?? 0), 0);
      const aborted = lost > 0 ? `; ${lost} client(s) aborted` : '';
      return `| ${level} | ${capture ? 'yes' : 'no'} | ${tps.toFixed(0)}${share}${aborted} | ${(median(samples.map((x) => x.cores)) ?? Number.NaN).toFixed(2)} |`;
    }),
  );
  return [
    '## Cost floors: what bounds a repack here',
    '',
    `Produced by \`${input.command}\` on ${input.date}: ${input.machine.cpuModel}, \`nproc\` = ${input.machine.nproc}; ${input.version}; ` +
      `the benchmark's server settings and table (${input.liveRows} live rows of ${input.rows} inserted). Busy cores are the whole machine's (Linux \`/proc/stat\`), so they include everything running, in 10 ms ticks (rough for steps under 0.1 s); CPU s = wall × busy cores.`,
    '',
    `### The server's work in a repack, nothing else running (median of ${input.runs})`,
    '',
    '| step | wall s (min–max) | busy cores | CPU s |',
    '|---|---|---|---|',
    ...workRows,
    '',
    `- pgtools' schedule of this work (copy, first read, two build connections, ANALYZE): **${s(pgtoolsSum)} s**. pg_repack's (INSERT, first read, one build at a time with workers, ANALYZE): **${s(pgRepackSum)} s**. ` +
      'Neither includes the log apply, the swap, connection set-up or process start-up, nor the load running beside them.',
    '',
    `### The load alone and with the capture trigger (median of ${input.runs} windows of ${input.windowS} s)`,
    '',
    '| load | capture trigger | tps (unthrottled: share of without) | busy cores |',
    '|---|---|---|---|',
    ...loadRows,
    '',
    "- With the trigger, every row the load writes also writes a log row: at a fixed rate that costs CPU, unthrottled it costs throughput. It is the price of an online repack built on a trigger, before any copying; pg_repack's trigger writes a log row per row change as well (not measured here).",
    '',
  ].join('\n');
}

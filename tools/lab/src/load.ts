import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import pg from 'pg';
import { isSameProcess, spawnDetached, stopProcess } from './proc.js';
import { writeState, type LabState } from './state.js';

/** One line of a load log. */
export interface LoadRecord {
  t: number;
  seq?: number;
  port?: number;
  node?: string;
  seen?: number;
  err?: string;
}

const workerPath = (): string => fileURLToPath(new URL('./load-worker.js', import.meta.url));

async function writerClient(state: LabState): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: state.haproxy.writerPort,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 3000,
    query_timeout: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * `lab load start`: creates the `lab_writes` table through the writer port and starts the detached
 * writer/reader (10 attempts per second each, stopping by itself after `maxSeconds`).
 *
 * @example
 * ```ts
 * await loadStart(readState(labDir())!, { out: console.log });
 * ```
 */
export async function loadStart(state: LabState, o: { intervalMs?: number; maxSeconds?: number; out: (line: string) => void }): Promise<void> {
  if (state.load && isSameProcess(state.load.proc)) {
    o.out(`The load generator is already running (pid ${state.load.proc.pid}); logs: ${state.load.writerLog}`);
    return;
  }
  // The writer port may be between primaries (a chaos scenario just ran): retry for a while.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const client = await writerClient(state);
      try {
        await client.query(
          'CREATE TABLE IF NOT EXISTS lab_writes (run text NOT NULL, seq bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (run, seq))',
        );
      } finally {
        await client.end().catch(() => undefined);
      }
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(
          `cannot create the lab_writes table through the writer port ${state.haproxy.writerPort}: ${(err as Error).message}; see \`lab status\``,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const writerLog = join(state.labDir, 'load', `${runId}-writer.log`);
  const readerLog = join(state.labDir, 'load', `${runId}-reader.log`);
  const proc = spawnDetached(
    process.execPath,
    [
      workerPath(),
      String(state.haproxy.writerPort),
      String(state.haproxy.readerPort),
      runId,
      writerLog,
      readerLog,
      String(o.intervalMs ?? 100),
      String(o.maxSeconds ?? 3600),
      JSON.stringify(Object.fromEntries(state.nodes.map((n) => [n.pgPort, n.name]))),
    ],
    { logFile: join(state.labDir, 'load', 'worker.log'), marker: runId },
  );
  state.load = { proc, runId, writerLog, readerLog, startedAt: Date.now() };
  writeState(state);
  o.out(`load started (pid ${proc.pid}): writer -> 127.0.0.1:${state.haproxy.writerPort}, reader -> 127.0.0.1:${state.haproxy.readerPort}, 10 attempts/s each`);
  o.out(`acknowledged writes: ${writerLog}`);
}

/**
 * `lab load stop`: stops the load generator and prints what it did.
 *
 * @example
 * ```ts
 * await loadStop(readState(labDir())!, console.log);
 * ```
 */
export async function loadStop(state: LabState, out: (line: string) => void): Promise<void> {
  if (!state.load || !(await stopProcess(state.load.proc, 'SIGTERM', 10_000))) {
    out('The load generator is not running.');
    return;
  }
  const w = readLog(state.load.writerLog);
  out(`load stopped: ${w.filter((r) => r.seq !== undefined).length} acknowledged writes, ${w.filter((r) => r.err).length} failed attempts`);
}

/**
 * The records of a load log (a line still being written is skipped).
 *
 * @example
 * ```ts
 * const acks = readLog(state.load!.writerLog).filter((r) => r.seq !== undefined);
 * ```
 */
export function readLog(file: string): LoadRecord[] {
  if (!existsSync(file)) return [];
  const out: LoadRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LoadRecord);
    } catch {
      // partial last line
    }
  }
  return out;
}

/**
 * Success per second and which servers answered, over the last `windowMs`.
 *
 * @example
 * ```ts
 * console.log(loadRates(state)?.writer); // '10.0 ok/s, 0.0 failed/s, served by node2'
 * ```
 */
export function loadRates(state: LabState, windowMs = 3000, now = Date.now()): { writer: string; reader: string } | undefined {
  if (!state.load) return undefined;
  const portName = new Map(state.nodes.map((n) => [n.pgPort, n.name]));
  const describe = (file: string): string => {
    const recent = readLog(file).filter((r) => r.t > now - windowMs);
    const ok = recent.filter((r) => !r.err);
    const servers = [...new Set(ok.map((r) => portName.get(r.port ?? 0) ?? String(r.port)))].sort();
    const lastErr = recent.filter((r) => r.err).at(-1)?.err;
    return (
      `${(ok.length / (windowMs / 1000)).toFixed(1)} ok/s, ${((recent.length - ok.length) / (windowMs / 1000)).toFixed(1)} failed/s` +
      (servers.length ? `, served by ${servers.join(', ')}` : '') +
      (lastErr ? ` (last error: ${lastErr})` : '')
    );
  };
  return { writer: describe(state.load.writerLog), reader: describe(state.load.readerLog) };
}

/** The write outage around a fault and the acknowledged writes the current primary does not have. */
export interface Impact {
  /** Largest gap between two acknowledged writes from the last one before the fault on, ms. */
  outageMs: number;
  /** The acknowledged writes on both sides of that largest gap. */
  gapFrom: number | undefined;
  gapTo: number | undefined;
  acknowledged: number;
  lost: number[];
}

/**
 * The largest gap between consecutive acknowledged writes (times in ms, ascending) from the last
 * one before `faultAt` to the first one after `until`; later gaps belong to later events.
 *
 * @example
 * ```ts
 * outageWindow([0, 100, 200, 3200, 3300], 250, 3250); // { outageMs: 3000, gapFrom: 200, gapTo: 3200 }
 * ```
 */
export function outageWindow(
  ackTimes: readonly number[],
  faultAt: number,
  until: number,
): { outageMs: number; gapFrom: number | undefined; gapTo: number | undefined } {
  let prev = ackTimes.filter((t) => t <= faultAt).at(-1) ?? faultAt;
  let outageMs = 0;
  let gapFrom: number | undefined;
  let gapTo: number | undefined;
  for (const t of ackTimes) {
    if (t <= faultAt) continue;
    if (t - prev > outageMs) {
      outageMs = t - prev;
      gapFrom = prev;
      gapTo = t;
    }
    prev = t;
    if (t > until) break;
  }
  return { outageMs, gapFrom, gapTo };
}

/**
 * Computes the outage from the writer log and checks every acknowledged write of the run against
 * the primary behind the writer port.
 *
 * @example
 * ```ts
 * const impact = await measureImpact(state, faultAt);
 * console.log(impact?.outageMs, impact?.lost);
 * ```
 */
export async function measureImpact(state: LabState, faultAt: number, until = Date.now()): Promise<Impact | undefined> {
  if (!state.load) return undefined;
  const acks = readLog(state.load.writerLog).filter((r) => r.seq !== undefined && !r.err);
  const { outageMs, gapFrom, gapTo } = outageWindow(
    acks.map((r) => r.t),
    faultAt,
    until,
  );
  const seqs = acks.map((r) => r.seq!);
  // Right after a failover HAProxy may still mark servers up or down and cut sessions: retry briefly.
  let present: Set<number> | undefined;
  for (let attempt = 1; present === undefined; attempt++) {
    try {
      const client = await writerClient(state);
      try {
        const rows = (await client.query<{ seq: string }>('SELECT seq FROM lab_writes WHERE run = $1 AND seq = ANY($2::bigint[])', [state.load.runId, seqs]))
          .rows;
        present = new Set(rows.map((r) => Number(r.seq)));
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (err) {
      if (attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return { outageMs, gapFrom, gapTo, acknowledged: seqs.length, lost: seqs.filter((s) => !present.has(s)) };
}

import type { BloatEstimate, RepackEvent, TableResult, TablePlan } from '@pgtools/repack';
import { verbosityOf, type LineKind, type Verbosity } from './elevel.js';

const bloat = (b: BloatEstimate): string =>
  b.reclaimablePct === null
    ? `no bloat estimate (${b.note ?? 'unknown'})`
    : `about ${b.reclaimablePct}% reclaimable (${mb(b.reclaimableBytes ?? 0)} of ${mb(b.heapBytes)} heap; ${b.method === 'pgstattuple' ? 'measured with pgstattuple' : 'estimated from statistics'})`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const secs = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Turns the library's events into what pg_repack users expect to read: INFO/WARNING lines,
 * and on a terminal a progress bar with ETA during the copy and the apply.
 */
export function createRenderer(err: Out, options: { echo: boolean; quiet: boolean; verbosity?: Verbosity; concurrentTables?: boolean }) {
  const verbosity = options.verbosity ?? verbosityOf(undefined, options.echo);
  let barShown = false;
  let barStarted = 0;
  const clearBar = (): void => {
    if (barShown) {
      err.write('\r\x1b[2K');
      barShown = false;
    }
  };
  // `-E` decides which kinds of line are printed; the prefix says the kind.
  const line = (s: string): void => {
    const kind: LineKind = s.startsWith('WARNING:') ? 'warning' : s.startsWith('LOG:') ? 'log' : s.startsWith('INFO:') ? 'info' : 'debug';
    if (options.quiet || !verbosity.shows(kind)) return;
    clearBar();
    err.write(`${s}\n`);
  };
  const bar = (label: string, done: number, total: number): void => {
    // With tables in parallel one bar would jump between them: the lines say what happens instead.
    if (options.quiet || !err.isTTY || total <= 0 || !verbosity.shows('info') || options.concurrentTables) return;
    const width = Math.max(10, Math.min(40, (err.columns ?? 80) - 50));
    const fraction = Math.min(1, done / total);
    const elapsed = Date.now() - barStarted;
    const eta = fraction > 0.02 ? Math.round((elapsed / fraction - elapsed) / 1000) : undefined;
    const filled = Math.round(width * fraction);
    err.write(
      `\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%${eta === undefined ? '' : ` ETA ${eta}s`}`,
    );
    barShown = true;
  };
  const session = (s: { pid: number; user: string | null; application: string | null; query: string | null }): string =>
    `PID ${s.pid} (user ${s.user ?? '?'}, application ${s.application || '?'}): ${s.query ?? ''}`;

  return {
    onEvent(e: RepackEvent): void {
      switch (e.type) {
        case 'phase-start':
          if (e.phase === 'precheck') line(`INFO: repacking table "${e.table}"`);
          if (e.phase === 'copy' || e.phase === 'apply') barStarted = Date.now();
          break;
        case 'phase-end':
          clearBar();
          if (verbosity.phaseTimings && !options.quiet) {
            clearBar();
            err.write(options.concurrentTables ? `  "${e.table}" ${e.phase.padEnd(14)} ${secs(e.ms)}\n` : `  ${e.phase.padEnd(14)} ${secs(e.ms)}\n`);
          }
          break;
        case 'copy-progress':
          if (err.isTTY) bar('copy ', e.bytesDone, e.bytesTotal);
          break;
        case 'apply-progress':
          if (err.isTTY) bar('apply', e.applied, e.applied + e.remaining);
          break;
        case 'lock-waiting':
          line(
            `INFO: waiting for ACCESS EXCLUSIVE on "${e.table}" (${e.purpose}) for ${secs(e.waitedMs)}; blocked by ${e.blockers.map((b) => `PID ${b.pid}`).join(', ') || 'other sessions'}`,
          );
          break;
        case 'backend-cancelled':
          line(`WARNING: canceling conflicted backend ${session(e.session)}`);
          break;
        case 'backend-terminated':
          line(`WARNING: terminating conflicted backend ${session(e.session)}`);
          break;
        case 'ddl-cancelled':
          line(`WARNING: canceled a DDL statement waiting for "${e.table}" (it would stall every reader): ${session(e.session)}`);
          break;
        case 'snapshot-waiting':
          if (e.waitedMs === 0 || Math.floor(e.waitedMs / 5000) !== Math.floor((e.waitedMs - 200) / 5000)) {
            line(
              `INFO: waiting for ${e.sessions.length} transaction(s) with a snapshot older than the copy: ${e.sessions.map((s) => `PID ${s.pid}`).join(', ')}`,
            );
          }
          break;
        case 'matview-rebuilt':
          line(
            e.populated
              ? `INFO: materialized view ${e.matview} rebuilt on the new "${e.table}": its contents are as of now, as after REFRESH MATERIALIZED VIEW`
              : `INFO: materialized view ${e.matview} rebuilt on the new "${e.table}", unpopulated as it was`,
          );
          break;
        case 'leftovers-removed':
          line(`INFO: removed leftovers of an interrupted run: ${e.objects.join(', ')}`);
          break;
        case 'warning':
          line(`WARNING: ${e.message}`);
          break;
        case 'throttle-paused':
          line(`INFO: ${e.phase} paused for ${secs(e.pausedMs)}: ${e.reason}`);
          break;
        case 'throttle-resumed':
          line(`INFO: ${e.phase} resumed after ${secs(e.pausedMs)}: standbys caught up`);
          break;
        case 'order':
          line(`INFO: ordering "${e.table}" by ${e.orderBy}${e.source === 'cluster-index' ? ' (its CLUSTER index)' : ''}`);
          break;
        case 'bloat-estimate':
          line(`INFO: "${e.table}": ${bloat(e.estimate)}`);
          break;
        case 'index-leftovers-dropped':
          line(`INFO: dropped invalid leftovers of an interrupted REINDEX CONCURRENTLY on "${e.table}": ${e.indexes.join(', ')}`);
          break;
        case 'disk-check':
          if (e.check.method === 'unchecked' || options.echo) line(`INFO: ${e.check.note}`);
          break;
        default:
          break;
      }
    },
    summary(t: TableResult): string[] {
      const out: string[] = [];
      if (t.status === 'filtered') return [`Leaving "${t.table}" as is: ${t.message ?? t.code ?? ''}`];
      if (t.mode === 'indexes' && t.status === 'repacked') {
        return [
          `"${t.table}": indexes rebuilt in ${secs(t.totalMs)}: ${t.indexesBuilt.join(', ') || 'none'}${t.indexLeftoversDropped?.length ? `; dropped leftovers ${t.indexLeftoversDropped.join(', ')}` : ''}`,
        ];
      }
      if (t.status !== 'repacked') {
        const verb = t.status === 'skipped' ? 'Skipping' : 'ERROR: repack failed for';
        out.push(`${verb} "${t.table}": ${t.message ?? t.code ?? ''}`);
        if (t.cleanupHint) out.push(`HINT: ${t.cleanupHint}`);
        return out;
      }
      const maxAe = Math.max(0, ...t.accessExclusive.map((a) => a.heldMs));
      out.push(
        `"${t.table}" repacked in ${secs(t.totalMs)} (swap: ${t.swap}, key: ${t.key?.index ?? '?'}): ` +
          `${t.sizeBefore ? mb(t.sizeBefore.totalBytes) : '?'} -> ${t.sizeAfter ? mb(t.sizeAfter.totalBytes) : '?'}`,
      );
      out.push(
        `  rows copied ${t.rowsCopied}; log applied ${t.log.entries} (insert ${t.log.inserts}, update ${t.log.updates}, delete ${t.log.deletes}); ` +
          `indexes ${t.indexesBuilt.length}; lock waits ${secs(t.lockWaitMs)}; ACCESS EXCLUSIVE ${t.accessExclusive.map((a) => `${a.purpose} ${secs(a.heldMs)}`).join(', ')} (max ${secs(maxAe)})`,
      );
      out.push(`  phases: ${t.phases.map((p) => `${p.phase} ${secs(p.ms)}`).join(', ')}`);
      if (t.orderBy) out.push(`  ordered by ${t.orderBy}`);
      if (t.bloat) out.push(`  ${bloat(t.bloat)}`);
      if (t.leftoversRemoved.length > 0) out.push(`  removed leftovers: ${t.leftoversRemoved.join(', ')}`);
      for (const s of t.cancelled) out.push(`  cancelled ${session(s)}`);
      for (const s of t.terminated) out.push(`  terminated ${session(s)}`);
      return out;
    },
    /** Whether lines of this kind are printed (`-E`). */
    shows: verbosity.shows,
    /** The end-of-run table: every table, what happened and why. */
    summaryTable(tables: ReadonlyArray<TableResult & { database?: string }>): string[] {
      const rows = tables.map((t) => [
        t.database ? `${t.database}:${t.table}` : t.table,
        t.status === 'filtered' ? 'skipped by filter' : t.status,
        t.status === 'repacked'
          ? t.mode === 'indexes'
            ? `indexes: ${t.indexesBuilt.join(', ')}`
            : `${t.sizeBefore ? mb(t.sizeBefore.totalBytes) : '?'} -> ${t.sizeAfter ? mb(t.sizeAfter.totalBytes) : '?'}`
          : `${t.code ?? ''}: ${t.message ?? ''}`,
      ]);
      const w0 = Math.max(5, ...rows.map((r) => r[0]!.length));
      const w1 = Math.max(6, ...rows.map((r) => r[1]!.length));
      const count = (s: TableResult['status']): number => tables.filter((t) => t.status === s).length;
      return [
        '',
        `${'table'.padEnd(w0)}  ${'status'.padEnd(w1)}  detail`,
        ...rows.map((r) => `${r[0]!.padEnd(w0)}  ${r[1]!.padEnd(w1)}  ${r[2]}`),
        `${tables.length} table(s): ${count('repacked')} repacked, ${count('filtered')} skipped by filter, ${count('skipped')} skipped, ${count('failed')} failed`,
      ];
    },
    plan(p: TablePlan): string[] {
      const out = [`"${p.table}": ${!p.selected ? 'left as is by --if-bloated' : p.ok ? 'can be repacked' : 'cannot be repacked'} (swap: ${p.swap})`];
      out.push(`  bloat: ${bloat(p.bloat)}`);
      out.push(`  order: ${p.orderBy ?? 'none'}`);
      out.push(`  disk: ${p.disk.note}`);
      out.push(`  key: ${p.key ? `${p.key.index} (${p.key.columns.join(', ')})` : 'none'}`);
      out.push(
        `  size: heap ${mb(p.sizeBytes.heap)}, total ${mb(p.sizeBytes.total)}, about ${p.estimatedRows} rows; extra disk needed up to ${mb(p.diskNeededBytes)}`,
      );
      for (const l of p.alter?.lines ?? []) out.push(`  column: ${l}`);
      for (const l of p.alter?.constraints ?? []) out.push(`  constraint: ${l}`);
      for (const i of p.indexes) out.push(`  index to build: ${i.definition}`);
      for (const l of p.locks) out.push(`  lock: ${l}`);
      for (const problem of p.problems)
        out.push(`  ${problem.severity === 'warn' ? 'WARNING' : 'PROBLEM'}: ${problem.message}${problem.fix ? `; ${problem.fix}` : ''}`);
      return out;
    },
    echo(sql: string): void {
      line(`LOG: (query) ${sql.replace(/\s+/g, ' ').trim()}`);
    },
    clear: clearBar,
  };
}

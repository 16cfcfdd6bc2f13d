import type pg from 'pg';
import { PgToolsError, quoteIdent, type Logger } from '@pgtools/core';
import { precheck, type PrecheckResult, type Problem } from '../precheck.js';
import { inspectTable, type TableInfo } from '../table-info.js';
import { copyOrder, type CopyOrder } from '../order-by.js';
import { estimateBloat } from '../bloat.js';
import { checkDisk } from '../disk.js';
import { ELIGIBILITY_CODES } from '../outcomes.js';
import type { QualifiedName, TableRun } from '../table-run.js';
import type { AlterPlan } from '../alter-plan.js';
import { probeAlter } from '../alter-probe.js';
import { readStatisticsFacts, type StatisticsBefore } from '../statistics-carry-over.js';
import { readMatviews, refuseMatviews } from '../matview-facts.js';

/** What the precheck decided; the later phases work from it. */
export interface Prechecked {
  info: TableInfo;
  table: QualifiedName;
  swapMode: 'catalog' | 'rename';
  order: CopyOrder | undefined;
  /** With `alter`: the plan, tried on a temporary table. */
  alter: AlterPlan | undefined;
  /** Read before the capture when the statistics may carry over (catalog swap, unordered copy, ANALYZE asked for). */
  statistics: StatisticsBefore | undefined;
}

/**
 * The precheck phase: looks at the table and the options, changes nothing. Throws (a skip, a
 * refusal or a filter, by its code) when the table is not to be repacked as asked.
 */
export async function runPrecheck(run: TableRun): Promise<Prechecked> {
  const { work, opts, display, result } = run;
  return run.phase('precheck', async () => {
    const info = await inspectTable(work, await oidToRef(work, run.tableOid));
    result.sizeBefore = { heapBytes: info.heapBytes, totalBytes: info.totalBytes };
    const { superuser, publications } = await roleAndPublications(work);
    // A new definition can only be put in place by renaming (resolveOptions refused catalog with alter).
    const mode = opts.alter ? 'rename' : opts.swap === 'auto' ? (superuser ? 'catalog' : 'rename') : opts.swap;
    if (mode === 'catalog' && !superuser) {
      throw new PgToolsError('catalog_swap_requires_superuser', `--swap=catalog needs a superuser; ${display} can be repacked by its owner with --swap=rename`);
    }
    const checked = precheck(info, { swap: mode, publicationsForAllTables: publications });
    if (run.target.discovered) for (const p of checked.problems) if (ELIGIBILITY_CODES.has(p.code)) p.severity = 'skip';
    raiseProblems(checked.problems, run.logger, (m) => run.emit({ type: 'warning', table: display, message: m }));
    const key = requireKey(checked);
    result.key = { index: key.name, columns: key.keyColumns as string[] };
    result.swap = mode;
    if (opts.tablespace !== undefined) {
      const { rows: ts } = await work.query('SELECT 1 FROM pg_tablespace WHERE spcname = $1', [opts.tablespace]);
      if (ts.length === 0) throw new PgToolsError('tablespace_not_found', `tablespace ${quoteIdent(opts.tablespace)} does not exist`);
    }
    // The rename swap rebuilds the materialized views over the table after its commit: what it cannot rebuild is refused now.
    if (mode === 'rename') refuseMatviews(display, await readMatviews(work, run.tableOid));
    const order = await copyOrder(work, info, opts.orderBy);
    if (order) {
      result.orderBy = order.sql;
      run.emit({ type: 'order', table: display, orderBy: order.sql, source: order.source });
    }
    if (opts.ifBloatedPct !== undefined) {
      const estimate = await estimateBloat(work, run.tableOid);
      result.bloat = estimate;
      run.emit({ type: 'bloat-estimate', table: display, estimate });
      if (estimate.reclaimablePct === null) {
        throw new PgToolsError('bloat_unknown', `${display}: no bloat estimate (${estimate.note ?? 'unknown'}); not repacked by --if-bloated`);
      }
      if (estimate.reclaimablePct < opts.ifBloatedPct) {
        throw new PgToolsError(
          'below_bloat_threshold',
          `${display}: about ${estimate.reclaimablePct}% reclaimable (${estimate.method}), below --if-bloated ${opts.ifBloatedPct}%`,
        );
      }
    }
    if (opts.checkDisk) {
      // Reserved before the check awaits anything, so a table checked at the same time counts this one.
      const alongside = run.shared?.disk.reserve(info.totalBytes) ?? 0;
      if (run.shared) run.diskReserved = info.totalBytes;
      const disk = await checkDisk(work, info, opts.tablespace, alongside);
      result.diskCheck = disk;
      run.emit({ type: 'disk-check', table: display, check: disk });
      if (!disk.ok) throw new PgToolsError('insufficient_disk', `${display}: ${disk.note}; nothing was changed`);
    }
    let alter: AlterPlan | undefined;
    if (opts.alter) {
      alter = await probeAlter(work, info, key.keyColumns as string[], opts.alter, run.logger, run.target.treeLeaf ? 'tree-leaf' : 'table');
      result.alter = alter.mapping;
    }
    // Before the capture: the change counter must not include what the run itself replays.
    const statistics = opts.analyze && mode === 'catalog' && !order && !alter ? await readStatisticsFacts(work, run.tableOid) : undefined;
    return { info, table: { schema: info.schema, name: info.name }, swapMode: mode, order, alter, statistics };
  });
}

/** Throws the first problem that is not a warning; warnings are logged and passed to `warn`. */
export function raiseProblems(problems: Problem[], logger: Logger, warn: (m: string) => void): void {
  for (const p of problems.filter((x) => x.severity === 'warn')) {
    logger.warn(p.message);
    warn(p.message);
  }
  const blocking = problems.find((p) => p.severity !== 'warn');
  if (!blocking) return;
  const message = blocking.fix ? `${blocking.message}; ${blocking.fix}` : blocking.message;
  // The status comes from the outcome table; a discovered table's eligibility problem skips it.
  throw new PgToolsError(blocking.code, message);
}

/** The key after `raiseProblems` passed: a missing key is always one of its problems. */
export function requireKey(checked: PrecheckResult): NonNullable<PrecheckResult['key']> {
  if (!checked.key) throw new PgToolsError('no_usable_key', 'no usable key (a precheck without a key reported no problem)');
  return checked.key;
}

/** Whether we are a superuser, and the FOR ALL TABLES publications: one round trip, paid per table. */
async function roleAndPublications(client: pg.ClientBase): Promise<{ superuser: boolean; publications: string[] }> {
  const { rows } = await client.query<{ su: boolean | null; pubs: string[] }>(
    `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su,
            ARRAY(SELECT pubname::text FROM pg_publication WHERE puballtables ORDER BY pubname) AS pubs`,
  );
  return { superuser: rows[0]?.su ?? false, publications: rows[0]?.pubs ?? [] };
}

async function oidToRef(client: pg.ClientBase, oid: number): Promise<{ schema: string; name: string }> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    'SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1',
    [oid],
  );
  if (!rows[0]) throw new PgToolsError('table_not_found', `table with OID ${oid} no longer exists`);
  return rows[0];
}

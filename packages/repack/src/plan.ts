import { PgToolsError, quoteQualified, type PoolOrConfig } from '@pgtools/core';
import { alterRequest } from './alter-request.js';
import { mappingLines, type AlterColumnMapping } from './alter-plan.js';
import { probeAlter } from './alter-probe.js';
import { constraintLines } from './alter-constraint-plan.js';
import { connectionSource } from './connections.js';
import type { RepackOptions, TargetSelection } from './options.js';
import { precheck, type Problem } from './precheck.js';
import { partitionedTableTarget, resolveTargets } from './targets.js';
import { treeDryRun } from './alter-tree-plan.js';
import { matviewBlockers, readMatviews } from './matview-facts.js';
import { inspectTable } from './table-info.js';
import { estimateBloat, type BloatEstimate } from './bloat.js';
import { checkDisk, type DiskCheck } from './disk.js';
import { copyOrder } from './order-by.js';
import { outcomeOf } from './outcomes.js';
import { checkSource, resolveSwapMode } from './server-version.js';

/** What a repack of one table would do, computed without taking any lock or changing anything. */
export interface TablePlan {
  table: string;
  swap: 'catalog' | 'rename';
  key: { index: string; columns: string[] } | undefined;
  indexes: Array<{ name: string; definition: string }>;
  estimatedRows: number;
  sizeBytes: { heap: number; total: number };
  /** Peak extra disk: a full copy of the table and its indexes, plus the change log. */
  diskNeededBytes: number;
  /** Reclaimable space and how it was estimated (pgstattuple, statistics, or unavailable). */
  bloat: BloatEstimate;
  /** With `ifBloatedPct`: would the table be repacked or left out by the filter? */
  selected: boolean;
  /** The copy's ORDER BY (from `orderBy` or the CLUSTER index); undefined: unordered. */
  orderBy: string | undefined;
  /** Free disk, where it can be checked, and what was checked. */
  disk: DiskCheck;
  /** The locks the run would take, in order. */
  locks: string[];
  /** With `alter` or `columnOrder`: the old → new column mapping in the new order (tried on a temporary table, rolled back), the same as text lines, and the new constraints as text lines. */
  alter?: { mapping: AlterColumnMapping[]; lines: string[]; constraints: string[] };
  problems: Problem[];
  /** True when nothing in `problems` stops the run. */
  ok: boolean;
}

/**
 * The `--dry-run`: resolves the tables, checks each one and lists key, indexes, disk and locks.
 *
 * @example
 * ```ts
 * import { planRepack } from '@pgtools/repack';
 * const plans = await planRepack({ connectionString: process.env.DATABASE_URL }, { table: 'public.orders' });
 * for (const p of plans) console.log(p.table, p.ok ? 'ok' : p.problems.map((x) => x.message));
 * ```
 */
export async function planRepack(
  db: PoolOrConfig,
  options: TargetSelection & Pick<RepackOptions, 'swap' | 'orderBy' | 'tablespace' | 'ifBloatedPct' | 'toolSchema' | 'alter' | 'columnOrder'>,
): Promise<TablePlan[]> {
  // An action outside the grammar is refused before anything, as the run refuses it.
  const actions = alterRequest(options);
  const source = connectionSource(db);
  try {
    await checkSource(source);
    const targets = await resolveTargets(source, options, options.toolSchema);
    // A partitioned table given to --alter changes whole: the run's refusals and its one swap (alter-tree.ts).
    const treeTarget = actions ? await partitionedTableTarget(source, options) : undefined;
    const client = await source.connect();
    try {
      const tree = treeTarget && actions ? await treeDryRun(client, treeTarget, actions) : undefined;
      const { rows: su } = await client.query<{ su: boolean }>('SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user');
      const superuser = su[0]?.su ?? false;
      const { rows: pubs } = await client.query<{ pubname: string }>('SELECT pubname FROM pg_publication WHERE puballtables');
      const plans: TablePlan[] = [];
      for (const target of targets) {
        const info = await inspectTable(client, target);
        const swap = actions ? 'rename' : resolveSwapMode(options.swap, superuser);
        const { key, problems } = precheck(info, { swap, publicationsForAllTables: pubs.map((p) => p.pubname) });
        let orderBy: string | undefined;
        try {
          orderBy = (await copyOrder(client, info, options.orderBy))?.sql;
        } catch (err) {
          problems.push({ code: 'invalid_order_by', severity: 'refuse', message: (err as Error).message });
        }
        // The rename swap rebuilds the materialized views over the table after its commit (phases/matviews.ts).
        const matviews = swap === 'rename' ? await readMatviews(client, info.oid) : [];
        // The whole-tree swap of --alter on a partitioned table rebuilds none (alter-tree-swap.ts).
        const matviewProblems =
          tree && matviews.length > 0
            ? [
                `${matviews.map((m) => quoteQualified(m.schema, m.name)).join(', ')} reads a partition, and --alter on the partitioned table does not rebuild materialized views over partitions yet`,
              ]
            : matviewBlockers(matviews);
        if (matviewProblems.length > 0) {
          problems.push({
            code: 'rename_swap_unsupported',
            severity: 'refuse',
            message: `the materialized views over it cannot be rebuilt: ${matviewProblems.join('; ')}`,
          });
        }
        let alter: TablePlan['alter'];
        if (actions && key) {
          try {
            const planned = await probeAlter(client, info, key.keyColumns as string[], actions, undefined, tree ? 'tree-leaf' : 'table');
            alter = { mapping: planned.mapping, lines: mappingLines(planned.mapping), constraints: constraintLines(planned.constraints) };
          } catch (err) {
            if (!(err instanceof PgToolsError)) throw err;
            problems.push({ code: err.code, severity: 'refuse', message: err.message });
          }
        }
        if (tree?.problem) problems.unshift({ ...tree.problem });
        if (actions && targets.length !== 1 && !tree) {
          problems.push({ code: 'invalid_option', severity: 'refuse', message: `alter works on one table at a time; the selection names ${targets.length}` });
        }
        const bloat = await estimateBloat(client, info.oid);
        const disk = await checkDisk(client, info, options.tablespace);
        if (!disk.ok) problems.push({ code: 'insufficient_disk', severity: 'skip', message: disk.note });
        const selected = options.ifBloatedPct === undefined || (bloat.reclaimablePct !== null && bloat.reclaimablePct >= options.ifBloatedPct);
        if (swap === 'catalog' && !superuser) {
          problems.push({
            code: 'catalog_swap_requires_superuser',
            severity: 'refuse',
            message: '--swap=catalog needs a superuser',
            fix: 'use --swap=rename (table owner)',
          });
        }
        // A dry run predicts what the run would do: skip or refuse, from the one outcome table.
        for (const p of problems)
          if (p.severity !== 'warn') p.severity = outcomeOf(p.code, { discovered: target.discovered === true }) === 'skipped' ? 'skip' : 'refuse';
        const name = quoteQualified(info.schema, info.name);
        plans.push({
          table: info.display,
          swap,
          key: key ? { index: key.name, columns: key.keyColumns.filter((c): c is string => c !== null) } : undefined,
          indexes: info.indexes.map((i) => ({ name: i.name, definition: i.definition })),
          estimatedRows: info.estimatedRows,
          sizeBytes: { heap: info.heapBytes, total: info.totalBytes },
          diskNeededBytes: info.totalBytes,
          bloat,
          selected,
          orderBy,
          disk,
          ...(alter ? { alter } : {}),
          locks: tree
            ? tree.locks(name)
            : [
                `ACCESS EXCLUSIVE on ${name} for a moment: create the change-capture trigger`,
                `SHARE UPDATE EXCLUSIVE on ${name} for the whole run: keeps DDL and VACUUM out, reads and writes continue`,
                `ACCESS EXCLUSIVE on ${name} for a moment: apply the last changes and swap`,
                ...matviews.map(
                  (m) =>
                    `ACCESS EXCLUSIVE on ${quoteQualified(m.schema, m.name)} for a moment after the swap: put its copy rebuilt on the new table in place (its contents then as of that moment, as after REFRESH MATERIALIZED VIEW)`,
                ),
              ],
          problems,
          ok: !problems.some((p) => p.severity !== 'warn'),
        });
      }
      return plans;
    } finally {
      await source.release(client);
    }
  } finally {
    await source.end();
  }
}

import type pg from 'pg';
import { PgToolsError, prepareSession, quoteIdent, quoteQualified, sqlStateOf } from '@pgtools/core';
import { shadowIndexDefinitions, type IndexPair } from '@pgtools/swap';
import type { ConnectionSource } from '../connection-source.js';
import type { QualifiedName, TableRun } from '../table-run.js';
import type { AlterPlan } from '../alter-plan.js';
import { alterIndexName } from '../alter-constraint-plan.js';
import { firstDuplicate } from '../alter-constraint-rows.js';

/**
 * Index-build connections when `jobs` is not given. Two builds side by side roughly halve the index
 * phase on a two-core server (parallel maintenance workers alone gained little there), at the cost
 * of one more connection for the length of that phase.
 */
const DEFAULT_JOBS = 2;

/**
 * The indexes phase: builds the shadow's copy of every index of the table, then the unique indexes
 * of the constraints `--alter` adds (attached at the swap); returns which shadow index replaces which.
 */
export async function runIndexes(run: TableRun, table: QualifiedName, shadow: QualifiedName, alter?: AlterPlan): Promise<IndexPair[]> {
  const { work, opts, source, result, display } = run;
  return run.phase('indexes', async () => {
    const definitions = await shadowIndexDefinitions(work, {
      original: table,
      shadow,
      ...(opts.moveIndexes && opts.tablespace !== undefined ? { tablespace: opts.tablespace } : {}),
    });
    const pairs = definitions.map((def) => ({
      original: { schema: def.originalIndex.schema, name: def.originalIndex.name },
      shadow: { schema: shadow.schema, name: def.shadowIndexName },
    }));
    const build = async (client: pg.ClientBase, def: (typeof definitions)[number]): Promise<void> => {
      run.checkAbort();
      const t0 = Date.now();
      await client.query(def.sql);
      result.indexesBuilt.push(def.originalIndex.name);
      run.emit({ type: 'index-built', table: display, index: def.originalIndex.name, ms: Date.now() - t0 });
    };
    // Longest first (the original's size stands in for the build cost), so a big index never starts
    // last on one connection while the others sit idle.
    const sizes = await indexSizes(
      work,
      definitions.map((d) => d.originalIndex.oid),
    );
    const ordered = [...definitions].sort((a, b) => (sizes.get(b.originalIndex.oid) ?? 0) - (sizes.get(a.originalIndex.oid) ?? 0));
    const jobs = Math.min(opts.jobs ?? (source.spare?.() === false ? 1 : DEFAULT_JOBS), ordered.length);
    await buildInParallel(source, work, ordered, jobs, run.appName('indexes'), build, await workerBudget(work, jobs));
    if (alter) await buildAlterUniques(run, shadow, alter);
    return pairs;
  });
}

/**
 * The unique indexes of new UNIQUE constraints, on the shadow with every copied row in: a duplicate
 * among them fails the build, reported with the keys of the rows (`alter_constraint_violated`);
 * from here on the log apply refuses any new duplicate before the swap.
 */
async function buildAlterUniques(run: TableRun, shadow: QualifiedName, alter: AlterPlan): Promise<void> {
  const { work, opts, result, display } = run;
  const space = opts.moveIndexes && opts.tablespace !== undefined ? ` TABLESPACE ${quoteIdent(opts.tablespace)}` : '';
  for (const [i, c] of alter.constraints.entries()) {
    if (c.kind !== 'unique') continue;
    run.checkAbort();
    const t0 = Date.now();
    try {
      await work.query(
        `CREATE UNIQUE INDEX ${quoteIdent(alterIndexName(shadow.name, i))} ON ${quoteQualified(shadow.schema, shadow.name)} (${c.columns.map(quoteIdent).join(', ')})${space}`,
      );
    } catch (err) {
      if (sqlStateOf(err) !== '23505') throw err;
      const dup = await firstDuplicate(work, shadow, result.key?.columns ?? [], c).catch(() => undefined);
      const what = dup ? `the rows with keys ${dup.keys}: ${dup.message}` : `${(err as Error).message} (the rows could not be identified)`;
      throw new PgToolsError('alter_constraint_violated', `--alter on ${display}: ${what}; the table is unchanged`, { cause: err });
    }
    result.indexesBuilt.push(c.name);
    run.emit({ type: 'index-built', table: display, index: c.name, ms: Date.now() - t0 });
  }
}

/**
 * Parallel maintenance workers per build when several builds run side by side: together they stay
 * within the processes one CREATE INDEX may use by the server's own setting (1 + its
 * max_parallel_maintenance_workers). On two cores, two builds without workers beat two builds with
 * two workers each, which only fight for the CPU. Undefined: one build at a time, nothing to change.
 */
async function workerBudget(client: pg.ClientBase, jobs: number): Promise<{ perBuild: number; previous: string } | undefined> {
  if (jobs < 2) return undefined;
  const { rows } = await client.query<{ w: string }>("SELECT current_setting('max_parallel_maintenance_workers') AS w");
  const previous = rows[0]!.w;
  return { perBuild: Math.max(0, Math.floor((1 + Number(previous)) / jobs) - 1), previous };
}

async function indexSizes(client: pg.ClientBase, oids: number[]): Promise<Map<number, number>> {
  const { rows } = await client.query<{ oid: string; bytes: string }>('SELECT o::text AS oid, pg_relation_size(o)::text AS bytes FROM unnest($1::oid[]) AS o', [
    oids,
  ]);
  return new Map(rows.map((r) => [Number(r.oid), Number(r.bytes)]));
}

/**
 * Builds the shadow's indexes over up to `jobs` connections, one index per connection at a time.
 * Extra connections are ours only for the build; `work` keeps building too.
 */
async function buildInParallel<T>(
  source: ConnectionSource,
  work: pg.ClientBase,
  items: readonly T[],
  jobs: number,
  applicationName: string,
  build: (client: pg.ClientBase, item: T) => Promise<void>,
  workers: { perBuild: number; previous: string } | undefined,
): Promise<void> {
  const queue = [...items];
  const extra: Array<pg.PoolClient | pg.Client> = [];
  let failed = false;
  const setWorkers = (c: pg.ClientBase, value: string) => c.query("SELECT pg_catalog.set_config('max_parallel_maintenance_workers', $1, false)", [value]);
  try {
    for (let i = 1; i < jobs; i++) {
      const c = await source.connect();
      extra.push(c);
      await prepareSession(c, { applicationName });
      await c.query('SET synchronous_commit = off');
      if (workers) await setWorkers(c, String(workers.perBuild));
    }
    if (workers) await setWorkers(work, String(workers.perBuild));
    const worker = async (client: pg.ClientBase): Promise<void> => {
      for (let item = queue.shift(); item !== undefined && !failed; item = queue.shift()) {
        try {
          await build(client, item);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const outcomes = await Promise.allSettled([worker(work), ...extra.map((c) => worker(c))]);
    const error = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (error) throw error.reason;
    if (workers) await setWorkers(work, workers.previous);
  } finally {
    for (const c of extra) await source.release(c, failed);
  }
}

import { displayName, PgToolsError, quoteIdent, type Queryable } from '@pgtools/core';
import { createViewSql, recreatesViews, withSearchPath } from '@pgtools/swap';
import type { AlterPlan } from './alter-plan.js';
import { readMatviews } from './matview-facts.js';
import type { TableInfo } from './table-info.js';

/** The materialized views the rename swap rebuilds on the new definition, with their queries printed for the trial. */
export interface MatviewTrial {
  schema: string;
  matviews: Array<{ oid: number; display: string; def: string }>;
}

const refused = (display: string, why: string): PgToolsError => new PgToolsError('alter_refused', `--alter on ${display}: ${why}; nothing was changed`);

/**
 * Before the trial table exists (in the probe's rolled-back transaction): the materialized views
 * reading the table, when a retyped column may change what their queries mean, each query printed
 * with the table's schema as the search path so the table shows by bare name and resolves to the
 * trial's copy in `pg_temp`. Undefined when there is nothing to try.
 */
export async function readMatviewTrial(client: Queryable, info: TableInfo, plan: Pick<AlterPlan, 'changes'>): Promise<MatviewTrial | undefined> {
  if (!recreatesViews(plan.changes)) return undefined;
  // What cannot be rebuilt at all was refused already (the precheck, the plan: matview-facts.ts).
  const matviews = await readMatviews(client, info.oid);
  if (matviews.length === 0) return undefined;
  const { rows } = await withSearchPath(client, quoteIdent(info.schema), { local: true }, () =>
    client.query<{ def: string }>(
      'SELECT pg_catalog.pg_get_viewdef(v.oid) AS def FROM pg_catalog.unnest($1::int8[]::oid[]) WITH ORDINALITY AS v(oid, n) ORDER BY v.n',
      [matviews.map((m) => m.oid)],
    ),
  );
  return { schema: info.schema, matviews: matviews.map((m, i) => ({ oid: m.oid, display: displayName(m.schema, m.name), def: rows[i]?.def ?? '' })) };
}

/**
 * With the trial table in place: builds each materialized view's query as a temporary view (a
 * materialized view may not read a temporary table; the query is analyzed the same way, WITH NO
 * DATA runs nothing either), so the server says whether it still works on the new columns. Refuses
 * (`alter_refused`) naming the matview and the server's reason.
 */
export async function tryMatviews(client: Queryable, trial: MatviewTrial, display: string): Promise<void> {
  await withSearchPath(client, `pg_temp, ${quoteIdent(trial.schema)}`, { local: true }, async () => {
    for (const m of trial.matviews) {
      try {
        await client.query(matviewTrialSql(m));
      } catch (err) {
        throw refused(
          display,
          `materialized view ${m.display} cannot be rebuilt on the new definition (${err instanceof Error ? err.message : String(err)}); change or drop it first`,
        );
      }
    }
  });
}

/** The trial's statement for one matview: its query as a temporary view, under a name of its own. Pure. */
export function matviewTrialSql(m: { oid: number; def: string }): string {
  return createViewSql('CREATE VIEW', `pg_temp.${quoteIdent(`pgtools_matview_${m.oid}`)}`, [], m.def);
}

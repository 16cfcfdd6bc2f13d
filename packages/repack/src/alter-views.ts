import { displayName, PgToolsError, quoteIdent, type Queryable } from '@pgtools/core';
import { createViewSql, readDependentViews, recreatesViews, viewTreeBlockers, withSearchPath, type DependentView } from '@pgtools/swap';
import type { AlterPlan } from './alter-plan.js';
import type { TableInfo } from './table-info.js';

/** The views the rename swap will recreate, with their definitions printed for the trial (see {@link readViewTrial}). */
export interface ViewTrial {
  /** The table's schema and the views' schemas: the search path the definitions were printed under. */
  schemas: string[];
  views: Array<{ view: DependentView; def: string }>;
}

const refused = (display: string, why: string): PgToolsError => new PgToolsError('alter_refused', `--alter on ${display}: ${why}; nothing was changed`);

/**
 * Before the trial table exists (in the probe's transaction, which is rolled back): the views over
 * the table, when the swap will recreate them (a retyped column), each definition printed with the
 * table's and the views' schemas as the search path, so that the table and the views show by bare
 * name and resolve to the trial's copies in `pg_temp` (searched first for relations). Refuses
 * (`alter_refused`) a tree the swap cannot recreate, and two of these relations with one name
 * (their copies would collide in `pg_temp`). Returns undefined when there is nothing to try.
 */
export async function readViewTrial(client: Queryable, info: TableInfo, plan: Pick<AlterPlan, 'changes'>): Promise<ViewTrial | undefined> {
  if (!recreatesViews(plan.changes)) return undefined;
  const views = await readDependentViews(client, info.oid);
  if (views.length === 0) return undefined;
  const blockers = viewTreeBlockers(views);
  if (blockers.length > 0)
    throw refused(info.display, `the views over it are dropped and created again at the swap, which cannot be done: ${blockers.join('; ')}`);
  const names = [info.name, ...views.map((v) => v.name)];
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    throw refused(info.display, `the table and the views over it share the name ${JSON.stringify(twice)}, so the views cannot be tried on the new definition`);
  }
  const schemas = [...new Set([info.schema, ...views.map((v) => v.schema)])];
  // The same list the trial replays them under, without pg_temp (implicitly first, and empty until the
  // trial table is made); then back to the caller's, under which its USING expressions and defaults resolve.
  const { rows } = await withSearchPath(client, schemas.map(quoteIdent).join(', '), { local: true }, () =>
    client.query<{ def: string }>(
      'SELECT pg_catalog.pg_get_viewdef(v.oid) AS def FROM pg_catalog.unnest($1::int8[]::oid[]) WITH ORDINALITY AS v(oid, n) ORDER BY v.n',
      [views.map((v) => v.oid)],
    ),
  );
  return { schemas, views: views.map((view, i) => ({ view, def: rows[i]?.def ?? '' })) };
}

/**
 * With the trial table (the new definition, named like the table in `pg_temp`) in place: creates
 * each view in `pg_temp` under its own name, readers after what they read, so the server builds
 * every definition on the new columns. Refuses (`alter_refused`) naming the first view it cannot
 * build and the server's reason. Leaves the search path as it found it.
 */
export async function tryViews(client: Queryable, trial: ViewTrial, display: string): Promise<void> {
  const sql = viewTrialSql(trial);
  await withSearchPath(client, sql.searchPath, { local: true }, async () => {
    for (const [i, { view }] of trial.views.entries()) {
      try {
        await client.query(sql.views[i] ?? '');
      } catch (err) {
        throw refused(
          display,
          `view ${displayName(view.schema, view.name)} cannot be built on the new definition (${err instanceof Error ? err.message : String(err)}); change or drop it first`,
        );
      }
    }
  });
}

/**
 * The trial's search path (`pg_temp` first, then the schemas the definitions were printed under)
 * and, parallel to `trial.views`, each view's CREATE VIEW in `pg_temp` with its options (a
 * check_option needs a view the server can update through). Pure.
 *
 * @example
 * ```ts
 * viewTrialSql({ schemas: ['public'], views: [{ view, def: ' SELECT id FROM orders;' }] });
 * // { searchPath: 'pg_temp, "public"', views: ['CREATE VIEW pg_temp."v" AS SELECT id FROM orders'] }
 * ```
 */
export function viewTrialSql(trial: ViewTrial): { searchPath: string; views: string[] } {
  return {
    searchPath: ['pg_temp', ...trial.schemas.map(quoteIdent)].join(', '),
    views: trial.views.map(({ view, def }) => createViewSql('CREATE VIEW', `pg_temp.${quoteIdent(view.name)}`, view.reloptions, def)),
  };
}

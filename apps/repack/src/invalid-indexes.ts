import pg from 'pg';
import { quoteQualified } from '@pgtools/core';
import { resolveTargets, type TablePlan, type TargetSelection } from '@pgtools/repack';

/** An invalid index of a selected table, by its quoted qualified name. */
export interface InvalidIndex {
  table: string;
  index: string;
}

/**
 * The invalid indexes of the tables `selection` resolves to (`--no-error-on-invalid-index`).
 * pg_repack 1.5 then repacks the table and leaves such an index out, so afterwards it still
 * describes the old heap; pgtools rebuilds it first with REINDEX INDEX CONCURRENTLY instead.
 */
export async function findInvalidIndexes(db: pg.ClientConfig, selection: TargetSelection): Promise<InvalidIndex[]> {
  const targets = await resolveTargets(db, selection);
  if (targets.length === 0) return [];
  const client = new pg.Client(db);
  await client.connect();
  try {
    const { rows } = await client.query<{ table_oid: string; schema: string; name: string }>(
      `SELECT i.indrelid::int8::text AS table_oid, n.nspname AS schema, ic.relname AS name
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
        WHERE i.indrelid = ANY ($1::oid[]) AND NOT i.indisvalid
        ORDER BY 1, 3`,
      [targets.map((t) => t.oid)],
    );
    const display = new Map(targets.map((t) => [String(t.oid), t.display]));
    return rows.map((r) => ({ table: display.get(r.table_oid) ?? r.table_oid, index: quoteQualified(r.schema, r.name) }));
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A dry run with `--no-error-on-invalid-index`: an invalid index no longer stops the table; the
 * plan says it will be rebuilt first.
 */
export function allowInvalidIndexes(plan: TablePlan): TablePlan {
  if (!plan.problems.some((p) => p.code === 'invalid_index')) return plan;
  const problems = plan.problems.map((p) =>
    p.code === 'invalid_index'
      ? { code: p.code, severity: 'warn' as const, message: `${p.message}: rebuilt first with REINDEX INDEX CONCURRENTLY (--no-error-on-invalid-index)` }
      : p,
  );
  return { ...plan, problems, ok: !problems.some((p) => p.severity !== 'warn') };
}

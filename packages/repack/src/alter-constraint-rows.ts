import { PgToolsError, quoteIdent, quoteQualified, type Queryable } from '@pgtools/core';
import type { AlterConstraint } from './alter-constraint-plan.js';
import { keyJson, type AlterPlan } from './alter-plan.js';

/** The SQLSTATEs of a new constraint refusing a row: check_violation, unique_violation, foreign_key_violation. */
const CONSTRAINT_STATES: ReadonlySet<string> = new Set(['23514', '23505', '23503']);

/** Whether a failed copy, apply or swap failed on a constraint `--alter` adds (rather than on a value that does not convert). */
export function isConstraintViolation(state: string | undefined): boolean {
  return state !== undefined && CONSTRAINT_STATES.has(state);
}

/**
 * The new row as a select list over an old row's columns: each kept or retyped column from its
 * source cast to its new type, each added column its default (NULL without one), named as in the
 * new definition; an added generated column is left to {@link generatedSelect}.
 */
function newRowSelect(plan: AlterPlan): string {
  return plan.mapping
    .filter((m) => m.change !== 'dropped' && m.generated === undefined)
    .map((m) => {
      if (m.change !== 'added') return `CAST(${m.from ?? 'NULL'} AS ${m.newType ?? ''}) AS ${quoteIdent(m.column)}`;
      const action = plan.actions.find((a) => a.kind === 'add-column' && a.column === m.column);
      const dflt = action?.kind === 'add-column' ? action.default : undefined;
      return `CAST(${dflt === undefined ? 'NULL' : `(${dflt})`} AS ${m.newType ?? ''}) AS ${quoteIdent(m.column)}`;
    })
    .join(', ');
}

/** The added generated columns, computed over the new row's other columns (as the server computes them), each after a comma. */
function generatedSelect(plan: AlterPlan): string {
  return plan.actions
    .flatMap((a) => (a.kind === 'add-column' && a.generated ? [`, CAST((${a.generated.expression}) AS ${a.type}) AS ${quoteIdent(a.column)}`] : []))
    .join('');
}

/**
 * The first row (by `"pgtools id"`) of `rows` (a FROM item with the old row's columns, its key as
 * JSON text in `"pgtools key"` and its position in `"pgtools id"`) that a new CHECK refuses: its key
 * and which CHECK. Reads only.
 */
export async function firstCheckViolation(client: Queryable, plan: AlterPlan, rows: string): Promise<{ key: string; message: string } | undefined> {
  for (const c of plan.constraints) {
    if (c.kind !== 'check') continue;
    const { rows: found } = await client.query<{ k: string }>(
      `SELECT n."pgtools key" AS k
         FROM (SELECT b.*${generatedSelect(plan)} FROM (SELECT ${newRowSelect(plan)}, o."pgtools key", o."pgtools id" FROM ${rows}) AS b) AS n
        WHERE NOT (${c.expression}) ORDER BY n."pgtools id" LIMIT 1`,
    );
    if (found[0]) return { key: found[0].k, message: `it violates the new CHECK constraint ${quoteIdent(c.name ?? '?')} (${c.expression})` };
  }
  return undefined;
}

/**
 * After a new unique index failed to build on the shadow: two or more rows with the same values
 * (none NULL), named by their keys. Reads only.
 */
export async function firstDuplicate(
  client: Queryable,
  shadow: { schema: string; name: string },
  keyColumns: readonly string[],
  unique: Extract<AlterConstraint, { kind: 'unique' }>,
): Promise<{ keys: string; message: string } | undefined> {
  const cols = unique.columns.map((c) => `s.${quoteIdent(c)}`);
  const { rows } = await client.query<{ keys: string }>(
    `SELECT pg_catalog.json_agg(pgtools_k)::text AS keys FROM (SELECT ${keyJson(keyColumns, (k) => `s.${quoteIdent(k)}`)}::pg_catalog.json AS pgtools_k, ${cols.join(', ')}
       FROM ONLY ${quoteQualified(shadow.schema, shadow.name)} AS s WHERE ${cols.map((c) => `${c} IS NOT NULL`).join(' AND ')}) AS x
      GROUP BY ${unique.columns.map((c) => `x.${quoteIdent(c)}`).join(', ')} HAVING pg_catalog.count(*) > 1 LIMIT 1`,
  );
  if (!rows[0]) return undefined;
  return {
    keys: rows[0].keys,
    message: `they have the same (${unique.columns.map(quoteIdent).join(', ')}), which the new UNIQUE constraint ${quoteIdent(unique.name)} refuses`,
  };
}

/**
 * Before the swap: every new FOREIGN KEY against the shadow's rows (MATCH SIMPLE: a row with a NULL
 * in the key is not checked), one anti-join each. Throws `alter_constraint_violated` naming the
 * first row without a referenced row.
 */
export async function checkForeignKeys(
  client: Queryable,
  input: { display: string; shadow: { schema: string; name: string }; keyColumns: readonly string[]; plan: AlterPlan },
): Promise<void> {
  const { display, shadow, keyColumns, plan } = input;
  for (const fk of plan.constraints) {
    if (fk.kind !== 'foreign-key' || fk.references.schema === undefined || fk.referencedColumns === undefined) continue;
    const refCols = fk.referencedColumns;
    const ref = `${fk.partitioned ? '' : 'ONLY '}${quoteQualified(fk.references.schema, fk.references.name)}`;
    const { rows } = await client.query<{ k: string }>(
      `SELECT ${keyJson(keyColumns, (k) => `s.${quoteIdent(k)}`)} AS k FROM ONLY ${quoteQualified(shadow.schema, shadow.name)} AS s
        WHERE ${fk.columns.map((c) => `s.${quoteIdent(c)} IS NOT NULL`).join(' AND ')}
          AND NOT EXISTS (SELECT 1 FROM ${ref} AS r WHERE ${fk.columns.map((c, i) => `r.${quoteIdent(refCols[i] ?? '')} = s.${quoteIdent(c)}`).join(' AND ')})
        LIMIT 1`,
    );
    if (rows[0]) {
      throw new PgToolsError(
        'alter_constraint_violated',
        `--alter on ${display}: the row with key ${rows[0].k} violates the new FOREIGN KEY ${quoteIdent(fk.name)}: ` +
          `no row of ${quoteQualified(fk.references.schema, fk.references.name)} has its (${fk.columns.map(quoteIdent).join(', ')}); the table is unchanged`,
      );
    }
  }
}

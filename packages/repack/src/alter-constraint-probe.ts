import { PgToolsError, quoteIdent, quoteQualified, type Queryable } from '@pgtools/core';
import type { AlterConstraint, ConstraintNameFacts } from './alter-constraint-plan.js';

const refused = (display: string, text: string, why: string): PgToolsError =>
  new PgToolsError('alter_refused', `--alter ${JSON.stringify(text)} on ${display}: ${why}; nothing was changed`);

/** The constraint and relation names a new constraint of the table must avoid (alter-constraint-plan.ts). */
export async function constraintNameFacts(client: Queryable, tableOid: number): Promise<ConstraintNameFacts> {
  const { rows } = await client.query<{ own: string[]; constraints: string[]; relations: string[] }>(
    `SELECT ARRAY(SELECT conname::text FROM pg_catalog.pg_constraint WHERE conrelid = c.oid ORDER BY 1) AS own,
            ARRAY(SELECT conname::text FROM pg_catalog.pg_constraint WHERE connamespace = c.relnamespace ORDER BY 1) AS constraints,
            ARRAY(SELECT relname::text FROM pg_catalog.pg_class WHERE relnamespace = c.relnamespace ORDER BY 1) AS relations
       FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.oid`,
    [tableOid],
  );
  const r = rows[0];
  return { ownConstraints: r?.own ?? [], schemaConstraints: r?.constraints ?? [], schemaRelations: r?.relations ?? [] };
}

/**
 * Resolves each FOREIGN KEY's referenced table (an unqualified name in the table's own schema: our
 * sessions pin search_path, so the caller's cannot decide it; before the probe's temporary table,
 * which has the table's name, exists): it must be another table with a
 * primary key or unique constraint on exactly the referenced columns (the primary key's when none
 * were given). Mutates `constraints`; throws `alter_refused`.
 */
export async function resolveReferences(
  client: Queryable,
  table: { display: string; oid: number; schema: string },
  constraints: AlterConstraint[],
): Promise<void> {
  for (const c of constraints) if (c.kind === 'foreign-key') await resolveReference(client, table, c);
}

/**
 * Settles the new constraints on the probe's temporary table (which carries the new definition and
 * the CHECKs already): unnamed CHECKs take the name the server chose there (the probe table has the
 * table's name, so the name is the one PostgreSQL would give), refused if the schema has it already;
 * UNIQUE is tried there (its columns need a btree operator class); a FOREIGN KEY's columns must
 * compare with `=` to the referenced ones. Mutates `constraints`; throws `alter_refused`.
 */
export async function settleConstraints(
  client: Queryable,
  input: { display: string; probe: string; constraints: AlterConstraint[]; names: ConstraintNameFacts },
): Promise<void> {
  const { display, probe, constraints, names } = input;
  const { rows: checks } = await client.query<{ name: string }>(
    `SELECT conname::text AS name FROM pg_catalog.pg_constraint WHERE conrelid = $1::pg_catalog.regclass AND contype = 'c' ORDER BY oid`,
    [probe],
  );
  let i = 0;
  for (const c of constraints) {
    if (c.kind !== 'check') continue;
    const chosen = checks[i++]?.name;
    if (c.name !== undefined || chosen === undefined) continue;
    if (names.schemaConstraints.includes(chosen)) {
      throw refused(display, c.text, `its default name ${JSON.stringify(chosen)} is taken in the schema; name it with ADD CONSTRAINT name CHECK (...)`);
    }
    c.name = chosen;
  }
  for (const c of constraints) {
    if (c.kind === 'unique') {
      try {
        await client.query(`ALTER TABLE ${probe} ADD CONSTRAINT ${quoteIdent(c.name)} UNIQUE (${c.columns.map(quoteIdent).join(', ')})`);
      } catch (err) {
        throw refused(display, c.text, err instanceof Error ? err.message : String(err));
      }
    }
    if (c.kind === 'foreign-key') {
      const refColumns = c.referencedColumns ?? [];
      const on = c.columns.map((col, k) => `t.${quoteIdent(col)} = r.${quoteIdent(refColumns[k] ?? '')}`).join(' AND ');
      const ref = c.references.schema === undefined ? quoteIdent(c.references.name) : quoteQualified(c.references.schema, c.references.name);
      try {
        await client.query(`SELECT 1 FROM ${probe} AS t JOIN ${ref} AS r ON ${on} LIMIT 0`);
      } catch (err) {
        throw refused(display, c.text, `the columns cannot be compared with the referenced ones: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

async function resolveReference(
  client: Queryable,
  { display, oid: tableOid, schema }: { display: string; oid: number; schema: string },
  c: Extract<AlterConstraint, { kind: 'foreign-key' }>,
): Promise<void> {
  const written = quoteQualified(c.references.schema ?? schema, c.references.name);
  const { rows } = await client.query<{ oid: string; schema: string; name: string; relkind: string; pk: string[] | null }>(
    `SELECT c.oid::text AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind,
            (SELECT ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum ORDER BY u.ord)
               FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS pk
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = pg_catalog.to_regclass($1)`,
    [written],
  );
  const ref = rows[0];
  if (!ref || !['r', 'p'].includes(ref.relkind)) throw refused(display, c.text, `${written} is not a table`);
  if (Number(ref.oid) === tableOid) throw refused(display, c.text, 'a foreign key to the table itself is not supported yet');
  const refColumns = c.referencedColumns ?? ref.pk ?? undefined;
  if (refColumns === undefined) throw refused(display, c.text, `${written} has no primary key; name the referenced columns`);
  if (refColumns.length !== c.columns.length) throw refused(display, c.text, `${c.columns.length} referencing column(s) but ${refColumns.length} referenced`);
  // As PostgreSQL requires: a unique, immediate, non-partial index on exactly these columns, any order.
  const { rows: unique } = await client.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                     WHERE i.indrelid = $1::pg_catalog.oid AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
                       AND i.indnkeyatts = pg_catalog.cardinality($2::text[])
                       AND (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attname) FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])) = (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest($2::text[]) AS x)) AS ok`,
    [ref.oid, refColumns],
  );
  if (unique[0]?.ok !== true) {
    throw refused(
      display,
      c.text,
      `${quoteQualified(ref.schema, ref.name)} has no primary key or unique constraint on (${refColumns.map(quoteIdent).join(', ')})`,
    );
  }
  c.references = { schema: ref.schema, name: ref.name };
  c.referencedColumns = refColumns;
  c.partitioned = ref.relkind === 'p';
}

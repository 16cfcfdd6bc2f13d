import { PgToolsError, quoteIdent, quoteQualified } from '@pgtools/core';
import type { AddedConstraints } from '@pgtools/swap';
import type { AlterConstraintAction } from './alter-constraint-actions.js';

/** A constraint `--alter` adds, with its name settled (`name` undefined only for an unnamed CHECK until the probe read the server's choice). */
export type AlterConstraint =
  /** On the shadow from its creation: every copied and applied row is checked. */
  | { kind: 'check'; name: string | undefined; expression: string; text: string }
  /** A unique index built with the shadow's other indexes, attached as the constraint at the swap (`ADD CONSTRAINT ... UNIQUE USING INDEX`). */
  | { kind: 'unique'; name: string; columns: string[]; text: string }
  /**
   * Checked by a query over the shadow before the swap, added NOT VALID at the swap and validated
   * after its commit. `references` is settled by the probe (schema resolved, the primary key's
   * columns when none were given); `relkind` says whether the check reads `ONLY` the referenced table.
   */
  | {
      kind: 'foreign-key';
      name: string;
      columns: string[];
      references: { schema: string | undefined; name: string };
      referencedColumns: string[] | undefined;
      actions: string;
      partitioned: boolean;
      text: string;
    };

/** Names the new constraints must not take, read from the catalog (alter-probe.ts). */
export interface ConstraintNameFacts {
  /** Constraints of the table itself: a new one may not share a name with them. */
  ownConstraints: readonly string[];
  /** Constraint names anywhere in the table's schema: PostgreSQL's default names avoid them. */
  schemaConstraints: readonly string[];
  /** Relations (tables, indexes, ...) in the table's schema: a unique constraint's index takes its name. */
  schemaRelations: readonly string[];
}

/** PostgreSQL's NAMEDATALEN - 1: the longest identifier, in bytes. */
const MAX_IDENTIFIER_BYTES = 63;

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/** The longest prefix of `s` of at most `bytes` bytes that ends on a character boundary (pg_mbcliplen). */
function clip(s: string, bytes: number): string {
  let out = '';
  for (const ch of s) {
    if (utf8(out + ch) > bytes) break;
    out += ch;
  }
  return out;
}

/**
 * PostgreSQL's makeObjectName (src/backend/commands/indexcmds.c): `name1_name2_label`, the longer of
 * name1 and name2 shortened a byte at a time until the whole fits in 63 bytes. Pure.
 */
export function makeObjectName(name1: string, name2: string | undefined, label: string): string {
  let n1 = utf8(name1);
  let n2 = name2 === undefined ? 0 : utf8(name2);
  const overhead = (name2 === undefined ? 0 : 1) + utf8(label) + 1;
  while (n1 + n2 > MAX_IDENTIFIER_BYTES - overhead) {
    if (n1 > n2) n1--;
    else n2--;
  }
  return [clip(name1, n1), ...(name2 === undefined ? [] : [clip(name2, n2)]), label].join('_');
}

/**
 * PostgreSQL's default name for a new constraint (ChooseConstraintName, ChooseRelationName): the
 * table, the columns joined by `_`, the label, and a number after the label (1, 2, ...) while the
 * name is taken. Pure.
 *
 * @example
 * ```ts
 * chooseConstraintName('orders', ['customer_id'], 'fkey', new Set()); // 'orders_customer_id_fkey'
 * chooseConstraintName('orders', ['email'], 'key', new Set(['orders_email_key'])); // 'orders_email_key1'
 * ```
 */
export function chooseConstraintName(table: string, columns: readonly string[], label: string, taken: ReadonlySet<string>): string {
  // ChooseIndexColumnNames / ChooseForeignKeyConstraintNameAddition stop adding columns past NAMEDATALEN.
  let joined = '';
  for (const c of columns) {
    if (utf8(joined) >= MAX_IDENTIFIER_BYTES + 1) break;
    joined = joined === '' ? c : `${joined}_${c}`;
  }
  for (let pass = 0; ; pass++) {
    const name = makeObjectName(table, joined === '' ? undefined : joined, pass === 0 ? label : `${label}${pass}`);
    if (!taken.has(name)) return name;
  }
}

const refused = (display: string, text: string, why: string): PgToolsError =>
  new PgToolsError('alter_refused', `--alter ${JSON.stringify(text)} on ${display}: ${why}; nothing was changed`);

/**
 * Settles the constraints the actions add against the new definition's columns: the columns must
 * exist after the column actions, explicit names must be new on the table (a unique constraint's
 * also as a relation of the schema), unnamed UNIQUE and FOREIGN KEY constraints get PostgreSQL's
 * default names. Pure; throws `alter_refused`.
 */
export function planConstraints(
  actions: readonly AlterConstraintAction[],
  input: { display: string; table: string; newColumns: readonly string[]; names: ConstraintNameFacts },
): AlterConstraint[] {
  const { display, table, newColumns, names } = input;
  const own = new Set(names.ownConstraints);
  // A foreign key's default name avoids the schema's constraint names; a unique one's (an index) relation names too.
  const taken = { fkey: names.schemaConstraints, key: [...names.schemaConstraints, ...names.schemaRelations] };
  const chosen = new Set<string>();
  const out: AlterConstraint[] = [];
  for (const a of actions) {
    const columns = a.kind === 'add-check' ? [] : a.columns;
    const missing = columns.find((c) => !newColumns.includes(c));
    if (missing !== undefined) throw refused(display, a.text, `column ${JSON.stringify(missing)} does not exist in the new definition`);
    if (a.name !== undefined) {
      if (own.has(a.name) || chosen.has(a.name)) throw refused(display, a.text, `constraint ${JSON.stringify(a.name)} already exists on the table`);
      if (a.kind === 'add-unique' && names.schemaRelations.includes(a.name)) {
        throw refused(display, a.text, `relation ${JSON.stringify(a.name)} already exists in the schema (the unique constraint's index takes its name)`);
      }
    }
    const name = (label: 'key' | 'fkey'): string => a.name ?? chooseConstraintName(table, columns, label, new Set([...taken[label], ...chosen]));
    if (a.kind === 'add-check') {
      out.push({ kind: 'check', name: a.name, expression: a.expression, text: a.text });
    } else if (a.kind === 'add-unique') {
      out.push({ kind: 'unique', name: name('key'), columns: a.columns, text: a.text });
    } else {
      const actions = `${a.onDelete ? ` ON DELETE ${a.onDelete}` : ''}${a.onUpdate ? ` ON UPDATE ${a.onUpdate}` : ''}`;
      out.push({
        kind: 'foreign-key',
        name: name('fkey'),
        columns: a.columns,
        references: a.references,
        referencedColumns: a.referencedColumns,
        actions,
        partitioned: false,
        text: a.text,
      });
    }
    const last = out[out.length - 1];
    if (last?.name !== undefined) chosen.add(last.name);
  }
  return out;
}

/** The CHECK constraints as clauses of an ALTER TABLE of the (empty) shadow, every name quoted. */
export function checkClauses(constraints: readonly AlterConstraint[]): string[] {
  return constraints.flatMap((c) =>
    c.kind === 'check' ? [`ADD ${c.name === undefined ? '' : `CONSTRAINT ${quoteIdent(c.name)} `}CHECK (${c.expression})`] : [],
  );
}

/** A foreign key's definition after `ADD CONSTRAINT name`, as the swap adds it (NOT VALID is appended there). */
export function foreignKeyDefinition(c: Extract<AlterConstraint, { kind: 'foreign-key' }>): string {
  const ref = c.references.schema === undefined ? quoteIdent(c.references.name) : quoteQualified(c.references.schema, c.references.name);
  const refColumns = c.referencedColumns === undefined ? '' : ` (${c.referencedColumns.map(quoteIdent).join(', ')})`;
  return `FOREIGN KEY (${c.columns.map(quoteIdent).join(', ')}) REFERENCES ${ref}${refColumns}${c.actions}`;
}

/** What the rename swap must accept and attach for the new constraints (the shadow's name gives the unique indexes' names). */
export function addedConstraints(constraints: readonly AlterConstraint[], shadowName: string): AddedConstraints {
  const out = { checks: [] as string[], uniques: [] as Array<{ name: string; index: string }>, foreignKeys: [] as Array<{ name: string; def: string }> };
  constraints.forEach((c, i) => {
    if (c.kind === 'check' && c.name !== undefined) out.checks.push(c.name);
    if (c.kind === 'unique') out.uniques.push({ name: c.name, index: alterIndexName(shadowName, i) });
    if (c.kind === 'foreign-key') out.foreignKeys.push({ name: c.name, def: foreignKeyDefinition(c) });
  });
  return out;
}

/**
 * The new constraints as text lines for the dry run, after the column mapping.
 *
 * @example
 * ```ts
 * constraintLines(plan.constraints); // ['CONSTRAINT "orders_qty_check" CHECK (qty > 0) (checked on every copied and applied row)']
 * ```
 */
export function constraintLines(constraints: readonly AlterConstraint[]): string[] {
  return constraints.map((c) => {
    const name = `CONSTRAINT ${quoteIdent(c.name ?? '?')}`;
    if (c.kind === 'check') return `${name} CHECK (${c.expression}) (checked on every copied and applied row)`;
    if (c.kind === 'unique') return `${name} UNIQUE (${c.columns.map(quoteIdent).join(', ')}) (unique index built with the others, attached at the swap)`;
    return `${name} ${foreignKeyDefinition(c)} (rows checked before the swap, added NOT VALID at the swap, validated after it)`;
  });
}

/** The name of the unique index `--alter` builds on the shadow for its `i`-th constraint (renamed to the constraint's at the swap). */
export function alterIndexName(shadowName: string, i: number): string {
  return `${shadowName}_alter_${i}`;
}

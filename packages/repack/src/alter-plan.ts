import { PgToolsError, quoteIdent, quoteLiteral } from '@pgtools/core';
import type { ColumnSource } from '@pgtools/cdc';
import type { ColumnChanges } from '@pgtools/swap';
import type { AlterAction } from './alter-actions.js';
import type { AlterConstraintAction } from './alter-constraint-actions.js';
import { checkClauses, chooseConstraintName, planConstraints, type AlterConstraint, type ConstraintNameFacts } from './alter-constraint-plan.js';
import type { ColumnInfo } from './table-info.js';

/** Something in the catalog that uses one column of the table (read by `alter-probe.ts`). */
export interface ColumnDependency {
  column: string;
  /** `default`: the column's own default, which goes with it. */
  kind: 'default' | 'view' | 'foreign-key-in' | 'foreign-key-out' | 'other';
  /** How the server describes it (`view public.v`, `constraint x on table y`). */
  what: string;
}

/** What a plan is worked out from. */
export interface AlterFacts {
  display: string;
  columns: readonly ColumnInfo[];
  keyColumns: readonly string[];
  dependencies: readonly ColumnDependency[];
  /** Columns with grants of their own. */
  columnsWithGrants: readonly string[];
  /** The table's name (unqualified), for the default names of new constraints; `display` when absent. */
  table?: string;
  /** Names new constraints must avoid; none when absent. */
  constraintNames?: ConstraintNameFacts;
  /** PostgreSQL 18+: NOT NULL is a named constraint, and a new one gets the name the server would give it on the table. */
  namedNotNulls?: boolean;
}

/** One column of the old → new mapping, in the new table's order, dropped columns last. */
export interface AlterColumnMapping {
  /** The column's name (the new table's; a dropped column's old name). */
  column: string;
  change: 'kept' | 'retyped' | 'added' | 'dropped';
  /** What the copy and the log apply write into it, evaluated on the old row: the old column (quoted) or the USING expression; none for added (its default) and dropped columns. */
  from: string | undefined;
  oldType: string | undefined;
  /** As the server prints it once the probe made the new definition; until then as written. */
  newType: string | undefined;
  /** A new default for rows inserted from the swap on: its expression, or null when it is dropped. */
  newDefault?: string | null;
  /** SET NOT NULL (true) or DROP NOT NULL (false). */
  newNotNull?: boolean;
  /** An added generated or identity column: `GENERATED ALWAYS AS (expression) STORED|VIRTUAL` or `GENERATED ... AS IDENTITY` (the server's, never copied). */
  generated?: string;
}

export interface AlterPlan {
  actions: AlterAction[];
  mapping: AlterColumnMapping[];
  /** The column actions as one ALTER TABLE body for the (empty) shadow, every identifier quoted ('' when there are none); see {@link shadowAlterSql}. */
  shadowSql: string;
  /** The constraints the actions add, in their order. */
  constraints: AlterConstraint[];
  /** `columnOrder`: the new definition's columns in the order the shadow gets them (copy and apply map by name). */
  columnOrder: string[] | undefined;
  changes: ColumnChanges;
  /** Parallel to the key columns: the new type of a retyped key column, or null. */
  keyCasts: Array<string | null>;
}

const refused = (display: string, action: AlterAction, why: string): PgToolsError =>
  new PgToolsError('alter_refused', `--alter ${JSON.stringify(action.text)} on ${display}: ${why}; nothing was changed`);

/**
 * Checks the actions against the table and works out the new definition's column mapping. Pure.
 * Refuses (`alter_refused`, naming the action and why) what this increment cannot carry out safely:
 * a missing or existing column, a generated column, a key column dropped or given a USING
 * expression, a retyped column that a foreign key uses with a USING expression, a dropped column that
 * anything else uses (index, constraint, policy, trigger, statistics, publication) or with grants
 * of its own, ADD COLUMN ... NOT NULL without a default, a default for a generated or identity column,
 * and DROP NOT NULL on a key column.
 *
 * @example
 * ```ts
 * const plan = planAlter(parseAlterActions(['ALTER COLUMN id TYPE bigint']), facts);
 * plan.shadowSql; // 'ALTER COLUMN "id" TYPE bigint USING NULL'
 * ```
 */
export function planAlter(actions: AlterAction[], facts: AlterFacts, columnOrder?: readonly string[]): AlterPlan {
  const { display } = facts;
  const live = facts.columns.filter((c) => !c.dropped);
  const byName = new Map(live.map((c) => [c.name, c]));
  const usedBy = (column: string, kinds: ReadonlyArray<ColumnDependency['kind']>): string[] =>
    facts.dependencies.filter((d) => d.column === column && kinds.includes(d.kind)).map((d) => d.what);
  const sql: string[] = [];
  const changes: { dropped: string[]; added: string[]; retyped: string[]; nullability: string[]; order?: string[] } = {
    dropped: [],
    added: [],
    retyped: [],
    nullability: [],
  };
  const retypedTo = new Map<string, { type: string; using: string | undefined }>();
  const defaults = new Map<string, string | null>();
  const notNulls = new Map<string, boolean>();
  // Named as on the table (`orders_note_not_null`), not as on the shadow (`table_16384_note_not_null`): the name stays after the swap.
  const takenNames = new Set([...(facts.constraintNames?.schemaConstraints ?? []), ...(facts.constraintNames?.ownConstraints ?? [])]);
  const notNullName = (column: string): string | undefined => {
    if (!facts.namedNotNulls || facts.table === undefined) return undefined;
    const name = chooseConstraintName(facts.table, [column], 'not_null', takenNames);
    takenNames.add(name);
    return name;
  };
  for (const a of actions) {
    if (a.kind === 'add-check' || a.kind === 'add-unique' || a.kind === 'add-foreign-key') continue;
    const col = byName.get(a.column);
    if (a.kind === 'set-not-null') {
      if (!col) throw refused(display, a, `column ${JSON.stringify(a.column)} does not exist`);
      if (!a.notNull && facts.keyColumns.includes(a.column)) throw refused(display, a, `column ${JSON.stringify(a.column)} is part of the key the repack uses`);
      notNulls.set(a.column, a.notNull);
      continue;
    }
    if (a.kind === 'set-default') {
      if (!col) throw refused(display, a, `column ${JSON.stringify(a.column)} does not exist`);
      if (col.generated || col.virtual) throw refused(display, a, `column ${JSON.stringify(a.column)} is generated`);
      if (col.identity) throw refused(display, a, `column ${JSON.stringify(a.column)} is an identity column`);
      defaults.set(a.column, a.default ?? null);
      continue;
    }
    if (a.kind === 'add-column') {
      if (col) throw refused(display, a, `column ${JSON.stringify(a.column)} already exists`);
      if (a.notNull && a.default === undefined && !a.generated && !a.identity)
        throw refused(display, a, 'a NOT NULL column needs a DEFAULT for the existing rows');
      const named = a.notNull ? notNullName(a.column) : undefined;
      const notNull = a.notNull ? `${named === undefined ? '' : ` CONSTRAINT ${quoteIdent(named)}`} NOT NULL` : '';
      // A new identity column's sequence gets the name the server would give it on the table: it moves into the table's schema with the swap.
      const sequence = a.identity
        ? chooseConstraintName(facts.table ?? display, [a.column], 'seq', new Set(facts.constraintNames?.schemaRelations ?? []))
        : undefined;
      sql.push(`ADD COLUMN ${quoteIdent(a.column)} ${a.type}${a.default === undefined ? '' : ` DEFAULT (${a.default})`}${generatedSql(a, sequence)}${notNull}`);
      changes.added.push(a.column);
      continue;
    }
    if (!col) throw refused(display, a, `column ${JSON.stringify(a.column)} does not exist`);
    if (col.generated || col.virtual) throw refused(display, a, `column ${JSON.stringify(a.column)} is generated (not supported yet)`);
    const isKey = facts.keyColumns.includes(a.column);
    if (a.kind === 'drop-column') {
      if (isKey) throw refused(display, a, `column ${JSON.stringify(a.column)} is part of the key the repack uses`);
      const users = usedBy(a.column, ['view', 'foreign-key-in', 'foreign-key-out', 'other']);
      if (users.length > 0) throw refused(display, a, `column ${JSON.stringify(a.column)} is used by ${users.join(', ')}; drop those first`);
      if (facts.columnsWithGrants.includes(a.column)) throw refused(display, a, `column ${JSON.stringify(a.column)} has grants of its own; revoke them first`);
      sql.push(`DROP COLUMN ${quoteIdent(a.column)}`);
      changes.dropped.push(a.column);
      continue;
    }
    if (isKey && a.using !== undefined) {
      throw refused(display, a, `column ${JSON.stringify(a.column)} is part of the key the repack uses: its type can change, but without USING (by its cast)`);
    }
    // Views are dropped and created again at the swap, materialized views rebuilt after it (the probe
    // builds both on the new definition first).
    // The rename swap adds the foreign keys again (NOT VALID) and validates them after its commit: the
    // probe asks the server whether it accepts each between the new types (alter-foreign-keys.ts); a
    // USING expression would change the values the other side references.
    const keys = usedBy(a.column, ['foreign-key-in', 'foreign-key-out']);
    if (keys.length > 0 && a.using !== undefined) {
      throw refused(
        display,
        a,
        `${keys.join(', ')} uses column ${JSON.stringify(a.column)}: a foreign key's column changes type only by its cast, without USING (its values must still match the other side)`,
      );
    }
    // The shadow is empty: its column takes the type without evaluating anything; the copy and the
    // apply evaluate the user's USING (or the cast) on every old row.
    sql.push(`ALTER COLUMN ${quoteIdent(a.column)} TYPE ${a.type} USING NULL`);
    changes.retyped.push(a.column);
    retypedTo.set(a.column, { type: a.type, using: a.using });
  }
  // After the type changes in the same ALTER TABLE, as PostgreSQL orders them: the new default has the new type.
  for (const [column, expr] of defaults) sql.push(`ALTER COLUMN ${quoteIdent(column)} ${expr === null ? 'DROP DEFAULT' : `SET DEFAULT (${expr})`}`);
  // The shadow is empty: SET NOT NULL scans nothing now, and refuses every NULL the copy and the apply bring.
  for (const [column, on] of notNulls) {
    const named = on && byName.get(column)?.notNull === false ? notNullName(column) : undefined;
    sql.push(
      named === undefined
        ? `ALTER COLUMN ${quoteIdent(column)} ${on ? 'SET' : 'DROP'} NOT NULL`
        : `ADD CONSTRAINT ${quoteIdent(named)} NOT NULL ${quoteIdent(column)}`,
    );
  }
  changes.nullability.push(...notNulls.keys());
  if (changes.dropped.length === live.length) throw refused(display, actions[0]!, 'every column would be dropped');
  const mapping: AlterColumnMapping[] = [];
  for (const c of live) {
    if (changes.dropped.includes(c.name)) continue;
    const r = retypedTo.get(c.name);
    mapping.push({
      column: c.name,
      change: r ? 'retyped' : 'kept',
      from: r?.using !== undefined ? `(${r.using})` : quoteIdent(c.name),
      oldType: c.type,
      newType: r ? r.type : c.type,
      ...(defaults.has(c.name) ? { newDefault: defaults.get(c.name) ?? null } : {}),
      ...(notNulls.has(c.name) ? { newNotNull: notNulls.get(c.name) === true } : {}),
    });
  }
  for (const a of actions)
    if (a.kind === 'add-column')
      mapping.push({
        column: a.column,
        change: 'added',
        from: undefined,
        oldType: undefined,
        newType: a.type,
        ...(a.generated || a.identity ? { generated: generatedSql(a, undefined).trim() } : {}),
      });
  for (const name of changes.dropped) mapping.push({ column: name, change: 'dropped', from: undefined, oldType: byName.get(name)?.type, newType: undefined });
  if (columnOrder) orderMapping(display, mapping, columnOrder);
  if (columnOrder) changes.order = [...columnOrder];
  const constraints = planConstraints(
    actions.filter((a): a is AlterConstraintAction => a.kind === 'add-check' || a.kind === 'add-unique' || a.kind === 'add-foreign-key'),
    {
      display,
      table: facts.table ?? display,
      newColumns: mapping.filter((m) => m.change !== 'dropped').map((m) => m.column),
      names: facts.constraintNames ?? { ownConstraints: [], schemaConstraints: [], schemaRelations: [] },
    },
  );
  return {
    actions,
    mapping,
    shadowSql: sql.join(', '),
    constraints,
    columnOrder: columnOrder ? [...columnOrder] : undefined,
    changes,
    keyCasts: facts.keyColumns.map((k) => (retypedTo.has(k) ? (retypedTo.get(k)?.type ?? null) : null)),
  };
}

/**
 * Puts the mapping in `columnOrder` (dropped columns stay last), which must name every column of
 * the new definition exactly once: refuses (`alter_refused`) naming the missing and the unknown ones.
 */
function orderMapping(display: string, mapping: AlterColumnMapping[], columnOrder: readonly string[]): void {
  const live = mapping.filter((m) => m.change !== 'dropped');
  const missing = live.filter((m) => !columnOrder.includes(m.column)).map((m) => JSON.stringify(m.column));
  const unknown = columnOrder.filter((c) => !live.some((m) => m.column === c)).map((c) => JSON.stringify(c));
  if (missing.length > 0 || unknown.length > 0) {
    const why = [
      ...(missing.length > 0 ? [`it leaves out ${missing.join(', ')}`] : []),
      ...(unknown.length > 0 ? [`${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a column of the new definition`] : []),
    ];
    throw new PgToolsError(
      'alter_refused',
      `--column-order on ${display}: ${why.join('; ')}; list every column of the new definition exactly once; nothing was changed`,
    );
  }
  const rank = (m: AlterColumnMapping): number => (m.change === 'dropped' ? columnOrder.length : columnOrder.indexOf(m.column));
  mapping.sort((a, b) => rank(a) - rank(b));
}

/**
 * The sources of the columns the copy and the apply write, for the shadow's writable columns (in
 * its order): added columns are left out (they take their default, evaluated per row), the others
 * come from the old column of the same name or from its USING expression. Pure.
 */
export function alterSources(plan: AlterPlan, shadowColumns: readonly string[]): { columns: string[]; sources: ColumnSource[] } {
  const columns: string[] = [];
  const sources: ColumnSource[] = [];
  for (const name of shadowColumns) {
    const m = plan.mapping.find((x) => x.column === name);
    if (!m || m.change === 'added' || m.change === 'dropped') continue;
    const action = plan.actions.find((a) => a.kind === 'alter-type' && a.column === name);
    const using = action?.kind === 'alter-type' ? action.using : undefined;
    columns.push(name);
    sources.push(using === undefined ? { column: name } : { expression: using });
  }
  return { columns, sources };
}

/** ` GENERATED ...` of an added generated or identity column (its sequence named `sequence` when given), else ''. */
function generatedSql(a: Extract<AlterAction, { kind: 'add-column' }>, sequence: string | undefined): string {
  if (a.generated) return ` GENERATED ALWAYS AS (${a.generated.expression}) ${a.generated.kind === 'virtual' ? 'VIRTUAL' : 'STORED'}`;
  if (!a.identity) return '';
  const options = [
    ...(sequence === undefined ? [] : [`SEQUENCE NAME ${quoteIdent(sequence)}`]),
    ...(a.identity.options === undefined ? [] : [a.identity.options]),
  ];
  return ` GENERATED ${a.identity.always ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY${options.length > 0 ? ` (${options.join(' ')})` : ''}`;
}

/** The ALTER TABLE body that gives the (empty) shadow the new definition: the column actions, then the CHECK constraints; undefined when there is nothing to alter. */
export function shadowAlterSql(plan: Pick<AlterPlan, 'shadowSql' | 'constraints'>): string | undefined {
  const clauses = [...(plan.shadowSql === '' ? [] : [plan.shadowSql]), ...checkClauses(plan.constraints)];
  return clauses.length === 0 ? undefined : clauses.join(', ');
}

/** The key columns as one JSON object text, e.g. `{"id" : 42}`, each column's SQL given by `column`. */
export function keyJson(keyColumns: readonly string[], column: (k: string) => string): string {
  return `pg_catalog.json_build_object(${keyColumns.map((k) => `${quoteLiteral(k)}, ${column(k)}`).join(', ')})::text`;
}

/** A source as SQL in a SELECT over the old table (or its expanded row). */
export function sourceSql(source: ColumnSource): string {
  return 'column' in source ? quoteIdent(source.column) : `(${source.expression})`;
}

/**
 * The old → new mapping as text lines for the dry run and the logs.
 *
 * @example
 * ```ts
 * mappingLines(plan.mapping); // ['id integer → id bigint', 'note → (dropped)', '(new) → flag boolean DEFAULT']
 * ```
 */
export function mappingLines(mapping: readonly AlterColumnMapping[]): string[] {
  return mapping.map((m) => {
    const c = quoteIdent(m.column);
    const dflt =
      (m.newDefault === undefined ? '' : m.newDefault === null ? ', default dropped' : `, new default ${m.newDefault}`) +
      (m.newNotNull === undefined ? '' : m.newNotNull ? ', NOT NULL' : ', NULL allowed');
    switch (m.change) {
      case 'kept':
        return `${c} ${m.oldType ?? '?'} → ${c} ${m.newType ?? '?'}${dflt}`;
      case 'retyped':
        return `${c} ${m.oldType ?? '?'} → ${c} ${m.newType ?? '?'}${m.from !== quoteIdent(m.column) ? ` USING ${m.from ?? ''}` : ''}${dflt}`;
      case 'added':
        return `(new) → ${c} ${m.newType ?? '?'} ${m.generated ?? '(its default)'}`;
      case 'dropped':
        return `${c} ${m.oldType ?? '?'} → (dropped)`;
    }
  });
}

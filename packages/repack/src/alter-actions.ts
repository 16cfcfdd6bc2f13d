import { parseAddConstraint, type AlterConstraintAction } from './alter-constraint-actions.js';
import { Cursor, expression, refuse, tokenize, typeUntil } from './alter-tokens.js';

/**
 * One `--alter` action as data. `type`, `using` and `default` are the user's SQL text: the type
 * passed the lexical check here and is checked by the server (`alter-probe.ts`) before it is used;
 * the expressions passed the lexical check (one expression: balanced parentheses, no `;`, comment
 * or dollar quote outside a literal) and are type-checked by the server before anything is made.
 */
export type AlterAction =
  | { kind: 'alter-type'; column: string; type: string; using: string | undefined; text: string }
  | {
      kind: 'add-column';
      column: string;
      type: string;
      default: string | undefined;
      notNull: boolean;
      text: string;
      /** `GENERATED ALWAYS AS (expression) STORED|VIRTUAL`: the server computes it in the copy and the apply. */
      generated?: { expression: string; kind: 'stored' | 'virtual' };
      /** `GENERATED ALWAYS|BY DEFAULT AS IDENTITY [(options)]`: a new value per row, in the copy and the apply. */
      identity?: { always: boolean; options: string | undefined };
    }
  | { kind: 'drop-column'; column: string; text: string }
  /** `ALTER COLUMN c SET DEFAULT expr` (`default` set) or `DROP DEFAULT` (undefined): for rows inserted from the swap on. */
  | { kind: 'set-default'; column: string; default: string | undefined; text: string }
  /** `ALTER COLUMN c SET NOT NULL` (true) or `DROP NOT NULL` (false): the shadow enforces it on every copied and applied row. */
  | { kind: 'set-not-null'; column: string; notNull: boolean; text: string }
  /** `ADD [CONSTRAINT name] CHECK | UNIQUE | FOREIGN KEY`: validated before the swap (alter-constraint-actions.ts). */
  | AlterConstraintAction;

/** An action on one column (every kind but the table constraints). */
export type AlterColumnAction = Exclude<AlterAction, AlterConstraintAction>;

export { SUPPORTED_ALTER_ACTIONS } from './alter-supported.js';

/** Clauses of a column definition this increment does not carry out, with why. */
const COLUMN_CLAUSES: Record<string, string> = {
  collate: 'COLLATE is not supported yet',
  constraint: 'column constraints are not supported yet',
  check: 'column constraints are not supported yet',
  unique: 'column constraints are not supported yet',
  primary: 'column constraints are not supported yet',
  references: 'column constraints are not supported yet',
  null: 'only NOT NULL is supported',
};

/**
 * Parses one `--alter` value (one ALTER TABLE action, without `ALTER TABLE name`) into data. Refuses,
 * with `alter_unsupported` naming the action and why, anything outside the supported grammar.
 *
 * @example
 * ```ts
 * parseAlterAction('ALTER COLUMN id TYPE bigint');
 * // { kind: 'alter-type', column: 'id', type: 'bigint', using: undefined, text: 'ALTER COLUMN id TYPE bigint' }
 * parseAlterAction(`ADD COLUMN "Note" text DEFAULT '' NOT NULL`);
 * // { kind: 'add-column', column: 'Note', type: 'text', default: "''", notNull: true, ... }
 * ```
 */
export function parseAlterAction(input: string): AlterAction {
  const text = input.trim();
  const c = new Cursor(text, tokenize(text));
  if (c.accept('alter')) {
    c.accept('column');
    const column = c.identifier('a column name after ALTER COLUMN');
    if (c.isWord('set') && c.isWord('default', 1)) {
      c.accept('set');
      c.accept('default');
      return { kind: 'set-default', column, default: expression(c, 'SET DEFAULT'), text };
    }
    if (c.isWord('drop') && c.isWord('default', 1)) {
      c.accept('drop');
      c.accept('default');
      if (!c.done()) throw refuse(text, `unexpected ${JSON.stringify(c.peek()?.value)} after DROP DEFAULT`);
      return { kind: 'set-default', column, default: undefined, text };
    }
    if ((c.isWord('set') || c.isWord('drop')) && c.isWord('not', 1) && c.isWord('null', 2)) {
      const notNull = c.isWord('set');
      c.accept(notNull ? 'set' : 'drop');
      c.accept('not');
      c.accept('null');
      if (!c.done()) throw refuse(text, `unexpected ${JSON.stringify(c.peek()?.value)} after ${notNull ? 'SET' : 'DROP'} NOT NULL`);
      return { kind: 'set-not-null', column, notNull, text };
    }
    if (c.accept('set')) c.expect('data', 'only SET DATA TYPE is supported after ALTER COLUMN c SET');
    c.expect('type', 'only a type change (TYPE t [USING expr]) is supported after ALTER COLUMN c');
    if (c.isWord('collate')) throw refuse(text, 'COLLATE is not supported yet');
    const type = typeUntil(c, (cur) => cur.isWord('using') || cur.isWord('collate'));
    if (c.isWord('collate')) throw refuse(text, 'COLLATE is not supported yet');
    const using = c.accept('using') ? expression(c, 'USING') : undefined;
    return { kind: 'alter-type', column, type, using, text };
  }
  if (c.accept('add')) {
    const constraint = parseAddConstraint(c);
    if (constraint) return constraint;
    c.accept('column');
    if (c.isWord('if')) throw refuse(text, 'IF NOT EXISTS is not supported');
    const column = c.identifier('a column name after ADD COLUMN');
    const clause = (cur: Cursor): boolean =>
      cur.isWord('default') || cur.isWord('not') || cur.isWord('generated') || Object.hasOwn(COLUMN_CLAUSES, cur.peek()?.value ?? '');
    const type = typeUntil(c, clause);
    let dflt: string | undefined;
    let notNull = false;
    let generated: GeneratedClause | undefined;
    while (!c.done()) {
      if (c.accept('generated')) {
        if (generated !== undefined) throw refuse(text, 'GENERATED given twice');
        generated = generatedClause(c);
      } else if (c.accept('default')) {
        if (dflt !== undefined) throw refuse(text, 'DEFAULT given twice');
        // A default expression ends where a top-level NOT NULL (or GENERATED, refused below) begins.
        dflt = expression(
          c,
          'DEFAULT',
          (cur) => (cur.isWord('not') && cur.isWord('null', 1)) || (cur.isWord('generated') && (cur.isWord('always', 1) || cur.isWord('by', 1))),
        );
      } else if (c.isWord('not') && c.isWord('null', 1)) {
        c.accept('not');
        c.accept('null');
        notNull = true;
      } else {
        const word = c.peek()?.value ?? '';
        throw refuse(text, COLUMN_CLAUSES[word] ?? `unexpected ${JSON.stringify(word)}`);
      }
    }
    if (generated !== undefined && dflt !== undefined) throw refuse(text, `${'identity' in generated ? 'an identity' : 'a generated'} column takes no DEFAULT`);
    return { kind: 'add-column', column, type, default: dflt, notNull, text, ...(generated ?? {}) };
  }
  if (c.accept('drop')) {
    if (c.isWord('constraint')) throw refuse(text, 'DROP CONSTRAINT is not supported yet');
    c.accept('column');
    if (c.isWord('if')) throw refuse(text, 'IF EXISTS is not supported');
    const column = c.identifier('a column name after DROP COLUMN');
    if (c.isWord('cascade')) throw refuse(text, 'CASCADE is not supported: objects using the column are refused instead');
    if (!c.done()) throw refuse(text, `unexpected ${JSON.stringify(c.peek()?.value)} after the column name`);
    return { kind: 'drop-column', column, text };
  }
  const first = c.peek()?.value ?? '';
  if (first === 'rename') throw refuse(text, 'RENAME is not supported yet');
  throw refuse(text, text === '' ? 'the action is empty' : `${JSON.stringify(first.toUpperCase())} actions are not supported`);
}

type GeneratedClause = { generated: { expression: string; kind: 'stored' | 'virtual' } } | { identity: { always: boolean; options: string | undefined } };

/** After ADD COLUMN c type GENERATED: `ALWAYS AS (expression) STORED|VIRTUAL` or `ALWAYS|BY DEFAULT AS IDENTITY [(options)]`. */
function generatedClause(c: Cursor): GeneratedClause {
  const why = 'expected ALWAYS AS (expression) STORED or ALWAYS|BY DEFAULT AS IDENTITY after GENERATED';
  const always = c.accept('always');
  if (!always) {
    c.expect('by', why);
    c.expect('default', why);
  }
  c.expect('as', why);
  if (c.accept('identity')) {
    if (!c.acceptOp('(')) return { identity: { always, options: undefined } };
    const options = c.until((cur) => cur.peek()?.kind === 'op' && cur.peek()?.value === ')');
    if (!c.acceptOp(')')) throw refuse(c.text, 'the identity options need a closing parenthesis');
    // The repack names the sequence (rename-safe, free in the schema).
    if (/\bsequence\s+name\b/i.test(options)) throw refuse(c.text, 'SEQUENCE NAME is chosen by the repack (<table>_<column>_seq); leave it out');
    return { identity: { always, options: options === '' ? undefined : options } };
  }
  if (!always) throw refuse(c.text, why);
  if (!c.acceptOp('(')) throw refuse(c.text, 'expected ( expression ) after GENERATED ALWAYS AS');
  const expression = c.until((cur) => cur.peek()?.kind === 'op' && cur.peek()?.value === ')');
  if (expression === '' || !c.acceptOp(')')) throw refuse(c.text, 'GENERATED ALWAYS AS needs an expression in parentheses');
  if (c.accept('stored')) return { generated: { expression, kind: 'stored' } };
  if (c.accept('virtual')) return { generated: { expression, kind: 'virtual' } };
  throw refuse(c.text, 'GENERATED ALWAYS AS (expression) needs STORED or VIRTUAL');
}

/** Actions on different attributes of one existing column, which PostgreSQL applies in a fixed order whatever their order. */
const COLUMN_ATTRIBUTES: ReadonlySet<AlterAction['kind']> = new Set(['alter-type', 'set-default', 'set-not-null']);

/**
 * Parses every action and refuses two actions on one column (their order would matter) with
 * `alter_unsupported`; a type change, a new default and a NOT NULL change of one column go together.
 */
export function parseAlterActions(inputs: readonly string[]): AlterAction[] {
  const actions = inputs.map(parseAlterAction);
  actions.forEach((a, i) => {
    if (!('column' in a)) return;
    for (const b of actions.slice(0, i).filter((x) => 'column' in x && x.column === a.column)) {
      if (a.kind !== b.kind && COLUMN_ATTRIBUTES.has(a.kind) && COLUMN_ATTRIBUTES.has(b.kind)) continue;
      throw refuse(a.text, `column ${JSON.stringify(a.column)} is also changed by ${JSON.stringify(b.text)}; one action per column`);
    }
  });
  return actions;
}

import { PgToolsError } from '@pgtools/core';

/**
 * One `--alter` action as data. `type`, `using` and `default` are the user's SQL text: the type
 * passed the lexical check here and is checked by the server (`alter-probe.ts`) before it is used;
 * the expressions passed the lexical check (one expression: balanced parentheses, no `;`, comment
 * or dollar quote outside a literal) and are type-checked by the server before anything is made.
 */
export type AlterAction =
  | { kind: 'alter-type'; column: string; type: string; using: string | undefined; text: string }
  | { kind: 'add-column'; column: string; type: string; default: string | undefined; notNull: boolean; text: string }
  | { kind: 'drop-column'; column: string; text: string }
  /** `ALTER COLUMN c SET DEFAULT expr` (`default` set) or `DROP DEFAULT` (undefined): for rows inserted from the swap on. */
  | { kind: 'set-default'; column: string; default: string | undefined; text: string }
  /** `ALTER COLUMN c SET NOT NULL` (true) or `DROP NOT NULL` (false): the shadow enforces it on every copied and applied row. */
  | { kind: 'set-not-null'; column: string; notNull: boolean; text: string };

/** What this version of `--alter` accepts, for messages. */
export const SUPPORTED_ALTER_ACTIONS =
  'ALTER COLUMN c [SET DATA] TYPE t [USING expr], ALTER COLUMN c SET DEFAULT expr | DROP DEFAULT, ALTER COLUMN c SET NOT NULL | DROP NOT NULL, ADD COLUMN c t [DEFAULT expr] [NOT NULL], DROP COLUMN c';

type Token =
  | { kind: 'word'; value: string; start: number; end: number }
  | { kind: 'ident'; value: string; start: number; end: number }
  | { kind: 'string' | 'number' | 'op'; value: string; start: number; end: number };

const refuse = (text: string, why: string): PgToolsError =>
  new PgToolsError('alter_unsupported', `--alter ${JSON.stringify(text)}: ${why} (supported: ${SUPPORTED_ALTER_ACTIONS})`);

/**
 * Splits an action into tokens: bare words (folded to lower case, as the server folds them), quoted
 * identifiers, string literals (standard, `E''` with backslash escapes), numbers and operator
 * characters. Refuses what could end the statement or hide text: `;`, comments, dollar quotes,
 * unterminated quotes, unbalanced parentheses.
 */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let depth = 0;
  for (let i = 0; i < text.length;) {
    const ch = text[i]!;
    const rest = text.slice(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === ';') throw refuse(text, 'one action per --alter, without ";"');
    if (rest.startsWith('--') || rest.startsWith('/*')) throw refuse(text, 'comments are not accepted');
    if (ch === '$') throw refuse(text, 'dollar quotes and parameters are not accepted');
    const escaped = /^[eE]'/.test(rest);
    if (ch === "'" || escaped) {
      const start = i;
      let j = escaped ? i + 2 : i + 1;
      for (;;) {
        if (j >= text.length) throw refuse(text, 'unterminated string literal');
        if (escaped && text[j] === '\\') j += 2;
        else if (text[j] === "'" && text[j + 1] === "'") j += 2;
        else if (text[j] === "'") break;
        else j++;
      }
      tokens.push({ kind: 'string', value: text.slice(start, j + 1), start, end: j + 1 });
      i = j + 1;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= text.length) throw refuse(text, 'unterminated quoted identifier');
        if (text[j] === '"' && text[j + 1] === '"') {
          value += '"';
          j += 2;
        } else if (text[j] === '"') break;
        else value += text[j++]!;
      }
      if (value === '') throw refuse(text, 'empty quoted identifier');
      tokens.push({ kind: 'ident', value, start: i, end: j + 1 });
      i = j + 1;
      continue;
    }
    const word = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(rest);
    if (word) {
      tokens.push({ kind: 'word', value: word[0].toLowerCase(), start: i, end: i + word[0].length });
      i += word[0].length;
      continue;
    }
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(rest);
    if (num) {
      tokens.push({ kind: 'number', value: num[0], start: i, end: i + num[0].length });
      i += num[0].length;
      continue;
    }
    if (ch === '(') depth++;
    if (ch === ')' && --depth < 0) throw refuse(text, 'unbalanced parentheses');
    tokens.push({ kind: 'op', value: ch, start: i, end: i + 1 });
    i++;
  }
  if (depth !== 0) throw refuse(text, 'unbalanced parentheses');
  return tokens;
}

/** A cursor over the tokens, with the raw text between positions for types and expressions. */
class Cursor {
  private i = 0;
  constructor(
    readonly text: string,
    readonly tokens: Token[],
  ) {}
  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }
  isWord(value: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.kind === 'word' && t.value === value;
  }
  /** Consumes the word if it is next. */
  accept(value: string): boolean {
    if (!this.isWord(value)) return false;
    this.i++;
    return true;
  }
  expect(value: string, why: string): void {
    if (!this.accept(value)) throw refuse(this.text, why);
  }
  /** A column name: a bare word (folded) or a quoted identifier (as written). */
  identifier(what: string): string {
    const t = this.peek();
    if (t?.kind === 'ident') {
      this.i++;
      return t.value;
    }
    if (t?.kind === 'word' && !RESERVED.has(t.value)) {
      this.i++;
      return t.value;
    }
    throw refuse(this.text, `expected ${what}`);
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
  /**
   * The raw text of the tokens from here up to (not including) the first top-level token for which
   * `stop` says true, or to the end; consumes them.
   */
  until(stop: (c: Cursor, depth: number) => boolean): string {
    const first = this.peek();
    let depth = 0;
    let last: Token | undefined;
    while (!this.done()) {
      const t = this.peek()!;
      if (depth === 0 && stop(this, depth)) break;
      if (t.kind === 'op' && t.value === '(') depth++;
      if (t.kind === 'op' && t.value === ')') depth--;
      last = t;
      this.i++;
    }
    return first && last ? this.text.slice(first.start, last.end) : '';
  }
  /** The tokens `until` would consume, for the type check. */
  slice(from: number, to: number): Token[] {
    return this.tokens.slice(from, to);
  }
  get position(): number {
    return this.i;
  }
}

/** Reserved words of PostgreSQL that start or end a clause here: never a bare column name (`type`, `data` are unreserved: they can be). */
const RESERVED = new Set(['column', 'using', 'default', 'not', 'null', 'constraint', 'collate', 'check', 'unique', 'primary', 'references']);

/** Clauses of a column definition this increment does not carry out, with why. */
const COLUMN_CLAUSES: Record<string, string> = {
  collate: 'COLLATE is not supported yet',
  constraint: 'column constraints are not supported yet',
  check: 'column constraints are not supported yet',
  unique: 'column constraints are not supported yet',
  primary: 'column constraints are not supported yet',
  references: 'column constraints are not supported yet',
  generated: 'generated and identity columns are not supported yet',
  null: 'only NOT NULL is supported',
};

/**
 * A type name as written: words or quoted identifiers, dotted, with an optional type modifier list of
 * numbers and array brackets (`bigint`, `varchar(20)`, `double precision`, `numeric(12, 2)[]`,
 * `timestamp(3) with time zone`, `"My Type"`). Only the shape is checked here; the server says
 * whether it names a type.
 */
function checkTypeTokens(text: string, tokens: Token[]): void {
  if (tokens.length === 0) throw refuse(text, 'a type is needed');
  for (const t of tokens) {
    const ok = t.kind === 'word' || t.kind === 'ident' || t.kind === 'number' || (t.kind === 'op' && ['.', '(', ')', ',', '[', ']'].includes(t.value));
    if (!ok) throw refuse(text, `${JSON.stringify(t.value)} cannot be part of a type name`);
  }
}

const isComma = (c: Cursor): boolean => c.peek()?.kind === 'op' && c.peek()?.value === ',';

/** A ',' outside parentheses would start another action: one action per `--alter`. */
function noTopLevelComma(c: Cursor): void {
  if (isComma(c)) throw refuse(c.text, 'one action per --alter (a "," outside parentheses starts another)');
}

function typeUntil(c: Cursor, stop: (c: Cursor) => boolean): string {
  const from = c.position;
  const type = c.until((cur) => stop(cur) || isComma(cur));
  noTopLevelComma(c);
  checkTypeTokens(c.text, c.slice(from, c.position));
  return type;
}

function expression(c: Cursor, what: string, stop: (c: Cursor) => boolean = () => false): string {
  const expr = c.until((cur) => stop(cur) || isComma(cur));
  noTopLevelComma(c);
  if (expr === '') throw refuse(c.text, `${what} needs an expression`);
  return expr;
}

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
    if (c.isWord('constraint') || c.isWord('primary') || c.isWord('unique') || c.isWord('check') || c.isWord('foreign') || c.isWord('exclude')) {
      throw refuse(text, 'ADD CONSTRAINT is not supported yet');
    }
    c.accept('column');
    if (c.isWord('if')) throw refuse(text, 'IF NOT EXISTS is not supported');
    const column = c.identifier('a column name after ADD COLUMN');
    const clause = (cur: Cursor): boolean => cur.isWord('default') || cur.isWord('not') || Object.hasOwn(COLUMN_CLAUSES, cur.peek()?.value ?? '');
    const type = typeUntil(c, clause);
    let dflt: string | undefined;
    let notNull = false;
    while (!c.done()) {
      if (c.accept('default')) {
        if (dflt !== undefined) throw refuse(text, 'DEFAULT given twice');
        // A default expression ends where a top-level NOT NULL begins.
        dflt = expression(c, 'DEFAULT', (cur) => cur.isWord('not') && cur.isWord('null', 1));
      } else if (c.isWord('not') && c.isWord('null', 1)) {
        c.accept('not');
        c.accept('null');
        notNull = true;
      } else {
        const word = c.peek()?.value ?? '';
        throw refuse(text, COLUMN_CLAUSES[word] ?? `unexpected ${JSON.stringify(word)}`);
      }
    }
    return { kind: 'add-column', column, type, default: dflt, notNull, text };
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

/** Actions on different attributes of one existing column, which PostgreSQL applies in a fixed order whatever their order. */
const COLUMN_ATTRIBUTES: ReadonlySet<AlterAction['kind']> = new Set(['alter-type', 'set-default', 'set-not-null']);

/**
 * Parses every action and refuses two actions on one column (their order would matter) with
 * `alter_unsupported`; a type change, a new default and a NOT NULL change of one column go together.
 */
export function parseAlterActions(inputs: readonly string[]): AlterAction[] {
  const actions = inputs.map(parseAlterAction);
  actions.forEach((a, i) => {
    for (const b of actions.slice(0, i).filter((x) => x.column === a.column)) {
      if (a.kind !== b.kind && COLUMN_ATTRIBUTES.has(a.kind) && COLUMN_ATTRIBUTES.has(b.kind)) continue;
      throw refuse(a.text, `column ${JSON.stringify(a.column)} is also changed by ${JSON.stringify(b.text)}; one action per column`);
    }
  });
  return actions;
}

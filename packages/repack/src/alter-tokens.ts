import { PgToolsError } from '@pgtools/core';
import { SUPPORTED_ALTER_ACTIONS } from './alter-supported.js';

/** The lexer and cursor of the `--alter` grammar (alter-actions.ts, alter-constraint-actions.ts). */

export type Token =
  | { kind: 'word'; value: string; start: number; end: number }
  | { kind: 'ident'; value: string; start: number; end: number }
  | { kind: 'string' | 'number' | 'op'; value: string; start: number; end: number };

export const refuse = (text: string, why: string): PgToolsError =>
  new PgToolsError('alter_unsupported', `--alter ${JSON.stringify(text)}: ${why} (supported: ${SUPPORTED_ALTER_ACTIONS})`);

/**
 * Splits an action into tokens: bare words (folded to lower case, as the server folds them), quoted
 * identifiers, string literals (standard, `E''` with backslash escapes), numbers and operator
 * characters. Refuses what could end the statement or hide text: `;`, comments, dollar quotes,
 * unterminated quotes, unbalanced parentheses.
 */
export function tokenize(text: string): Token[] {
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
export class Cursor {
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
  /** Consumes the operator character if it is next. */
  acceptOp(value: string): boolean {
    const t = this.peek();
    if (t?.kind !== 'op' || t.value !== value) return false;
    this.i++;
    return true;
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
export const RESERVED = new Set([
  'column',
  'using',
  'default',
  'not',
  'null',
  'constraint',
  'collate',
  'check',
  'unique',
  'primary',
  'references',
  'foreign',
  'on',
]);

/**
 * A type name as written: words or quoted identifiers, dotted, with an optional type modifier list of
 * numbers and array brackets (`bigint`, `varchar(20)`, `double precision`, `numeric(12, 2)[]`,
 * `timestamp(3) with time zone`, `"My Type"`). Only the shape is checked here; the server says
 * whether it names a type.
 */
export function checkTypeTokens(text: string, tokens: Token[]): void {
  if (tokens.length === 0) throw refuse(text, 'a type is needed');
  for (const t of tokens) {
    const ok = t.kind === 'word' || t.kind === 'ident' || t.kind === 'number' || (t.kind === 'op' && ['.', '(', ')', ',', '[', ']'].includes(t.value));
    if (!ok) throw refuse(text, `${JSON.stringify(t.value)} cannot be part of a type name`);
  }
}

export const isComma = (c: Cursor): boolean => c.peek()?.kind === 'op' && c.peek()?.value === ',';

/** A ',' outside parentheses would start another action: one action per `--alter`. */
export function noTopLevelComma(c: Cursor): void {
  if (isComma(c)) throw refuse(c.text, 'one action per --alter (a "," outside parentheses starts another)');
}

export function typeUntil(c: Cursor, stop: (c: Cursor) => boolean): string {
  const from = c.position;
  const type = c.until((cur) => stop(cur) || isComma(cur));
  noTopLevelComma(c);
  checkTypeTokens(c.text, c.slice(from, c.position));
  return type;
}

export function expression(c: Cursor, what: string, stop: (c: Cursor) => boolean = () => false): string {
  const expr = c.until((cur) => stop(cur) || isComma(cur));
  noTopLevelComma(c);
  if (expr === '') throw refuse(c.text, `${what} needs an expression`);
  return expr;
}

import { PgToolsError } from './errors.js';

/** PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * Quotes an identifier for SQL text: always double-quoted, embedded quotes doubled.
 * Refuses names PostgreSQL would silently truncate (over 63 bytes) or cannot hold (NUL, empty),
 * so a quoted name always refers to exactly the object the caller meant.
 *
 * @example
 * ```ts
 * import { quoteIdent } from '@pgtools/core';
 * quoteIdent('Order "Lines"'); // => "Order ""Lines"""
 * ```
 */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new PgToolsError('invalid_identifier', 'an identifier must be a non-empty string');
  }
  if (name.includes('\0')) {
    throw new PgToolsError('invalid_identifier', 'an identifier cannot contain a NUL character');
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new PgToolsError(
      'identifier_too_long',
      `identifier "${name}" is ${bytes} bytes; PostgreSQL keeps only ${MAX_IDENTIFIER_BYTES} and would silently truncate it`,
    );
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quotes a schema-qualified name: `quoteQualified('public', 'orders')` → `"public"."orders"`.
 *
 * @example
 * ```ts
 * import { quoteQualified } from '@pgtools/core';
 * const sql = `SELECT count(*) FROM ${quoteQualified('app data', 'Orders')}`;
 * ```
 */
export function quoteQualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Quotes a string literal for the rare places where a `$n` parameter cannot be used
 * (DDL such as `COMMENT ON ... IS '...'`, or `SET x = '...'`). Uses the E'' form only
 * when backslashes are present, so the result is correct whatever `standard_conforming_strings` is.
 *
 * @example
 * ```ts
 * import { quoteLiteral } from '@pgtools/core';
 * quoteLiteral("it's"); // => 'it''s'
 * ```
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) {
    throw new PgToolsError('invalid_literal', 'a string literal cannot contain a NUL character');
  }
  const doubled = value.replace(/'/g, "''");
  if (value.includes('\\')) return `E'${doubled.replace(/\\/g, '\\\\')}'`;
  return `'${doubled}'`;
}

/** A table or index name as the user wrote it, split into schema and name. */
export interface QualifiedName {
  /** Undefined when the user gave no schema (resolve with the search_path). */
  schema: string | undefined;
  name: string;
}

/**
 * Parses a possibly qualified, possibly quoted name the way PostgreSQL reads it:
 * unquoted parts are folded to lower case, quoted parts are kept exactly (with `""` for a quote).
 * `public.Orders` → `{schema: 'public', name: 'orders'}`; `"My Schema"."Order.Lines"` keeps dots and case.
 *
 * @example
 * ```ts
 * import { parseQualifiedName } from '@pgtools/core';
 * parseQualifiedName('"Sales Data".Orders'); // => { schema: 'Sales Data', name: 'orders' }
 * ```
 */
export function parseQualifiedName(input: string): QualifiedName {
  const parts: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new PgToolsError('invalid_name', `cannot parse name ${JSON.stringify(input)}: ${why}`);
  };
  const text = input.trim();
  while (i <= text.length) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated quoted identifier');
        const ch = text[i]!;
        if (ch === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += ch;
        i++;
      }
      if (part === '') fail('zero-length quoted identifier');
    } else {
      const start = i;
      while (i < text.length && text[i] !== '.' && text[i] !== '"') i++;
      part = text.slice(start, i).trim();
      if (part === '') fail('empty name part');
      if (/\s/.test(part)) fail(`unquoted name part ${JSON.stringify(part)} contains a space; quote it`);
      part = part.toLowerCase();
    }
    parts.push(part);
    if (i >= text.length) break;
    if (text[i] !== '.') fail(`unexpected character ${JSON.stringify(text[i])}`);
    i++;
    if (i >= text.length) fail('name ends with a dot');
  }
  if (parts.length === 1) return { schema: undefined, name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  return fail('expected [schema.]name');
}

/**
 * Formats a qualified name for messages, quoting only where PostgreSQL would need it.
 *
 * @example
 * ```ts
 * import { displayName } from '@pgtools/core';
 * displayName('public', 'Orders'); // => public."Orders"
 * ```
 */
export function displayName(schema: string | undefined, name: string): string {
  const show = (part: string): string => (/^[a-z_][a-z0-9_$]*$/.test(part) && !RESERVED.has(part) ? part : quoteIdent(part));
  return schema === undefined ? show(name) : `${show(schema)}.${show(name)}`;
}

// Reserved key words (PostgreSQL 15, appendix C) that need quotes as table names.
const RESERVED = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation column ' +
    'concurrently constraint create cross current_catalog current_date current_role current_schema current_time ' +
    'current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze from ' +
    'full grant group having ilike in initially inner intersect into is isnull join lateral leading left like limit localtime ' +
    'localtimestamp natural not notnull null offset on only or order outer overlaps placing primary references returning ' +
    'right select session_user similar some symmetric system_user table tablesample then to trailing true union unique user ' +
    'using variadic verbose when where window with'
  ).split(' '),
);

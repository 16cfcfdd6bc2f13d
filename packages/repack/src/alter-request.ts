import { PgToolsError } from '@pgtools/core';
import { parseAlterActions, type AlterAction } from './alter-actions.js';
import { refuse, tokenize, Cursor } from './alter-tokens.js';

/** What `alter` and `columnOrder` ask for, checked as far as it can be without the table. */
export interface AlterRequest {
  actions: AlterAction[];
  /** The new definition's columns in their new order; undefined: the table's order, added columns last. */
  columnOrder: string[] | undefined;
}

/**
 * Parses `alter` and checks `columnOrder` (non-empty names, each once); undefined when neither is
 * given. Either one asks for an online schema change, which only the rename swap can put in place.
 * Throws `alter_unsupported` (the grammar) or `invalid_option`.
 */
export function alterRequest(options: {
  alter?: string[] | undefined;
  columnOrder?: string[] | undefined;
  swap?: string | undefined;
}): AlterRequest | undefined {
  const actions = options.alter === undefined || options.alter.length === 0 ? [] : parseAlterActions(options.alter);
  const order = options.columnOrder;
  if (actions.length === 0 && order === undefined) return undefined;
  if (order !== undefined) {
    if (order.length === 0 || order.some((c) => c === ''))
      throw new PgToolsError('invalid_option', 'columnOrder needs every column of the new definition, by name');
    const twice = order.find((c, i) => order.indexOf(c) !== i);
    if (twice !== undefined) throw new PgToolsError('invalid_option', `columnOrder names column ${JSON.stringify(twice)} twice`);
  }
  // The new definition cannot be read by the old table's descriptor: only the rename swap can put it in place.
  if (options.swap === 'catalog')
    throw new PgToolsError('invalid_option', 'alter and columnOrder need the rename swap; they cannot be used with swap: catalog');
  return { actions, columnOrder: order === undefined ? undefined : [...order] };
}

/**
 * The CLI's `--column-order` value as column names: comma-separated, each a bare name (folded to
 * lower case, as the server folds it) or a quoted identifier (as written), as in `--alter`.
 *
 * @example
 * ```ts
 * parseColumnOrder('id, "Flag", created_at'); // ['id', 'Flag', 'created_at']
 * ```
 */
export function parseColumnOrder(text: string): string[] {
  const c = new Cursor(text, tokenize(text));
  const names: string[] = [];
  do names.push(c.identifier('a column name'));
  while (c.acceptOp(','));
  if (!c.done()) throw refuse(text, `--column-order: unexpected ${JSON.stringify(c.peek()?.value)}; give column names separated by ","`);
  return names;
}

import { PgToolsError, displayName, quoteQualified } from '@pgtools/core';

/**
 * A table named by schema and name, exactly as stored in the catalog (no quoting, no case folding).
 *
 * @example
 * ```ts
 * import type { RelationName } from '@pgtools/lock';
 * const orders: RelationName = { schema: 'public', name: 'Orders' }; // the table "Orders"
 * ```
 */
export interface RelationName {
  schema: string;
  name: string;
}

/**
 * Internal. Refuses an empty list or a malformed entry, so no SQL is ever built from one.
 *
 * @example
 * ```ts
 *  * assertRelations([{ schema: 'public', name: 'orders' }]);
 * ```
 */
export function assertRelations(relations: readonly RelationName[]): void {
  if (!Array.isArray(relations) || relations.length === 0) {
    throw new PgToolsError('invalid_argument', 'at least one relation is required');
  }
  for (const r of relations) {
    if (typeof r !== 'object' || r === null || typeof r.schema !== 'string' || typeof r.name !== 'string') {
      throw new PgToolsError('invalid_argument', `a relation must be {schema, name}, got ${JSON.stringify(r)}`);
    }
  }
}

/**
 * Internal. The comma-separated quoted list for `LOCK TABLE`.
 *
 * @example
 * ```ts
 *  * relationListSql([{ schema: 'public', name: 'Orders' }]); // => "public"."Orders"
 * ```
 */
export function relationListSql(relations: readonly RelationName[]): string {
  return relations.map((r) => quoteQualified(r.schema, r.name)).join(', ');
}

/**
 * Internal. The list as people read it in messages.
 *
 * @example
 * ```ts
 *  * displayRelations([{ schema: 'public', name: 'orders' }]); // => public.orders
 * ```
 */
export function displayRelations(relations: readonly RelationName[]): string {
  return relations.map((r) => displayName(r.schema, r.name)).join(', ');
}

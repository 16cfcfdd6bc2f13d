import { quoteIdent, quoteLiteral } from '@pgtools/core';

/** Splits `name=value` reloption entries as stored in pg_class.reloptions. */
export function parseReloptions(entries: readonly string[]): Array<{ name: string; value: string }> {
  return entries.map((entry) => {
    const eq = entry.indexOf('=');
    return eq < 0 ? { name: entry, value: 'true' } : { name: entry.slice(0, eq), value: entry.slice(eq + 1) };
  });
}

/** `"name" = 'value', "toast"."name" = 'value'` for WITH (...) or SET (...). */
export function reloptionsClause(heap: readonly string[], toast: readonly string[] = []): string {
  return [
    ...parseReloptions(heap).map((o) => `${quoteIdent(o.name)} = ${quoteLiteral(o.value)}`),
    ...parseReloptions(toast).map((o) => `toast.${quoteIdent(o.name)} = ${quoteLiteral(o.value)}`),
  ].join(', ');
}

/**
 * `CREATE [OR REPLACE] VIEW name WITH (options) AS query` from a view's stored options and its
 * pg_get_viewdef text (which ends with `;`). `name` is already quoted.
 *
 * @example
 * ```ts
 * createViewSql('CREATE VIEW', 'public."v"', ['security_barrier=true'], ' SELECT 1;');
 * // `CREATE VIEW public."v" WITH ("security_barrier" = 'true') AS SELECT 1`
 * ```
 */
export function createViewSql(verb: 'CREATE VIEW' | 'CREATE OR REPLACE VIEW', name: string, reloptions: readonly string[], def: string): string {
  const options = reloptions.length > 0 ? ` WITH (${reloptionsClause(reloptions)})` : '';
  return `${verb} ${name}${options} AS ${def.trim().replace(/;$/, '')}`;
}

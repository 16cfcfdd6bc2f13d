import { PgToolsError, quoteIdent } from '@pgtools/core';
import type { AclEntry, RenameStepName } from './rename-facts.js';

// MAINTAIN: PostgreSQL 17+ (VACUUM, ANALYZE, CLUSTER, REFRESH, REINDEX, LOCK TABLE without owning the table).
const PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN']);

/** The ACL a relation (a table, or a view the swap recreates) must end with, and what it has now. */
export interface AclTarget {
  /** The relation's quoted name. */
  target: string;
  owner: string;
  /** Grantees it has now, from default privileges (`ALTER DEFAULT PRIVILEGES`): cleared first. */
  current: ReadonlyArray<string | null>;
  /** NULL ACL: the owner's default privileges, written out (a non-superuser cannot set it back to NULL). */
  aclIsNull: boolean;
  grants: readonly AclEntry[];
  columnGrants: ReadonlyArray<AclEntry & { column: string }>;
}

/**
 * Statements that make the relation's ACL equal to the wanted one (grantor aside: every grant is
 * made by the current role): REVOKE ALL from what it has now and the owner, then the entries (or
 * ALL to the owner for a NULL ACL), then the column grants but those on `skipColumns`. Returns how
 * many grants it made. Pure; throws `rename_swap_failed` for a privilege it does not know.
 */
export function aclSteps(swap: (name: RenameStepName, sql: string) => void, a: AclTarget, skipColumns: ReadonlySet<string> = new Set()): number {
  const who = (g: string | null) => (g === null ? 'PUBLIC' : quoteIdent(g));
  const privilege = (p: string, all: boolean): string => {
    if (!(all && p === 'ALL') && !PRIVILEGES.has(p)) throw new PgToolsError('rename_swap_failed', `unknown privilege ${p}`);
    return p;
  };
  let count = 0;
  if (a.current.length > 0 || !a.aclIsNull) {
    for (const g of new Set([...a.current, a.owner])) swap('grant', `REVOKE ALL ON TABLE ${a.target} FROM ${who(g)}`);
    const entries: readonly AclEntry[] = a.aclIsNull ? [{ grantee: a.owner, privilege: 'ALL', grantable: false }] : a.grants;
    for (const e of entries) {
      swap('grant', `GRANT ${privilege(e.privilege, true)} ON TABLE ${a.target} TO ${who(e.grantee)}${e.grantable ? ' WITH GRANT OPTION' : ''}`);
      count++;
    }
  }
  for (const e of a.columnGrants) {
    if (skipColumns.has(e.column)) continue;
    swap(
      'grant',
      `GRANT ${privilege(e.privilege, false)} (${quoteIdent(e.column)}) ON TABLE ${a.target} TO ${who(e.grantee)}${e.grantable ? ' WITH GRANT OPTION' : ''}`,
    );
    count++;
  }
  return count;
}

import pg from 'pg';
import { PgToolsError, quoteIdent } from '@pgtools/core';
import { resolveTargets, type TargetSelection } from '@pgtools/repack';
import type { SwapMode } from './args.js';

/** What the role connected needs, checked before anything is created: a refusal here leaves nothing behind. */
export interface PrivilegeCheck {
  selection: TargetSelection;
  swap: SwapMode;
  /** Indexes-only runs (`-x`, `-i`) rebuild in place: no swap and no tool schema. */
  indexesOnly: boolean;
  toolSchema?: string;
}

const SHOWN = 5;

/**
 * Refuses, with what is needed, a run the connected role cannot finish: `--swap=catalog` without
 * superuser (`catalog_swap_requires_superuser`), tables it does not own (`not_table_owner`), a tool
 * schema it cannot create or write to (`tool_schema_not_writable`). A superuser passes at once.
 *
 * @example
 * ```ts
 * await checkPrivileges({ connectionString: process.env.DATABASE_URL }, { selection: { tables: ['orders'] }, swap: 'auto', indexesOnly: false });
 * ```
 */
export async function checkPrivileges(db: pg.ClientConfig, check: PrivilegeCheck): Promise<void> {
  const client = new pg.Client(db);
  await client.connect();
  try {
    const { rows } = await client.query<{ role: string; su: boolean; db: string }>(
      'SELECT current_user AS role, coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS su, current_database() AS db',
    );
    const { role, su, db: database } = rows[0]!;
    if (su) return;
    if (check.swap === 'catalog' && !check.indexesOnly) {
      throw new PgToolsError(
        'catalog_swap_requires_superuser',
        `--swap=catalog needs a superuser: it rewrites pg_class and pg_depend directly, and role ${JSON.stringify(role)} is not a superuser`,
        {
          hint: 'use --swap=rename (the default for non-superusers), which works for the table owner; on managed services (RDS, Cloud SQL, Azure) no role is a superuser, so --swap=rename is the way there',
        },
      );
    }
    const hasSelection =
      (check.selection.tables?.length ?? 0) + (check.selection.parentTables?.length ?? 0) + (check.selection.schemas?.length ?? 0) > 0 ||
      check.selection.allTables === true;
    if (!hasSelection) return;
    const targets = await resolveTargets(db, check.selection, check.toolSchema);
    if (targets.length === 0) return;
    const { rows: owners } = await client.query<{ oid: string; owner: string; owns: boolean }>(
      `SELECT c.oid::int8 AS oid, pg_get_userbyid(c.relowner) AS owner, pg_has_role(c.relowner, 'USAGE') AS owns
         FROM pg_class c WHERE c.oid = ANY ($1::oid[])`,
      [targets.map((t) => t.oid)],
    );
    const byOid = new Map(owners.map((o) => [Number(o.oid), o]));
    const foreign = targets.filter((t) => byOid.get(t.oid)?.owns === false);
    if (foreign.length > 0) {
      const listed = foreign.slice(0, SHOWN).map((t) => `${t.display} (owner ${byOid.get(t.oid)!.owner})`);
      const more = foreign.length > SHOWN ? ` and ${foreign.length - SHOWN} more` : '';
      const owner = byOid.get(foreign[0]!.oid)!.owner;
      const oneOwner = foreign.every((t) => byOid.get(t.oid)!.owner === owner);
      throw new PgToolsError(
        'not_table_owner',
        `role ${JSON.stringify(role)} is not a superuser and does not own ${listed.join(', ')}${more}: ` +
          'an online repack needs a superuser, or the owner of each table (or a member of the owning role) with --swap=rename',
        {
          hint: oneOwner
            ? `connect as ${JSON.stringify(owner)} (-U ${owner}) or as a superuser, or have a superuser run GRANT ${quoteIdent(owner)} TO ${quoteIdent(role)}`
            : "connect as a superuser, or repack each owner's tables as that owner (-t TABLE -U OWNER)",
        },
      );
    }
    if (check.indexesOnly) return;
    const schema = check.toolSchema ?? 'pgtools';
    const { rows: ts } = await client.query<{ exists: boolean; can_create_schema: boolean; can_use: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists,
              has_database_privilege(current_database(), 'CREATE') AS can_create_schema,
              CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)
                   THEN has_schema_privilege($1, 'CREATE') AND has_schema_privilege($1, 'USAGE') ELSE true END AS can_use`,
      [schema],
    );
    const t = ts[0]!;
    if (!t.exists && !t.can_create_schema) {
      throw new PgToolsError(
        'tool_schema_not_writable',
        `role ${JSON.stringify(role)} cannot create the schema ${JSON.stringify(schema)} that holds the repack's change log and copy: it needs CREATE on database ${JSON.stringify(database)}`,
        {
          hint: `have a superuser run GRANT CREATE ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}, or CREATE SCHEMA ${quoteIdent(schema)} AUTHORIZATION ${quoteIdent(role)}`,
        },
      );
    }
    if (t.exists && !t.can_use) {
      throw new PgToolsError(
        'tool_schema_not_writable',
        `role ${JSON.stringify(role)} cannot write to the schema ${JSON.stringify(schema)} that holds the repack's change log and copy: it needs USAGE and CREATE on it`,
        { hint: `have the schema's owner or a superuser run GRANT USAGE, CREATE ON SCHEMA ${quoteIdent(schema)} TO ${quoteIdent(role)}` },
      );
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

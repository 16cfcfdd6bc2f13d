import { displayName, type Queryable } from '@pgtools/core';
import { loadColumns, loadTable, preconditionError, withCatalogSearchPath } from './catalog.js';
import { readIndexPairFacts } from './preconditions.js';
import type { NotNullFacts, RenameFacts, SequenceFacts } from './rename-facts.js';
import { fingerprintSql } from './rename-fingerprint.js';
import { readRenameTableFacts, readStatistics } from './rename-inspect.js';
import type { IndexPair, RelationName } from './types.js';

/**
 * Reads everything the rename swap is worked out from (see {@link RenameFacts}), with the search path
 * pinned to pg_catalog so the server's deparsers qualify every user object. It only reads: what to
 * refuse and which statements to run is decided from the result by renameSwapRefusal and
 * renameSwapSteps. Throws `swap_precondition` when a table does not exist or is not an ordinary
 * permanent table, or when the original was replaced while it read. Reading view definitions takes
 * ACCESS SHARE on each view until the transaction ends: call it in autocommit. `viewTree: false`
 * leaves out the views over views (only a swap that recreates them needs them).
 *
 * @example
 * ```ts
 * const facts = await readRenameFacts(client, { schema: 'public', name: 'orders' }, { schema: 'pgtools', name: 'table_16385' }, indexPairs);
 * ```
 */
export async function readRenameFacts(
  client: Queryable,
  originalRef: RelationName,
  shadowRef: RelationName,
  indexPairs: readonly IndexPair[],
  options: { viewTree?: boolean } = {},
): Promise<RenameFacts> {
  return withCatalogSearchPath(client, async () => {
    // The fingerprint comes before everything else read here: each read sees what committed by then
    // (READ COMMITTED), so a change that commits meanwhile changes the fingerprint and is caught under
    // the lock. It is read with the search path pinned, as the check under the lock.
    const { oid: originalOid } = await loadTable(client, originalRef, 'original');
    const fingerprint = await readFingerprint(client, originalOid);
    const original = await loadTable(client, originalRef, 'original');
    if (original.oid !== originalOid) throw preconditionError(`${displayName(original.schema, original.name)} was replaced while the swap was planned`);
    const shadow = await loadTable(client, shadowRef, 'shadow');
    const { rows: own } = await client.query<{ owner: boolean; shadow_owner: boolean; role: string }>(
      `SELECT pg_catalog.pg_has_role($1::int8::oid, 'USAGE') AS owner, pg_catalog.pg_has_role($2::int8::oid, 'USAGE') AS shadow_owner,
              current_user::text AS role`,
      [original.ownerOid, shadow.ownerOid],
    );
    const attached = await readRenameTableFacts(client, original, options);
    const originalColumns = await loadColumns(client, original.oid);
    const shadowColumns = await loadColumns(client, shadow.oid);
    const { rows: checks } = await client.query<{ name: string; def: string }>(
      `SELECT con.conname AS name, pg_catalog.pg_get_constraintdef(con.oid) AS def FROM pg_catalog.pg_constraint con
        WHERE con.conrelid = $1::int8::oid AND con.contype = 'c' ORDER BY con.conname`,
      [shadow.oid],
    );
    const { rows: notNulls } = await client.query<NotNullFacts>(
      `SELECT con.conname AS name, a.attname AS column, pg_catalog.pg_get_constraintdef(con.oid) AS def, con.convalidated AS validated
         FROM pg_catalog.pg_constraint con
         JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
        WHERE con.conrelid = $1::int8::oid AND con.contype = 'n' ORDER BY con.conname`,
      [shadow.oid],
    );
    // NOT NULL constraints (PostgreSQL 18+) are the ones LIKE copies; they are paired by column, not counted as extra.
    const { rows: other } = await client.query<{ what: string }>(
      `SELECT con.conname AS what FROM pg_catalog.pg_constraint con WHERE con.conrelid = $1::int8::oid AND con.contype NOT IN ('c', 'n')`,
      [shadow.oid],
    );
    const indexes = await readIndexPairFacts(client, original, shadow, indexPairs);
    const shadowStatistics = await readStatistics(client, shadow.oid);
    const { rows: grantees } = await client.query<{ grantee: string | null }>(
      `SELECT DISTINCT CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee) END AS grantee
         FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) AS x WHERE c.oid = $1::int8::oid`,
      [shadow.oid],
    );
    const { rows: reloptions } = await client.query<{ heap: string[]; toast: string[] }>(
      `SELECT COALESCE(c.reloptions, '{}') AS heap, COALESCE(t.reloptions, '{}') AS toast
         FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = $1::int8::oid`,
      [shadow.oid],
    );
    const { rows: identity } = await client.query<SequenceFacts>(
      `SELECT s.oid::int8 AS oid, n.nspname AS schema, s.relname AS name, a.attname AS column
         FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
         JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
          AND d.refobjid = $1::int8::oid AND d.deptype = 'i'`,
      [shadow.oid],
    );
    return {
      original,
      shadow,
      fingerprint,
      role: { name: own[0]?.role ?? '', ownsOriginal: own[0]?.owner === true, ownsShadow: own[0]?.shadow_owner === true },
      attached,
      columns: { original: originalColumns, shadow: shadowColumns },
      shadowConstraints: { checks, notNulls, other: other.map((o) => o.what) },
      indexes,
      shadowStatistics,
      shadowGrantees: grantees.map((g) => g.grantee),
      shadowReloptions: reloptions[0] ?? { heap: [], toast: [] },
      shadowIdentitySequences: identity.map((s) => ({ oid: Number(s.oid), schema: s.schema, name: s.name, column: s.column })),
    };
  });
}

async function readFingerprint(client: Queryable, tableOid: number): Promise<string> {
  const { rows } = await client.query<{ f: string }>(fingerprintSql(tableOid));
  return rows[0]?.f ?? '';
}

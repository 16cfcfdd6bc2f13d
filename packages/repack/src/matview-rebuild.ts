import type pg from 'pg';
import { debugFailure, displayName, PgToolsError, quoteIdent, quoteQualified, wrapPgError, type Logger } from '@pgtools/core';
import { acquireTableLock, type LockEvent, type OnBlockers } from '@pgtools/lock';
import { withSearchPath } from '@pgtools/swap';
import { oldMatviewName, readMatviewIndexes, replacementName } from './matview-sql.js';
import { matviewSwitchSql, readSwitchFacts } from './matview-switch.js';

export interface RebuildMatviewOptions {
  client: pg.ClientBase;
  toolSchema: string;
  /** The old materialized view's OID (its replacement is `<toolSchema>.matview_<oid>`). */
  oid: number;
  waitTimeoutMs: number;
  onBlockers: OnBlockers;
  excludePids?: number[];
  signal?: AbortSignal | undefined;
  logger: Logger;
  onLockEvent?: (e: LockEvent) => void;
  /** Called once the replacement is filled and indexed, before the switch (a pause point of the run). */
  beforeSwitch?: () => Promise<void>;
}

export interface RebuiltMatview {
  /** The matview's name, as displayed. */
  matview: string;
  /** Filled (REFRESHed) like the old one was; false: left WITH NO DATA like the old one. */
  populated: boolean;
  indexes: string[];
  lockWaitedMs: number;
  /** How long the switch held ACCESS EXCLUSIVE on the old matview. */
  heldMs: number;
}

/**
 * Puts the replacement of one materialized view in its place: fills it if the old one is filled
 * (REFRESH: the query runs on the new table under ACCESS SHARE, the replacement is nobody else's),
 * builds the old one's indexes on it, analyzes it, then in one short transaction renames the old one
 * away (which takes its ACCESS EXCLUSIVE, tried briefly and bounded like the other lock moments),
 * drops it and moves the replacement, its indexes, owner, grants, comments and statistics targets
 * into place. Idempotent up to the switch: indexes a killed run left on the replacement are dropped
 * first. Undefined (the replacement dropped) when the old one is gone. Throws `lock_timeout` (nothing
 * switched) and `matview_rebuild_failed`.
 */
export async function rebuildMatview(o: RebuildMatviewOptions): Promise<RebuiltMatview | undefined> {
  const { client, toolSchema, oid } = o;
  const replacement = { schema: toolSchema, name: replacementName(oid) };
  const R = quoteQualified(replacement.schema, replacement.name);
  const { rows } = await client.query<{ schema: string; name: string; populated: boolean; replacement: string | null }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relispopulated AS populated, pg_catalog.to_regclass($2)::oid::int8 AS replacement
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::int8::oid AND c.relkind = 'm'`,
    [oid, R],
  );
  const old = rows[0];
  if (!old) {
    // Dropped since the swap: its replacement has nothing to stand in for.
    await client.query(`DROP MATERIALIZED VIEW IF EXISTS ${R}`);
    return undefined;
  }
  if (old.replacement === null) {
    throw new PgToolsError(
      'matview_rebuild_failed',
      `the replacement ${toolSchema}.${replacement.name} of materialized view ${displayName(old.schema, old.name)} no longer exists`,
    );
  }
  const display = displayName(old.schema, old.name);
  const indexes = await withSearchPath(client, 'pg_catalog, pg_temp', { local: false }, async () => {
    const { rows: half } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::int8::oid`,
      [old.replacement],
    );
    for (const h of half) await client.query(`DROP INDEX IF EXISTS ${quoteQualified(toolSchema, h.name)}`);
    try {
      if (old.populated) await client.query(`REFRESH MATERIALIZED VIEW ${R}`);
    } catch (err) {
      throw wrapPgError(err, 'matview_rebuild_failed', `filling the replacement of materialized view ${display} failed`);
    }
    const defs = await readMatviewIndexes(client, oid, replacement);
    for (const d of defs) await client.query(d.sql);
    return defs;
  });
  if (old.populated) await client.query(`ANALYZE ${R}`);
  await o.beforeSwitch?.();
  const acquired = await acquireTableLock({
    client,
    relations: [{ schema: old.schema, name: old.name }],
    mode: 'ACCESS EXCLUSIVE',
    lockSql: `ALTER MATERIALIZED VIEW ${quoteQualified(old.schema, old.name)} RENAME TO ${quoteIdent(oldMatviewName(oid))}`,
    waitTimeoutMs: o.waitTimeoutMs,
    onBlockers: o.onBlockers,
    excludePids: o.excludePids ?? [],
    signal: o.signal,
    logger: o.logger,
    ...(o.onLockEvent ? { onEvent: o.onLockEvent } : {}),
  });
  const since = Date.now();
  try {
    const facts = await readSwitchFacts(client, oid, Number(old.replacement), old);
    const built = new Set(indexes.map((i) => i.oid));
    await client.query(matviewSwitchSql(oid, replacement, facts, built).join(';\n'));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(debugFailure(o.logger, 'ROLLBACK after a failed materialized view switch'));
    throw wrapPgError(err, 'matview_rebuild_failed', `putting the rebuilt materialized view ${display} in place failed`);
  }
  return { matview: display, populated: old.populated, indexes: indexes.map((i) => i.name), lockWaitedMs: acquired.waitedMs, heldMs: Date.now() - since };
}

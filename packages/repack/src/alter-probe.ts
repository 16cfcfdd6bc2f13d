import { debugFailure, PgToolsError, quoteIdent, quoteQualified, silentLogger, type Logger, type Queryable } from '@pgtools/core';
import type { AlterRequest } from './alter-request.js';
import { reorderShadow } from './alter-reorder.js';
import { firstCheckViolation } from './alter-constraint-rows.js';
import { constraintNameFacts, resolveReferences, settleConstraints } from './alter-constraint-probe.js';
import { alterSources, keyJson, planAlter, shadowAlterSql, sourceSql, type AlterPlan, type ColumnDependency } from './alter-plan.js';
import type { TableInfo } from './table-info.js';
import { readViewTrial, tryViews } from './alter-views.js';
import { readMatviewTrial, tryMatviews } from './alter-matviews.js';
import { readRetypedForeignKeys, tryForeignKeys } from './alter-foreign-keys.js';
import { partitionKeyDef, refuseAlone } from './alter-tree-refusal.js';

const refused = (display: string, what: string, err: unknown): PgToolsError =>
  new PgToolsError('alter_refused', `--alter on ${display}: ${what}: ${err instanceof Error ? err.message : String(err)}; nothing was changed`, {
    cause: err,
  });

/**
 * Works out and tries the `--alter` plan of one table before anything is made: every type must be
 * one the server knows (`regtype`), the actions must fit the table (`planAlter`), and the new
 * definition is built on a temporary copy of the table's definition in a transaction that is rolled
 * back, where the copy's statement is planned (`LIMIT 0`) so that every USING expression, cast and
 * default is type-checked by the server, and the views the swap will recreate are built on it
 * (alter-views.ts). Returns the plan with the new types as the server prints
 * them. Throws `alter_refused`.
 */
export async function probeAlter(
  client: Queryable,
  info: TableInfo,
  keyColumns: readonly string[],
  request: AlterRequest,
  logger: Logger = silentLogger,
  /**
   * `'table'`: an ordinary table on its own (a partition only without column changes, alter-tree-refusal.ts);
   * `'tree-parent'`: a partitioned table altered whole, tried with its partition key (alter-tree.ts);
   * `'tree-leaf'`: one of its leaves.
   */
  scope: 'table' | 'tree-parent' | 'tree-leaf' = 'table',
): Promise<AlterPlan> {
  const { actions, columnOrder } = request;
  const display = info.display;
  if (scope === 'table') await refuseAlone(client, info, actions);
  if (scope === 'tree-parent' ? info.relkind !== 'p' : info.relkind !== 'r' || (scope === 'tree-leaf' && !info.isPartition)) {
    throw new PgToolsError(
      'alter_refused',
      `--alter on ${display}: not ${scope === 'tree-parent' ? 'a partitioned table' : 'an ordinary table'}; nothing was changed`,
    );
  }
  // PostgreSQL 18 keeps NOT NULL as named constraints (the plan names new ones as on the table):
  // asked only when an action adds one.
  const addsNotNull = actions.some((a) => (a.kind === 'set-not-null' || a.kind === 'add-column') && a.notNull);
  const version = addsNotNull ? await client.query<{ v: number }>(`SELECT pg_catalog.current_setting('server_version_num')::int AS v`) : undefined;
  const namedNotNulls = (version?.rows[0]?.v ?? 0) >= 180000;
  for (const a of actions) {
    if (a.kind !== 'alter-type' && a.kind !== 'add-column') continue;
    // regtype input parses the text as a type name and nothing else: after this it is safe as SQL.
    try {
      await client.query('SELECT $1::pg_catalog.regtype', [a.type]);
    } catch (err) {
      throw refused(display, `type ${JSON.stringify(a.type)} of ${JSON.stringify(a.text)}`, err);
    }
  }
  // One after the other: a client runs one query at a time (pg 9 will refuse queued ones).
  const dependencies = await columnDependencies(client, info.oid);
  const grants = await columnsWithGrants(client, info.oid);
  const constraintNames = await constraintNameFacts(client, info.oid);
  const plan = planAlter(
    actions,
    { display, columns: info.columns, keyColumns, dependencies, columnsWithGrants: grants, table: info.name, constraintNames, namedNotNulls },
    columnOrder,
  );
  const table = quoteQualified(info.schema, info.name);
  // The trial table has the table's name (in the session's temporary schema), so the server gives
  // unnamed constraints the names it would give them on the table; dropped at the end of the
  // transaction, which is rolled back anyway.
  const probe = `pg_temp.${quoteIdent(info.name)}`;
  const alterSql = shadowAlterSql(plan);
  await resolveReferences(client, info, plan.constraints);
  await client.query('BEGIN');
  try {
    // Before the trial table exists: the views' definitions must name the table as it is now.
    const views = await readViewTrial(client, info, plan);
    const matviews = await readMatviewTrial(client, info, plan);
    try {
      // A partitioned table is tried partitioned the same way: the server refuses what it would refuse on it (a partition key column retyped).
      const partitionBy = scope === 'tree-parent' ? ` PARTITION BY ${await partitionKeyDef(client, info.oid)}` : '';
      await client.query(
        `CREATE TEMPORARY TABLE ${quoteIdent(info.name)} (LIKE ${table} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING IDENTITY)${partitionBy} ON COMMIT DROP`,
      );
      if (alterSql !== undefined) await client.query(`ALTER TABLE ${probe} ${alterSql}`);
    } catch (err) {
      throw refused(display, 'the new definition cannot be made', err);
    }
    // An order the server cannot make (a generated column before a column it reads, before PostgreSQL 17) shows here already.
    if (plan.columnOrder) await reorderShadow(client, { schema: 'pg_temp', name: info.name }, plan.columnOrder, display);
    const { rows } = await client.query<{ name: string; type: string; writable: boolean; always: boolean }>(
      `SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attgenerated = '' AS writable, a.attidentity = 'a' AS always
         FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [probe],
    );
    for (const m of plan.mapping) {
      const now = rows.find((r) => r.name === m.column);
      if (now) m.newType = now.type;
    }
    const { columns, sources } = alterSources(
      plan,
      rows.filter((r) => r.writable).map((r) => r.name),
    );
    const overriding = rows.some((r) => r.always) ? ' OVERRIDING SYSTEM VALUE' : '';
    try {
      await client.query(
        `INSERT INTO ${probe} (${columns.map(quoteIdent).join(', ')})${overriding} SELECT ${sources.map(sourceSql).join(', ')} FROM ONLY ${table} LIMIT 0`,
      );
    } catch (err) {
      throw refused(display, 'the old rows cannot be written into the new definition (a type without an assignment cast needs USING)', err);
    }
    await settleConstraints(client, { display, probe, constraints: plan.constraints, names: constraintNames });
    // The swap adds the foreign keys over retyped columns again: the server must accept them between the new types.
    const fks = await readRetypedForeignKeys(client, info.oid, plan.changes.retyped);
    await tryForeignKeys(client, fks, new Map(rows.map((r) => [r.name, r.type])), display);
    // The swap recreates the views over the table: the server builds each on the new definition now.
    if (views) await tryViews(client, views, display);
    // The materialized views are rebuilt on the new table after the swap: their queries must work on it.
    if (matviews) await tryMatviews(client, matviews, display);
    plan.keyCasts = keyColumns.map((k, i) => (plan.keyCasts[i] === null ? null : (rows.find((r) => r.name === k)?.type ?? null)));
  } finally {
    await client.query('ROLLBACK').catch(debugFailure(logger, 'ROLLBACK after the --alter probe'));
  }
  return plan;
}

/** What uses each live column of the table, by pg_depend (views through their rules, constraints, indexes, policies, triggers, statistics, publications). */
async function columnDependencies(client: Queryable, tableOid: number): Promise<ColumnDependency[]> {
  const { rows } = await client.query<{
    column: string;
    catalog: string;
    what: string;
    view: string | null;
    contype: string | null;
    conrelid: string | null;
    self: boolean;
  }>(
    `SELECT a.attname AS column, d.classid::pg_catalog.regclass::text AS catalog,
            pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what,
            CASE WHEN vc.relkind IN ('v', 'm') THEN pg_catalog.format('%s %s', CASE vc.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, vc.oid::pg_catalog.regclass) END AS view,
            con.contype::text AS contype, con.conrelid::text AS conrelid, ad.adrelid IS NOT NULL AS self
       FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid AND NOT a.attisdropped
       LEFT JOIN pg_catalog.pg_rewrite rw ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND rw.oid = d.objid
       LEFT JOIN pg_catalog.pg_class vc ON vc.oid = rw.ev_class
       LEFT JOIN pg_catalog.pg_constraint con ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND con.oid = d.objid
       LEFT JOIN pg_catalog.pg_attrdef ad ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND ad.oid = d.objid
                                         AND ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = $1::pg_catalog.oid AND d.refobjsubid > 0
      ORDER BY a.attnum, what`,
    [tableOid],
  );
  return rows.map((r) => ({
    column: r.column,
    kind: r.self
      ? 'default'
      : r.view !== null
        ? 'view'
        : r.contype === 'f'
          ? Number(r.conrelid) === tableOid
            ? 'foreign-key-out'
            : 'foreign-key-in'
          : 'other',
    what: r.view ?? r.what,
  }));
}

async function columnsWithGrants(client: Queryable, tableOid: number): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    'SELECT attname AS name FROM pg_catalog.pg_attribute WHERE attrelid = $1::pg_catalog.oid AND attnum > 0 AND NOT attisdropped AND attacl IS NOT NULL',
    [tableOid],
  );
  return rows.map((r) => r.name);
}

/**
 * After the copy failed: finds the first row (in physical order) whose new values cannot be made,
 * by evaluating each retyped column's source, cast to its new type, row by row. Returns the key as
 * JSON text and the server's message, or undefined when no row fails that way. Reads only; one scan
 * of the table at most.
 */
export async function findBadRow(
  client: Queryable,
  info: Pick<TableInfo, 'schema' | 'name'>,
  keyColumns: readonly string[],
  plan: AlterPlan,
): Promise<{ key: string; message: string } | undefined> {
  const table = quoteQualified(info.schema, info.name);
  const key = keyJson(keyColumns, (k) => `t.${quoteIdent(k)}`);
  const values = retypedValues(plan);
  const bad =
    values === undefined
      ? undefined
      : await firstFailure(client, `SELECT t.ctid AS tid, ${key} AS k FROM ONLY ${table} AS t`, `${values} FROM ONLY ${table} WHERE ctid = pgtools_row.tid`);
  // The values convert: a NULL where the new definition has NOT NULL, then (IS NULL cannot fail), then a new CHECK.
  return (
    bad ??
    (await firstNull(client, plan, (nullTest) => `SELECT ${key} AS k FROM ONLY ${table} AS t WHERE ${nullTest} LIMIT 1`)) ??
    (await firstCheckViolation(client, plan, `(SELECT t.*, ${key} AS "pgtools key", t.ctid AS "pgtools id" FROM ONLY ${table} AS t) AS o`))
  );
}

/**
 * After a log apply failed: the same look over the log's row images (inserts and updates, oldest
 * first), each expanded alone in its FROM as the apply does. Reads only.
 */
export async function findBadLogRow(
  client: Queryable,
  log: { schema: string; name: string },
  keyColumns: readonly string[],
  plan: AlterPlan,
): Promise<{ key: string; message: string } | undefined> {
  const logTable = quoteQualified(log.schema, log.name);
  const key = keyJson(keyColumns, (k) => `(l.new_row).${quoteIdent(k)}`);
  const values = retypedValues(plan);
  const bad =
    values === undefined
      ? undefined
      : await firstFailure(
          client,
          `SELECT l.new_row AS img, ${key} AS k FROM ${logTable} AS l WHERE l.op <> 'D' ORDER BY l.id`,
          `${values} FROM (SELECT (pgtools_row.img).*) AS o`,
        );
  // The image expanded alone with its key and position under names no table column takes, as the apply sees it.
  const images = `(SELECT (l.new_row).*, l.id AS "pgtools id", ${key} AS "pgtools key" FROM ${logTable} AS l WHERE l.op <> 'D') AS o`;
  return (
    bad ??
    (await firstNull(client, plan, (nullTest) => `SELECT o."pgtools key" AS k FROM ${images} WHERE ${nullTest} ORDER BY o."pgtools id" LIMIT 1`)) ??
    (await firstCheckViolation(client, plan, images))
  );
}

/**
 * The first row (by `query`, given the test) where a column the new definition makes NOT NULL
 * would be NULL: SET NOT NULL columns, by their source on the old row.
 */
async function firstNull(client: Queryable, plan: AlterPlan, query: (nullTest: string) => string): Promise<{ key: string; message: string } | undefined> {
  for (const m of plan.mapping.filter((x) => x.newNotNull === true && x.from !== undefined)) {
    const { rows } = await client.query<{ k: string }>(query(`(${m.from ?? 'NULL'}) IS NULL`));
    if (rows[0]) return { key: rows[0].k, message: `null value in column ${quoteIdent(m.column)}, which the new definition makes NOT NULL` };
  }
  return undefined;
}

/** Each retyped column's source cast to its new type, as one select list; undefined when nothing is retyped. */
function retypedValues(plan: AlterPlan): string | undefined {
  const retyped = plan.mapping.filter((m) => m.change === 'retyped' && m.from !== undefined && m.newType !== undefined);
  if (retyped.length === 0) return undefined;
  return retyped.map((m) => `CAST(${m.from ?? 'NULL'} AS ${m.newType ?? ''})`).join(', ');
}

/**
 * Runs `perform` for each row of `loop` (which yields the key as `k`) in a DO block, and reports
 * the key of the row it failed on with the server's message (the key travels in the error's
 * DETAIL: a DO block returns nothing). Local variables keep their values in the handler.
 */
async function firstFailure(client: Queryable, loop: string, perform: string): Promise<{ key: string; message: string } | undefined> {
  const body = `DECLARE pgtools_row record; pgtools_key text; BEGIN
  FOR pgtools_row IN ${loop} LOOP
    pgtools_key := pgtools_row.k;
    PERFORM ${perform};
  END LOOP;
EXCEPTION WHEN OTHERS THEN
  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = SQLERRM, DETAIL = pgtools_key;
END`;
  // A dollar-quote tag that the body cannot contain.
  let tag = 'pgtools';
  while (body.includes(`$${tag}$`)) tag += '_';
  try {
    await client.query(`DO $${tag}$ ${body} $${tag}$`);
    return undefined;
  } catch (err) {
    const e = err as { detail?: string; message?: string };
    if (e.detail === undefined) return undefined;
    return { key: e.detail, message: e.message ?? String(err) };
  }
}

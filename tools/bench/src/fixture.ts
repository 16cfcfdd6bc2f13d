import { quoteIdent, quoteQualified } from '@pgtools/core';

/** The objects the benchmark works with, all in schema `public`. */
export const FIXTURE = {
  schema: 'public',
  table: 'bench',
  ledger: 'bench_ledger',
  sequence: 'bench_new_id',
  codeFn: 'bench_code',
  payloadFn: 'bench_payload',
  accountIndex: 'bench_account_idx',
  codeIndex: 'bench_code_idx',
} as const;

const q = (name: string): string => quoteQualified(FIXTURE.schema, name);

/** `schema.table` as the tools take it on their command lines. */
export const TABLE_NAME = `${FIXTURE.schema}.${FIXTURE.table}`;

/** The types the fixture's `id` can have: bigint for the repack, integer for the alter scenario to widen. */
export type FixtureIdType = 'bigint' | 'integer';

/** Live rows per account: the load's account lookup reads about this many rows. */
const ROWS_PER_ACCOUNT = 20;

/**
 * Number of distinct `account` values for a table of `rows` inserted rows (half stay live).
 *
 * @example
 * ```ts
 * accountsFor(2_000_000); // 50000
 * ```
 */
export function accountsFor(rows: number): number {
  return Math.max(1, Math.floor(rows / 2 / ROWS_PER_ACCOUNT));
}

/**
 * Statements that build the bloated table: `rows` rows of about 180 bytes (id, account, a
 * 16-character code, a counter and a 120-character payload, all derived from the id so the
 * expected content is computable), a primary key and two secondary btree indexes, then every
 * second row deleted and VACUUM ANALYZE, as a long-lived table that lost half its rows looks.
 * `idType` is the key's type: `integer` for the alter scenario, which widens it. With `partitions`
 * the table is hash-partitioned on `account` into that many partitions, its key `(id, account)`
 * (a partition key column keeps its type, so `id` is not one).
 *
 * @example
 * ```ts
 * for (const sql of fixtureStatements(2_000_000)) await client.query(sql);
 * ```
 */
export function fixtureStatements(rows: number, idType: FixtureIdType = 'bigint', partitions = 0): string[] {
  const accounts = accountsFor(rows);
  const t = q(FIXTURE.table);
  const parts = Array.from({ length: partitions }, (_, i) => `${FIXTURE.table}_${i}`);
  return [
    `CREATE FUNCTION ${q(FIXTURE.codeFn)}(id bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT substr(md5('code' || id::text), 1, 16) $$`,
    `CREATE FUNCTION ${q(FIXTURE.payloadFn)}(id bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT substr(repeat(md5(id::text), 4), 1, 120) $$`,
    `CREATE TABLE ${t} (
       id ${idType}${partitions > 0 ? '' : ' PRIMARY KEY'},
       account integer NOT NULL,
       code text NOT NULL,
       counter bigint NOT NULL DEFAULT 0,
       payload text NOT NULL${partitions > 0 ? ',\n       PRIMARY KEY (id, account)\n     ) PARTITION BY HASH (account)' : '\n     )'}`,
    ...parts.map((name, i) => `CREATE TABLE ${q(name)} PARTITION OF ${t} FOR VALUES WITH (MODULUS ${partitions}, REMAINDER ${i})`),
    `INSERT INTO ${t} (id, account, code, counter, payload)
       SELECT g, g % ${accounts}, ${q(FIXTURE.codeFn)}(g), 0, ${q(FIXTURE.payloadFn)}(g) FROM generate_series(1, ${rows}::bigint) AS g`,
    `CREATE INDEX ${quoteIdent(FIXTURE.accountIndex)} ON ${t} (account)`,
    `CREATE INDEX ${quoteIdent(FIXTURE.codeIndex)} ON ${t} (code)`,
    `DELETE FROM ${t} WHERE id % 2 = 0`,
    `CREATE SEQUENCE ${q(FIXTURE.sequence)} START ${rows + 1}`,
    // The load's record of what it changed, written in the same transactions: the expected
    // content follows from it exactly. No index, so it costs the load little.
    `CREATE TABLE ${q(FIXTURE.ledger)} (op "char" NOT NULL, id bigint NOT NULL)`,
    `VACUUM ANALYZE ${t}`,
  ];
}

/**
 * The pgbench script: per transaction a point read, an account lookup through a secondary
 * index, an update of one random row's counter, an insert of a new row and a delete of a random
 * row (every second id is already gone, so about half of the deletes and updates hit nothing).
 * Each write also records itself in the ledger in the same statement, so the expected table
 * content is computable from the ledger whatever transactions committed.
 *
 * @example
 * ```ts
 * writeFileSync('load.sql', pgbenchScript());
 * // pgbench -f load.sql -D maxid=2000000 -D accounts=50000 ...
 * ```
 */
export function pgbenchScript(): string {
  const t = q(FIXTURE.table);
  const ledger = q(FIXTURE.ledger);
  return [
    '\\set rid random(1, :maxid)',
    '\\set acc random(0, :accounts - 1)',
    '\\set uid random(1, :maxid)',
    '\\set did random(1, :maxid)',
    'BEGIN;',
    `SELECT counter FROM ${t} WHERE id = :rid;`,
    `SELECT count(*) FROM ${t} WHERE account = :acc;`,
    `WITH u AS (UPDATE ${t} SET counter = counter + 1 WHERE id = :uid RETURNING id) INSERT INTO ${ledger} (op, id) SELECT 'u', id FROM u;`,
    `WITH n AS (INSERT INTO ${t} (id, account, code, counter, payload) SELECT v, v % :accounts, ${q(FIXTURE.codeFn)}(v), 0, ${q(FIXTURE.payloadFn)}(v) FROM nextval('${q(FIXTURE.sequence)}') AS v RETURNING id) INSERT INTO ${ledger} (op, id) SELECT 'i', id FROM n;`,
    `WITH d AS (DELETE FROM ${t} WHERE id = :did RETURNING id) INSERT INTO ${ledger} (op, id) SELECT 'd', id FROM d;`,
    'END;',
    '',
  ].join('\n');
}

/** An order-independent checksum of rows given as text: a count and a sum of 60-bit md5 prefixes. */
const rowHash = (rowText: string): string => `('x' || substr(md5(${rowText}), 1, 15))::bit(60)::bigint::numeric`;

/**
 * The checksum of the table as it is: row count and the sum of per-row hashes.
 *
 * @example
 * ```ts
 * const { rows } = await client.query(actualChecksumSql());
 * ```
 */
export function actualChecksumSql(): string {
  return `SELECT count(*)::text AS rows, coalesce(sum(${rowHash(`concat_ws('|', id, account, code, counter, payload)`)}), 0)::text AS sum
            FROM ${q(FIXTURE.table)}`;
}

/**
 * The checksum the table must have: the initial odd ids plus the ledger's inserts, minus its
 * deletes, each row's counter the number of its ledger updates, the other columns derived from
 * the id exactly as the fixture and the load derive them.
 *
 * @example
 * ```ts
 * const { rows } = await client.query(expectedChecksumSql(2_000_000));
 * ```
 */
export function expectedChecksumSql(rows: number): string {
  const ledger = q(FIXTURE.ledger);
  const accounts = accountsFor(rows);
  return `WITH born AS (SELECT g AS id FROM generate_series(1, ${rows}::bigint, 2) AS g
                        UNION ALL SELECT id FROM ${ledger} WHERE op = 'i'),
               dead AS (SELECT DISTINCT id FROM ${ledger} WHERE op = 'd'),
               bumps AS (SELECT id, count(*) AS n FROM ${ledger} WHERE op = 'u' GROUP BY id),
               live AS (SELECT b.id FROM born b WHERE NOT EXISTS (SELECT 1 FROM dead d WHERE d.id = b.id))
          SELECT count(*)::text AS rows,
                 coalesce(sum(${rowHash(
                   `concat_ws('|', l.id, (l.id % ${accounts})::int, ${q(FIXTURE.codeFn)}(l.id), coalesce(u.n, 0), ${q(FIXTURE.payloadFn)}(l.id))`,
                 )}), 0)::text AS sum
            FROM live l LEFT JOIN bumps u ON u.id = l.id`;
}

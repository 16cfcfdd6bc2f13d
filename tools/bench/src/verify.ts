import type pg from 'pg';
import { quoteQualified } from '@pgtools/core';
import { actualChecksumSql, expectedChecksumSql, FIXTURE } from './fixture.js';

/** The table's state after a pass and whether it is what the load implies. */
export interface Verification {
  correct: boolean;
  /** What is wrong, empty when correct. */
  problems: string[];
  liveRows: number;
  /** The type of `id` after the pass (`format_type` spelling), when the check asked for one. */
  idType?: string;
  heapBytes: number;
  totalBytes: number;
}

/** The table's heap and total size ($1: the table), summed over its partitions when partitioned (a plain table is its own one leaf). */
export const TABLE_SIZE_SQL = `SELECT sum(pg_relation_size(relid))::text AS heap, sum(pg_total_relation_size(relid))::text AS total
                                 FROM pg_partition_tree($1::regclass) WHERE isleaf`;

/**
 * Checks the table after the load stopped: its checksum equals the one the ledger implies,
 * it has its three valid indexes, no trigger or tool table is left over, and (with `amcheck`)
 * every index holds exactly the heap's tuples; with `idType`, that `id` has that type (the alter
 * scenario widens it: the checksum then also says every row kept its content).
 *
 * @example
 * ```ts
 * const v = await verifyTable(client, { rows: 2_000_000, amcheck: true, idType: 'bigint' });
 * if (!v.correct) console.error(v.problems);
 * ```
 */
export async function verifyTable(
  client: pg.ClientBase,
  { rows, amcheck, idType }: { rows: number; amcheck: boolean; idType?: string },
): Promise<Verification> {
  const problems: string[] = [];
  const table = quoteQualified(FIXTURE.schema, FIXTURE.table);
  let actualIdType: string | undefined;
  if (idType !== undefined) {
    const { rows: types } = await client.query<{ type: string }>(
      "SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'id' AND NOT attisdropped",
      [table],
    );
    actualIdType = types[0]?.type;
    if (actualIdType !== idType) problems.push(`id is ${actualIdType ?? 'missing'}, expected ${idType}`);
  }
  const actual = (await client.query<{ rows: string; sum: string }>(actualChecksumSql())).rows[0]!;
  const expected = (await client.query<{ rows: string; sum: string }>(expectedChecksumSql(rows))).rows[0]!;
  if (actual.rows !== expected.rows || actual.sum !== expected.sum) {
    problems.push(`checksum: table has ${actual.rows} rows (sum ${actual.sum}), the load implies ${expected.rows} (sum ${expected.sum})`);
  }
  const { rows: indexes } = await client.query<{ name: string; valid: boolean; oid: number }>(
    `SELECT c.relname AS name, i.indisvalid AND i.indisready AS valid, c.oid::int AS oid
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY 1`,
    [table],
  );
  if (indexes.length !== 3) problems.push(`indexes: expected 3, found ${indexes.map((i) => i.name).join(', ') || 'none'}`);
  for (const i of indexes.filter((x) => !x.valid)) problems.push(`index ${i.name} is not valid`);
  const { rows: triggers } = await client.query<{ name: string }>('SELECT tgname AS name FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal', [
    table,
  ]);
  if (triggers.length > 0) problems.push(`leftover triggers: ${triggers.map((t) => t.name).join(', ')}`);
  const { rows: leftovers } = await client.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('pgtools', 'repack') AND c.relkind IN ('r', 'u', 'p')`,
  );
  if (leftovers.length > 0) problems.push(`leftover tables: ${leftovers.map((t) => t.name).join(', ')}`);
  if (amcheck) {
    for (const i of indexes) {
      try {
        // A partitioned index has no pages of its own: each partition's index is checked (a plain one is its own leaf).
        await client.query('SELECT bt_index_check(relid, true) FROM pg_partition_tree($1::regclass) WHERE isleaf', [i.oid]);
      } catch (err) {
        problems.push(`amcheck ${i.name}: ${(err as Error).message}`);
      }
    }
  }
  const { rows: size } = await client.query<{ heap: string; total: string }>(TABLE_SIZE_SQL, [table]);
  return {
    correct: problems.length === 0,
    problems,
    liveRows: Number(actual.rows),
    ...(actualIdType === undefined ? {} : { idType: actualIdType }),
    heapBytes: Number(size[0]!.heap),
    totalBytes: Number(size[0]!.total),
  };
}

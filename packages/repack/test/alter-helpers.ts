import type pg from 'pg';
import { expect } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import type { PausePoint, RepackResult } from '../src/index.js';
import type { ColumnInfo } from '../src/table-info.js';
import type { ReorderColumn } from '../src/alter-reorder-sql.js';
import { diffTable, type Writer } from './workload.js';

/** A live column of the empty shadow, as `reorderStatements` takes it, for the pure `--column-order` tests. */
export const shadowCol = (attnum: number, name: string, more: Partial<ReorderColumn> = {}): ReorderColumn => ({
  attnum,
  name,
  type: 'integer',
  collation: null,
  default: null,
  notNull: false,
  identity: '',
  sequence: null,
  generated: '',
  expression: null,
  uses: [],
  storage: null,
  compression: null,
  comment: null,
  ...more,
});

/** A live column of `TableInfo` for the pure `--alter` tests. */
export const col = (attnum: number, name: string, type = 'integer', more: Partial<ColumnInfo> = {}): ColumnInfo => ({
  attnum,
  name,
  type,
  dropped: false,
  notNull: false,
  generated: false,
  virtual: false,
  identity: false,
  ...more,
});

/** The PgToolsError `fn` throws. */
export function refusal(fn: () => unknown): PgToolsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PgToolsError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

/** The one table's run went through under the writer: repacked, the writer's changes in the log, the content the writer expects. */
export async function expectRepackedUnderWriter(pool: pg.Pool, result: RepackResult, writer: Writer, table: string): Promise<RepackResult['tables'][number]> {
  const t = result.tables[0]!;
  expect(t.message ?? '').toBe('');
  expect(t.status).toBe('repacked');
  expect(writer.errors).toEqual([]);
  expect(t.log.entries).toBeGreaterThan(0);
  expect(await diffTable(pool, table, writer.expected)).toEqual([]);
  return t;
}

/** Helpers of the `--alter` integration tests, over the pool the test file makes in its beforeAll. */
export function alterHelpers(pool: () => pg.Pool) {
  return {
    /** The writer's table shape (workload.ts), with an int key and an extra column the writer never touches. */
    async createTable(name: string, rows: number): Promise<string> {
      await pool().query(`CREATE TABLE public.${name} (id int PRIMARY KEY, a int, b text, c jsonb, extra text DEFAULT 'x')`);
      await pool().query(`CREATE INDEX ON public.${name} (a)`);
      await pool().query(
        `INSERT INTO public.${name} (id, a, b, c) SELECT g, g % 1000, 'row ' || g, jsonb_build_object('g', g) FROM generate_series(1, $1::int) g`,
        [rows],
      );
      await pool().query(`VACUUM ANALYZE public.${name}`);
      return `public.${name}`;
    },

    async columnTypes(table: string): Promise<Record<string, string>> {
      const { rows } = await pool().query<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [table],
      );
      return Object.fromEntries(rows.map((r) => [r.name, r.type]));
    },

    /** Objects the tool left in its schema, and capture triggers on user tables. */
    async leftovers(): Promise<string[]> {
      const { rows } = await pool().query<{ what: string }>(
        `SELECT c.relname AS what FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgtools'
     UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE '!pgtools%'`,
      );
      return rows.map((r) => r.what);
    },
  };
}

/** Slows every phase boundary so the writer's changes land in the copy, the apply and the swap's drain. */
export const slow: (point: PausePoint) => Promise<void> = () => new Promise((r) => setTimeout(r, 150));

import type pg from 'pg';
import type { PausePoint } from '../src/index.js';

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

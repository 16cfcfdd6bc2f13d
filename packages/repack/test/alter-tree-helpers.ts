import type pg from 'pg';
import { seededRandom } from './workload.js';

/** A writer on a partitioned `events (id, p, a, b)` whose rows live in partition `p = id % 3`: inserts, updates, key changes (which move rows between partitions), deletes. Keys up to `spare` are left alone (other tables reference them). */
export interface TreeWriter {
  stop(): Promise<void>;
  expected: Map<string, { a: number | null; b: string | null }>;
  errors: Error[];
  commits: number;
}

export function startTreeWriter(pool: pg.Pool, table: string, options: { nextId: number; spare: number; seed?: number; pauseMs?: number }): TreeWriter {
  let running = true;
  const rand = seededRandom(options.seed ?? 11);
  const expected = new Map<string, { a: number | null; b: string | null }>();
  const errors: Error[] = [];
  let nextId = options.nextId;
  let commits = 0;
  const state = { commits };
  const loop = (async () => {
    const client = await pool.connect();
    try {
      const { rows } = await client.query(`SELECT id::text, a, b FROM ${table}`);
      for (const r of rows) expected.set(r.id, { a: r.a, b: r.b });
      while (running) {
        const keys = [...expected.keys()].filter((k) => Number(k) > options.spare);
        const pick = (): string => keys[Math.floor(rand() * keys.length)]!;
        const op = rand();
        try {
          await client.query('BEGIN');
          let change: () => void;
          if (op < 0.35 || keys.length === 0) {
            const id = nextId++;
            const a = Math.floor(rand() * 1000);
            await client.query(`INSERT INTO ${table} (id, p, a, b) VALUES ($1, $2, $3, $4)`, [id, id % 3, a, `v${id}`]);
            change = () => expected.set(String(id), { a, b: `v${id}` });
          } else if (op < 0.6) {
            const id = pick();
            const a = rand() < 0.2 ? null : Math.floor(rand() * 1000);
            await client.query(`UPDATE ${table} SET a = $2, b = $3 WHERE id = $1`, [id, a, a === null ? null : `u${a}`]);
            change = () => expected.set(id, { a, b: a === null ? null : `u${a}` });
          } else if (op < 0.8) {
            // A key change: the row moves to another partition.
            const id = pick();
            const to = nextId++;
            await client.query(`UPDATE ${table} SET id = $2, p = $3 WHERE id = $1`, [id, to, to % 3]);
            change = () => {
              const row = expected.get(id)!;
              expected.delete(id);
              expected.set(String(to), row);
            };
          } else {
            const id = pick();
            await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
            change = () => expected.delete(id);
          }
          await client.query('COMMIT');
          change();
          state.commits++;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          errors.push(err as Error);
        }
        await new Promise((r) => setTimeout(r, options.pauseMs ?? 1));
      }
    } finally {
      client.release();
    }
  })();
  return {
    expected,
    errors,
    get commits() {
      return state.commits;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Differences between the table and the writer's expectation, rows in the wrong partition included. */
export async function diffTree(pool: pg.Pool, table: string, expected: TreeWriter['expected']): Promise<string[]> {
  const { rows } = await pool.query(`SELECT id::text, p, a, b, tableoid::regclass::text AS leaf FROM ${table}`);
  const diffs: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.id)) diffs.push(`duplicate ${r.id}`);
    seen.add(r.id);
    if (Number(r.p) !== Number(r.id) % 3) diffs.push(`row ${r.id} has p ${r.p}`);
    const e = expected.get(r.id);
    if (!e) diffs.push(`unexpected row ${r.id}`);
    else if (e.a !== r.a || e.b !== r.b) diffs.push(`row ${r.id}: expected ${JSON.stringify(e)} got ${JSON.stringify({ a: r.a, b: r.b })}`);
  }
  for (const id of expected.keys()) if (!seen.has(id)) diffs.push(`missing row ${id}`);
  return diffs;
}

/** `public.<name>`: partitioned by range on p, leaves `<name>_0..2`, key (id, p), an index on a, `rows` rows. */
export async function createTree(pool: pg.Pool, name: string, rows: number): Promise<string> {
  await pool.query(`CREATE TABLE public.${name} (id int NOT NULL, p int NOT NULL, a int, b text, PRIMARY KEY (id, p)) PARTITION BY RANGE (p)`);
  for (const i of [0, 1, 2]) await pool.query(`CREATE TABLE public.${name}_${i} PARTITION OF public.${name} FOR VALUES FROM (${i}) TO (${i + 1})`);
  await pool.query(`CREATE INDEX ON public.${name} (a)`);
  await pool.query(`INSERT INTO public.${name} SELECT g, g % 3, g % 1000, 'v' || g FROM generate_series(1, $1::int) g`, [rows]);
  await pool.query(`VACUUM ANALYZE public.${name}`);
  return `public.${name}`;
}

/** Each relation of the tree with the type of `column`. */
export async function treeTypes(pool: pg.Pool, table: string, column: string): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ rel: string; type: string }>(
    `SELECT c.oid::regclass::text AS rel, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_partition_tree($1::regclass) t JOIN pg_class c ON c.oid = t.relid JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $2
      ORDER BY 1`,
    [table, column],
  );
  return Object.fromEntries(rows.map((r) => [r.rel, r.type]));
}

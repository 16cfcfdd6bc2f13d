import type pg from 'pg';

/**
 * A writer that runs random INSERT / UPDATE (including key changes and NULLs) / DELETE /
 * delete-then-reinsert on `t(id bigint primary key, a int, b text, c jsonb)` and keeps the
 * expected table content itself, so the test can compare after the repack.
 */
export interface Writer {
  stop(): Promise<void>;
  expected: Map<string, { a: number | null; b: string | null }>;
  commits: number[];
  latencies: number[];
  errors: Error[];
}

/** A repeatable pseudo-random sequence in [0, 1] (a linear congruential generator): the writers' runs can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

export function startWriter(pool: pg.Pool, table: string, options: { seed?: number; nextId: number; pauseMs?: number; bigText?: boolean }): Writer {
  let running = true;
  const rand = seededRandom(options.seed ?? 42);
  const expected = new Map<string, { a: number | null; b: string | null }>();
  const commits: number[] = [];
  const latencies: number[] = [];
  const errors: Error[] = [];
  let nextId = options.nextId;
  const text = (n: number): string => (options.bigText && rand() < 0.3 ? `big-${n}-`.repeat(400) : `v${n}`);

  const loop = (async () => {
    const client = await pool.connect();
    try {
      const { rows } = await client.query(`SELECT id::text, a, b FROM ${table}`);
      for (const r of rows) expected.set(r.id, { a: r.a, b: r.b });
      while (running) {
        const keys = [...expected.keys()];
        const pick = (): string | undefined => keys[Math.floor(rand() * keys.length)];
        const op = rand();
        const t0 = Date.now();
        try {
          await client.query('BEGIN');
          const changes: Array<() => void> = [];
          if (op < 0.3 || keys.length === 0) {
            const id = String(nextId++);
            const a = rand() < 0.2 ? null : Math.floor(rand() * 1000);
            const b = text(nextId);
            await client.query(`INSERT INTO ${table} (id, a, b, c) VALUES ($1, $2, $3, $4)`, [id, a, b, JSON.stringify({ n: nextId })]);
            changes.push(() => expected.set(id, { a, b }));
          } else if (op < 0.55) {
            const id = pick()!;
            const a = rand() < 0.3 ? null : Math.floor(rand() * 1000);
            const b = rand() < 0.3 ? null : text(nextId);
            await client.query(`UPDATE ${table} SET a = $2, b = $3 WHERE id = $1`, [id, a, b]);
            changes.push(() => expected.set(id, { a, b }));
          } else if (op < 0.7) {
            // Primary key change.
            const id = pick()!;
            const newId = String(nextId++);
            await client.query(`UPDATE ${table} SET id = $2 WHERE id = $1`, [id, newId]);
            changes.push(() => {
              const row = expected.get(id)!;
              expected.delete(id);
              expected.set(newId, row);
            });
          } else if (op < 0.85) {
            const id = pick()!;
            await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
            changes.push(() => expected.delete(id));
          } else if (op < 0.95) {
            // Delete then re-insert the same key in one transaction.
            const id = pick()!;
            const b = text(nextId);
            await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
            await client.query(`INSERT INTO ${table} (id, a, b) VALUES ($1, $2, $3)`, [id, -1, b]);
            changes.push(() => expected.set(id, { a: -1, b }));
          } else {
            // A rolled-back change leaves nothing.
            const id = pick()!;
            await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
            await client.query('ROLLBACK');
            latencies.push(Date.now() - t0);
            continue;
          }
          await client.query('COMMIT');
          for (const c of changes) c();
          commits.push(Date.now());
          latencies.push(Date.now() - t0);
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          errors.push(err as Error);
        }
        if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
    } finally {
      client.release();
    }
  })();

  return {
    expected,
    commits,
    latencies,
    errors,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Compares the table with the writer's expected content; returns the differences (empty when equal). */
export async function diffTable(pool: pg.Pool, table: string, expected: Writer['expected']): Promise<string[]> {
  const { rows } = await pool.query(`SELECT id::text, a, b FROM ${table}`);
  const diffs: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.id)) diffs.push(`duplicate ${r.id}`);
    seen.add(r.id);
    const e = expected.get(r.id);
    if (!e) diffs.push(`unexpected row ${r.id}`);
    else if (e.a !== r.a || e.b !== r.b)
      diffs.push(`row ${r.id}: expected ${JSON.stringify(e).slice(0, 80)} got ${JSON.stringify({ a: r.a, b: r.b }).slice(0, 80)}`);
  }
  for (const id of expected.keys()) if (!seen.has(id)) diffs.push(`missing row ${id}`);
  return diffs;
}

import type pg from 'pg';
import { quoteIdent, quoteQualified, sqlStateOf } from '@pgtools/core';

/** A table shape for the torture test. */
export interface Shape {
  label: string;
  schema: string;
  table: string;
  /** DDL run before the capture exists. */
  setup: string[];
  keyColumns: string[];
  /** Maps an integer to a key; injective, also for negative integers (temporary keys). */
  keyOf: (i: number) => unknown[];
  /** Non-key columns the workload writes. */
  cols: Array<{ name: string; gen: (rnd: Rng) => unknown; nullable: boolean }>;
  /** Single integer key: range shifts also run as two multi-row statements. */
  intKey?: string;
}

export type Rng = () => number;

/** mulberry32: small seeded PRNG so a failing run can be replayed (up to interleavings). */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const int = (rnd: Rng, lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));

const EXPECTED = new Set(['23505', '40P01', '40001']);

export interface WorkloadCounts {
  committed: number;
  rolledBack: number;
  failed: Record<string, number>;
  keyChanges: number;
}

class Sql {
  constructor(readonly shape: Shape) {}
  get t(): string {
    return quoteQualified(this.shape.schema, this.shape.table);
  }
  keyWhere(from: number): string {
    return this.shape.keyColumns.map((k, i) => `${quoteIdent(k)} = $${from + i}`).join(' AND ');
  }
  keySet(from: number): string {
    return this.shape.keyColumns.map((k, i) => `${quoteIdent(k)} = $${from + i}`).join(', ');
  }
  insert(key: number, rnd: Rng): [string, unknown[]] {
    const cols = [...this.shape.keyColumns, ...this.shape.cols.map((c) => c.name)];
    const vals = [...this.shape.keyOf(key), ...this.shape.cols.map((c) => (c.nullable && rnd() < 0.15 ? null : c.gen(rnd)))];
    return [`INSERT INTO ${this.t} (${cols.map(quoteIdent).join(', ')}) VALUES (${vals.map((_, i) => `$${i + 1}`).join(', ')})`, vals];
  }
  update(key: number, rnd: Rng, nulls: boolean): [string, unknown[]] {
    const picked = this.shape.cols.filter((c) => rnd() < 0.5 && (!nulls || c.nullable));
    const cols = picked.length > 0 ? picked : this.shape.cols.slice(0, 1);
    const vals = cols.map((c) => (nulls && c.nullable ? null : c.gen(rnd)));
    const k = this.shape.keyOf(key);
    return [
      `UPDATE ${this.t} SET ${cols.map((c, i) => `${quoteIdent(c.name)} = $${i + 1}`).join(', ')} WHERE ${this.keyWhere(cols.length + 1)}`,
      [...vals, ...k],
    ];
  }
  changeKey(from: number, to: number): [string, unknown[]] {
    const n = this.shape.keyColumns.length;
    return [`UPDATE ${this.t} SET ${this.keySet(1)} WHERE ${this.keyWhere(n + 1)}`, [...this.shape.keyOf(to), ...this.shape.keyOf(from)]];
  }
  delete(key: number): [string, unknown[]] {
    return [`DELETE FROM ${this.t} WHERE ${this.keyWhere(1)}`, this.shape.keyOf(key)];
  }
}

/**
 * Random transactions on the table from one connection until `until` (epoch ms): inserts, updates,
 * NULLs, key changes, key swaps, range shifts, deletes, delete-and-reinsert, insert-delete-insert,
 * savepoints and rollbacks. Conflicts between workers (unique violations, deadlocks) roll back.
 */
export async function runWorker(client: pg.PoolClient, shape: Shape, seed: number, keySpace: number, until: number): Promise<WorkloadCounts> {
  const rnd = rng(seed);
  const sql = new Sql(shape);
  const counts: WorkloadCounts = { committed: 0, rolledBack: 0, failed: {}, keyChanges: 0 };
  const q = async ([text, params]: [string, unknown[]]) => client.query(text, params);
  const key = () => int(rnd, 1, keySpace);
  while (Date.now() < until) {
    const kind = int(rnd, 0, 12);
    const rollback = rnd() < 0.08;
    let changesKey = false;
    try {
      await client.query('BEGIN');
      switch (kind) {
        case 0:
        case 1:
          await q(sql.insert(key(), rnd));
          break;
        case 2:
          await q(sql.update(key(), rnd, false));
          break;
        case 3:
          await q(sql.update(key(), rnd, true));
          break;
        case 4:
          await q(sql.changeKey(key(), key()));
          changesKey = true;
          break;
        case 5: {
          // Swap the keys of two rows through a temporary key.
          const a = key();
          const b = key();
          if (a === b) break;
          const tmp = -a - 10 * keySpace;
          await q(sql.changeKey(a, tmp));
          await q(sql.changeKey(b, a));
          await q(sql.changeKey(tmp, b));
          changesKey = true;
          break;
        }
        case 6: {
          // Shift a range of keys by +1.
          const lo = key();
          const hi = lo + int(rnd, 1, 5);
          if (shape.intKey && rnd() < 0.5) {
            const k = quoteIdent(shape.intKey);
            await client.query(`UPDATE ${sql.t} SET ${k} = -${k} - 1 WHERE ${k} BETWEEN $1 AND $2`, [lo, hi]);
            await client.query(`UPDATE ${sql.t} SET ${k} = -${k} WHERE ${k} BETWEEN $1 AND $2`, [-(hi + 1), -(lo + 1)]);
          } else {
            for (let j = hi; j >= lo; j--) await q(sql.changeKey(j, j + 1));
          }
          changesKey = true;
          break;
        }
        case 7:
          await q(sql.delete(key()));
          break;
        case 8: {
          const k = key();
          await q(sql.delete(k));
          await q(sql.insert(k, rnd));
          break;
        }
        case 9: {
          const k = key();
          await q(sql.insert(k, rnd));
          await q(sql.delete(k));
          await q(sql.insert(k, rnd));
          break;
        }
        case 10: {
          // Several rows in one statement.
          const ks = [key(), key(), key()];
          const c = shape.cols[int(rnd, 0, shape.cols.length - 1)]!;
          const where = ks.map((k, i) => `(${sql.keyWhere(2 + i * shape.keyColumns.length)})`).join(' OR ');
          await client.query(`UPDATE ${sql.t} SET ${quoteIdent(c.name)} = $1 WHERE ${where}`, [c.gen(rnd), ...ks.flatMap((k) => shape.keyOf(k))]);
          break;
        }
        case 11: {
          const k = key();
          await q(sql.update(k, rnd, false));
          await client.query('SAVEPOINT s');
          await q(sql.changeKey(k, key()));
          await q(sql.delete(key()));
          await client.query('ROLLBACK TO SAVEPOINT s');
          await q(sql.update(k, rnd, true));
          break;
        }
        default: {
          const k = key();
          await q(sql.delete(k));
          await q(sql.changeKey(key(), k));
          changesKey = true;
        }
      }
      if (rollback) {
        await client.query('ROLLBACK');
        counts.rolledBack++;
      } else {
        await client.query('COMMIT');
        counts.committed++;
        if (changesKey) counts.keyChanges++;
      }
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      const code = sqlStateOf(err) ?? 'unknown';
      if (!EXPECTED.has(code)) throw err;
      counts.failed[code] = (counts.failed[code] ?? 0) + 1;
    }
  }
  return counts;
}

/** Fills keys 1..n with random rows (before the capture). */
export async function fill(client: pg.PoolClient, shape: Shape, n: number, seed: number): Promise<void> {
  const rnd = rng(seed);
  const sql = new Sql(shape);
  for (let k = 1; k <= n; k++) {
    const [text, params] = sql.insert(k, rnd);
    await client.query(text, params);
  }
}

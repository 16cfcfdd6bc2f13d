import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres } from '@pgtools/testkit';
import { DATABASE_CHECK_SQL, databaseScaleStatements } from '../src/database-scale.js';
import { manyTablesStatements, runManyTables } from '../src/many-tables.js';

// The --database-scale scenario end to end at a small size: the built pgtools-repack CLI (one and two
// tables at once) and pg_repack -d repack a whole database under the fixed-rate load, and every
// table holds exactly what the acknowledged updates made it (runManyTables throws otherwise).
describe('the database-scale scenario on a real server', () => {
  it('repacks the whole database under the load, every acknowledged update kept, and measures the load and the locks', async () => {
    const lines: string[] = [];
    const load = { tps: 100, clients: 2, threads: 1, warmupS: 1, tailS: 1, lockSampleMs: 5 };
    const options = { tables: 4, rows: 4000, bigTables: 1, bigRows: 20000, runs: 1, tableJobs: [1, 2], pgRepack: true, load };
    const rows = await runManyTables(options, (l) => lines.push(l));
    expect(rows.map((r) => r.contender).slice(0, 2)).toEqual(['pgtools --table-jobs 1', 'pgtools --table-jobs 2']);
    for (const r of rows) {
      const [m] = r.load;
      expect(m, r.contender).toBeDefined();
      expect(m!.mismatches).toEqual([]);
      expect(m!.transactions, r.contender).toBeGreaterThan(0);
      // Every transaction pgbench logged as done bumped one existing row: the touch function hits only kept ids.
      expect(m!.ledgerUpdates).toBeGreaterThanOrEqual(m!.loggedTransactions);
      expect(m!.ledgerUpdates).toBeLessThanOrEqual(m!.loggedTransactions + load.clients);
      expect(m!.p99Ms).toBeGreaterThan(0);
    }
    // pgtools' own report and the pg_locks sampler both saw its swaps take ACCESS EXCLUSIVE.
    expect(rows[0]!.maxHoldMs[0]).toBeGreaterThan(0);
    console.log(`[measure] database-scale (small): ${lines.filter((l) => l.startsWith('run ')).join(' | ')}`);
  }, 240_000);

  it('the check catches a change no acknowledged update made, and a lost row (negative control)', async () => {
    const cluster = await startPostgres({ name: 'db-scale-check' });
    const db = await cluster.createDatabase();
    const client = new pg.Client(db.config);
    await client.connect();
    try {
      const shape = { tables: 2, rows: 100, bigTables: 1, bigRows: 300 };
      for (const sql of [...manyTablesStatements(shape.tables, shape.rows, shape.bigTables, shape.bigRows), ...databaseScaleStatements(shape)]) {
        await client.query(sql);
      }
      for (const [pick, r] of [
        [1, 5],
        [2, 7],
        [3, 120],
        [3, 121],
        [1, 5],
      ])
        await client.query('SELECT public.bench_touch($1, $2)', [pick, r]);
      expect((await client.query('SELECT tbl, count(*)::int AS n FROM public.bench_ledger GROUP BY tbl ORDER BY tbl')).rows).toEqual([
        { tbl: 'big1', n: 2 },
        { tbl: 't001', n: 2 },
        { tbl: 't002', n: 1 },
      ]);
      expect((await client.query(DATABASE_CHECK_SQL)).rows).toEqual([]);
      await client.query('UPDATE public.t002 SET account = account + 1 WHERE id = 1');
      await client.query('DELETE FROM public.big1 WHERE id = 3');
      expect((await client.query<{ line: string }>(DATABASE_CHECK_SQL)).rows.map((r) => r.line)).toEqual([
        expect.stringMatching(/^big1: 149 rows and account sum \d+, expected 150 and \d+$/),
        expect.stringMatching(/^t002: 50 rows/),
      ]);
    } finally {
      await client.end();
      await cluster.destroy();
    }
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster } from '@pgtools/testkit';
import { repack } from '../src/index.js';
import { CATCH_UP_ROUNDS } from '../src/catch-up.js';
import { diffTable, startWriter } from './workload.js';

// Writers that never pause: every replay round finds new entries, so "below switchThreshold" alone
// would never come while they write (src/catch-up.ts).
let cluster: PgCluster;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-steady-load' });
  pool = (await cluster.createDatabase()).pool({ max: 8 });
});
afterAll(async () => {
  await pool?.end();
  await cluster?.destroy();
});

/** Inserts and deletes its own row in one transaction, as fast as it can: two log entries, no net change. */
function churn(table: string, id: number): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    const client = await pool.connect();
    try {
      while (running) await client.query(`BEGIN; INSERT INTO ${table} (id, a, b) VALUES (${id}, 0, 'churn'); DELETE FROM ${table} WHERE id = ${id}; COMMIT`);
    } finally {
      client.release();
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('a repack under writers that never pause', () => {
  it.each(['catalog', 'rename'] as const)('finishes while they still write, every row as written (%s)', async (swap) => {
    const t = `steady_${swap}`;
    await pool.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
    await pool.query(`INSERT INTO ${t} SELECT g, g, 'r' || g, NULL FROM generate_series(1, 20000) g`);
    await pool.query(`DELETE FROM ${t} WHERE id % 2 = 0`);
    const writer = startWriter(pool, t, { nextId: 100_000 });
    const churners = [churn(t, 1_000_000_001), churn(t, 1_000_000_002)];
    let writing = true;
    // Bounded: the writers stop by themselves after a minute, so a run that waits for them still ends.
    const cutoff = setTimeout(() => {
      writing = false;
      void Promise.all([writer.stop(), ...churners.map((c) => c.stop())]);
    }, 60_000);
    let finishedWhileWriting = false;
    try {
      let applyRounds = 0;
      const result = await repack(pool, {
        table: t,
        swap,
        switchThreshold: 1,
        onEvent: (e) => {
          if (e.type === 'apply-progress') applyRounds++;
        },
      });
      finishedWhileWriting = writing;
      expect(result.tables[0]!.status).toBe('repacked');
      expect(result.tables[0]!.log.entries).toBeGreaterThan(0);
      // Not left to luck: once past CATCH_UP_ROUNDS the writers keep pace, and the apply phase stops
      // at the first round where they do (a round that happens to catch fewer writes goes on).
      console.log(`[measure] steady load (${swap}): ${applyRounds} apply rounds, ${result.tables[0]!.log.entries} log entries`);
      expect(applyRounds).toBeLessThanOrEqual(CATCH_UP_ROUNDS + 5);
    } finally {
      clearTimeout(cutoff);
      await Promise.all([writer.stop(), ...churners.map((c) => c.stop())]);
    }
    expect(finishedWhileWriting, 'the repack finished while the writers were still writing').toBe(true);
    expect(writer.errors).toEqual([]);
    expect(await diffTable(pool, t, writer.expected)).toEqual([]);
  });
});

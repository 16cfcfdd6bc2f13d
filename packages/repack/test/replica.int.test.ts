import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startPostgres, waitFor, type PgCluster } from '@pgtools/testkit';
import { repack } from '../src/index.js';
import { diffTable, startWriter } from './workload.js';

let primary: PgCluster;
let replica: PgCluster;
let pool: pg.Pool;
let dbName: string;

beforeAll(async () => {
  primary = await startPostgres({ name: 'repack-primary', settings: { wal_level: 'replica', max_wal_senders: 5 } });
  const db = await primary.createDatabase();
  dbName = db.name;
  pool = db.pool({ max: 8 });
  replica = await startPostgres({ name: 'repack-replica', replicaOf: primary });
});
afterAll(async () => {
  await replica?.destroy();
  await primary?.destroy();
});

async function contentHash(cluster: PgCluster, table: string): Promise<string> {
  const client = await import('pg').then((m) => new m.default.Client(cluster.clientConfig(dbName)));
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h, count(*)::int AS n FROM ${table} t`);
    return `${rows[0].n}:${rows[0].h}`;
  } finally {
    await client.end();
  }
}

describe.each(['catalog', 'rename'] as const)('a streaming replica during a repack (--swap=%s)', (swap) => {
  it('ends with the same content as the primary', async () => {
    const table = `replicated_${swap}`;
    await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, a int, b text, c jsonb)`);
    await pool.query(`INSERT INTO ${table} SELECT g, g, repeat('r', 50) || g, NULL FROM generate_series(1, 20000) g`);
    await pool.query(`DELETE FROM ${table} WHERE id % 2 = 0`);
    const writer = startWriter(pool, table, { nextId: 1_000_000, pauseMs: 1 });
    const result = await repack(pool, { table, swap, switchThreshold: 5, copyChunkPages: 32, pausePoint: () => new Promise((r) => setTimeout(r, 100)) });
    await writer.stop();
    expect(result.tables[0]!.status).toBe('repacked');
    expect(await diffTable(pool, table, writer.expected)).toEqual([]);
    const { rows } = await primary.query('SELECT pg_current_wal_lsn()::text AS lsn');
    await waitFor(
      async () => {
        const r = await replica.query(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught_up`, [rows[0]!.lsn]);
        return r.rows[0]?.caught_up === true;
      },
      { timeoutMs: 30_000, describe: () => 'replica replay' },
    );
    expect(await contentHash(replica, table)).toBe(await contentHash(primary, table));
    // The replica reads through the new indexes as well.
    const client = new (await import('pg')).default.Client(replica.clientConfig(dbName));
    await client.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const some = [...writer.expected.keys()].slice(0, 20);
      const { rows: found } = await client.query(`SELECT count(*)::int AS n FROM ${table} WHERE id = ANY($1::bigint[])`, [some]);
      expect(found[0].n).toBe(some.length);
    } finally {
      await client.end();
    }
  });
});

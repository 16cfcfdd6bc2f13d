import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgCluster, type TestDatabase } from '@pgtools/testkit';
import { repack } from '../src/index.js';

let cluster: PgCluster;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'repack-rls' });
  db = await cluster.createDatabase();
  pool = db.pool();
  await pool.query(`CREATE ROLE app_owner LOGIN`);
  await pool.query(`GRANT CREATE ON SCHEMA public TO app_owner`);
  await pool.query(`GRANT CREATE ON DATABASE "${db.name}" TO app_owner`);
});
afterAll(async () => {
  await cluster?.destroy();
});

describe('row-level security', () => {
  it('a table whose policies would filter rows for its owner is never copied partially', async () => {
    const owner = new pg.Pool({ ...db.config, user: 'app_owner' });
    try {
      await owner.query(`CREATE TABLE secret (id int PRIMARY KEY, tenant int)`);
      await owner.query(`INSERT INTO secret SELECT g, g % 3 FROM generate_series(1, 300) g`);
      await owner.query(`ALTER TABLE secret ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
      await owner.query(`CREATE POLICY only_tenant_0 ON secret USING (tenant = 0)`);
      const result = await repack(owner, { table: 'secret', swap: 'rename' });
      expect(result.tables[0]!.status).toBe('failed');
      expect(result.tables[0]!.message).toMatch(/row-level security/);
      // Nothing was lost or swapped: the superuser still sees all 300 rows in the original table.
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM secret`);
      expect(rows[0].n).toBe(300);
      const { rows: left } = await pool.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'secret'::regclass AND NOT tgisinternal`);
      expect(left[0].n).toBe(0);
    } finally {
      await owner.end();
    }
  });

  it('a superuser copies every row of a table with RLS', async () => {
    await pool.query(`CREATE TABLE secret2 (id int PRIMARY KEY, tenant int)`);
    await pool.query(`INSERT INTO secret2 SELECT g, g % 3 FROM generate_series(1, 300) g`);
    await pool.query(`ALTER TABLE secret2 ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
    await pool.query(`CREATE POLICY none ON secret2 USING (false)`);
    const result = await repack(pool, { table: 'secret2', swap: 'catalog' });
    expect(result.tables[0]!.status).toBe('repacked');
    expect(result.tables[0]!.rowsCopied).toBe(300);
  });
});

import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serverUser, startPostgres, testPgVersions } from '../src/index.js';

describe.each(testPgVersions())('startPostgres on PostgreSQL %i', (version) => {
  it('runs that major with amcheck and pgstattuple, as a non-root user', async () => {
    const cluster = await startPostgres({ version, name: `v${version}` });
    try {
      expect(cluster.version).toBe(version);
      const { rows } = await cluster.query<{ major: number }>("SELECT current_setting('server_version_num')::int / 10000 AS major");
      expect(rows[0]?.major).toBe(version);
      await cluster.query('CREATE EXTENSION amcheck; CREATE EXTENSION pgstattuple');
      expect(statSync(cluster.dataDir).uid).toBe(serverUser()?.uid ?? process.getuid?.());
      // A kill and a start again: the tests that kill servers need this on every major.
      await cluster.stopServer('immediate');
      await cluster.start();
      expect((await cluster.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    } finally {
      await cluster.destroy();
    }
  });
});

describe.each(testPgVersions().filter((v) => v !== 15))('startPostgres on PostgreSQL %i without client tools', (version) => {
  it('refuses replicaOf, which needs pg_basebackup of the same major', async () => {
    await expect(startPostgres({ version, replicaOf: {} as never })).rejects.toThrow(/pg_basebackup of PostgreSQL/);
  });
});

import pg from 'pg';
import { isPool, type PoolOrConfig } from '@pgtools/core';
import type { ConnectionSource } from './repack-table.js';

/**
 * Dedicated connections from the caller's pool, or new clients from a configuration.
 * A client whose connection broke is destroyed rather than returned to the pool.
 */
export function connectionSource(db: PoolOrConfig): ConnectionSource & { end(): Promise<void> } {
  if (isPool(db)) {
    return {
      connect: () => db.connect(),
      async release(client, destroy = false) {
        // Hand the caller's connection back as we found it: our SETs (search_path, timeouts,
        // row_security) must not leak into the application's sessions.
        if (!destroy) destroy = !(await client.query('RESET ALL').then(() => true, () => false));
        (client as pg.PoolClient).release(destroy ? true : undefined);
      },
      async end() {},
    };
  }
  const open = new Set<pg.Client>();
  return {
    async connect() {
      const client = new pg.Client(db);
      // A terminated backend must not crash the process; the phase using it sees the error.
      client.on('error', () => {});
      await client.connect();
      open.add(client);
      return client;
    },
    async release(client) {
      open.delete(client as pg.Client);
      await (client as pg.Client).end().catch(() => {});
    },
    async end() {
      await Promise.all([...open].map((c) => c.end().catch(() => {})));
      open.clear();
    },
  };
}

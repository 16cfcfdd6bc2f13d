import pg from 'pg';
import { wrapPgError } from '@pgtools/core';

/** How the agent reaches a PostgreSQL server: its own (local) or another member's. */
export interface PgEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string | undefined;
  database?: string;
}

/**
 * Runs `body` on a short-lived connection. A fresh connection per loop costs a few milliseconds
 * and never leaves a broken pooled client behind after a crash or a restart.
 *
 * @example
 * ```ts
 * import { withConnection } from '@pgtools/ha-agent/internals';
 * const inRecovery = await withConnection({ host: '127.0.0.1', port: 5432, user: 'postgres' },
 *   async (c) => (await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r);
 * ```
 */
export async function withConnection<T>(endpoint: PgEndpoint, body: (client: pg.Client) => Promise<T>, timeoutMs = 5000): Promise<T> {
  const client = new pg.Client({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    database: endpoint.database ?? 'postgres',
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: 0,
    application_name: 'pgtools-ha-agent',
    ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    // The connect error is the one to report; closing a client that never connected adds nothing.
    await client.end().catch(() => undefined);
    throw wrapPgError(err, 'postgres_unreachable', `connecting to ${endpoint.host}:${endpoint.port}`);
  }
  try {
    return await body(client);
  } finally {
    // The body's result or error is what matters; a failed close only means the server went first.
    await client.end().catch(() => undefined);
  }
}

/**
 * A libpq connection string from key/value pairs (values quoted as libpq wants).
 *
 * @example
 * ```ts
 * import { conninfo } from '@pgtools/ha-agent/internals';
 * conninfo({ host: '10.0.0.1', port: 5432, user: 'replicator', application_name: 'node2' });
 * // "host='10.0.0.1' port='5432' user='replicator' application_name='node2'"
 * ```
 */
export function conninfo(params: Record<string, string | number | undefined>): string {
  return Object.entries(params)
    .filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}='${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
    .join(' ');
}

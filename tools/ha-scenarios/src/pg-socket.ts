import pg from 'pg';

/** A PostgreSQL reachable through a unix socket: `<socketDir>/.s.PGSQL.<port>`. */
export interface SocketTarget {
  socketDir: string;
  port: number;
}

/**
 * A connected client on a unix socket (user and password `postgres`; the suite's pg_hba trusts
 * local connections). Errors after connecting are swallowed: callers see them on their next query.
 *
 * @example
 * ```ts
 * import { connectSocket } from '@pgtools/ha-scenarios';
 * const c = await connectSocket({ socketDir: node.socketDir, port: 5432 }, 'probe');
 * ```
 */
export async function connectSocket(target: SocketTarget, applicationName: string, timeoutMs = 2000): Promise<pg.Client> {
  const client = new pg.Client({
    host: target.socketDir,
    port: target.port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
    application_name: applicationName,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    dropClient(client);
    throw err;
  }
  return client;
}

/**
 * Closes a client without waiting for a server that may be stopped or gone (destroys the socket).
 *
 * @example
 * ```ts
 * import { dropClient } from '@pgtools/ha-scenarios';
 * dropClient(client);
 * ```
 */
export function dropClient(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  try {
    stream?.destroy();
  } catch {
    // already closed
  }
  client.end().catch(() => undefined);
}

/**
 * One query on a fresh connection through a unix socket, bounded by `timeoutMs`.
 *
 * @example
 * ```ts
 * import { socketQuery } from '@pgtools/ha-scenarios';
 * const [row] = await socketQuery<{ r: boolean }>(target, 'SELECT pg_is_in_recovery() AS r');
 * ```
 */
export async function socketQuery<R extends pg.QueryResultRow>(target: SocketTarget, text: string, params: unknown[] = [], timeoutMs = 3000): Promise<R[]> {
  const client = await connectSocket(target, 'ha-scenarios', timeoutMs);
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    dropClient(client);
  }
}

import { existsSync } from 'node:fs';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import type { PgEndpoint } from './pg-connection.js';
import { fileParameters, splitHostPort } from './server-settings.js';

/**
 * Where libpq looks for the socket when no directory is configured: Debian's build uses
 * /var/run/postgresql, PostgreSQL's own default is /tmp.
 */
export function defaultSocketDir(): string {
  return existsSync('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp';
}

/**
 * The host the agent connects to for its own server, as Patroni's `resolve_connection_addresses`
 * picks it. Over TCP: the first `postgresql.listen` address (a wildcard means loopback). With
 * `use_unix_socket` (or `use_unix_socket_repl`): the first absolute `unix_socket_directories`
 * entry, TCP when none is absolute, `defaultDir` when the setting is absent.
 *
 * @example
 * ```ts
 * import { localHost } from '@pgtools/ha-agent/internals';
 * localHost('0.0.0.0:5432', '@abstract, /run/pg', true, '/tmp'); // '/run/pg'
 * localHost('0.0.0.0:5432', undefined, false, '/tmp'); // '127.0.0.1'
 * ```
 */
export function localHost(listen: string, socketDirs: string | undefined, useSocket: boolean, defaultDir: string): string {
  const host = splitHostPort(listen).host.split(',')[0]?.trim() ?? '';
  const tcp = host === '' || host === '*' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  if (!useSocket) return tcp;
  if (socketDirs === undefined) return defaultDir;
  return (
    socketDirs
      .split(',')
      .map((d) => d.trim())
      .find((d) => d.startsWith('/')) ?? tcp
  );
}

/**
 * How the agent connects to its own server as the superuser or the replication user
 * (`use_unix_socket` / `use_unix_socket_repl`, the local setting over the dynamic one).
 *
 * @example
 * ```ts
 * import { localEndpoint } from '@pgtools/ha-agent/internals';
 * localEndpoint(config, dynamic, 'replication'); // { host: '/run/pg', port: 5432, user: 'replicator', password: '...' }
 * ```
 */
export function localEndpoint(config: HaConfig, dynamic: DynamicConfig, as: 'superuser' | 'replication'): PgEndpoint {
  const pgc = config.postgresql;
  const socket = as === 'superuser' ? (pgc.useUnixSocket ?? dynamic.postgresql.useUnixSocket) : (pgc.useUnixSocketRepl ?? dynamic.postgresql.useUnixSocketRepl);
  const dirs = fileParameters(config, dynamic).unix_socket_directories;
  const host = localHost(pgc.listen, dirs === undefined ? undefined : String(dirs), socket === true, defaultSocketDir());
  const { username, password } = pgc.authentication[as];
  return { host, port: splitHostPort(pgc.listen).port, user: username, password };
}

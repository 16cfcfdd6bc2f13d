import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PgToolsError } from '@pgtools/core';
import type { HaConfig } from '../config/config-types.js';
import { readPidFile } from './postmaster.js';
import { isAlive } from './process-alive.js';
import { splitHostPort } from './server-settings.js';

/**
 * Throws `postgres_port_in_use` when another process listens on `postgresql.listen`'s port (TCP,
 * or the unix socket lock in a configured `unix_socket_directories`) and
 * `postgres_listen_address_unavailable` when its host is not an address of this machine. A
 * postmaster of our own data directory is not a conflict.
 */
export async function checkListenAddress(config: HaConfig, dataDir: string): Promise<void> {
  const own = readPidFile(dataDir);
  const ownPid = own && isAlive(own.pid) ? own.pid : undefined;
  if (ownPid !== undefined) return;
  const { host, port } = splitHostPort(config.postgresql.listen);
  const hosts =
    host === '' || host === '*'
      ? ['0.0.0.0']
      : host
          .split(',')
          .map((h) => h.trim())
          .filter(Boolean);
  for (const h of hosts) {
    const code = await tryBind(h === '*' ? '0.0.0.0' : h, port);
    if (code === 'EADDRINUSE') {
      throw new PgToolsError(
        'postgres_port_in_use',
        `PostgreSQL port ${port} on ${h} is already in use by another process (postgresql.listen is ${config.postgresql.listen}): stop that server (often a distribution's own PostgreSQL: systemctl stop postgresql) or choose another port in postgresql.listen and postgresql.connect_address`,
        { hint: `see who listens there: ss -ltnp 'sport = :${port}'` },
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      throw new PgToolsError(
        'postgres_listen_address_unavailable',
        `postgresql.listen host ${h} is not an address of this machine (${code}): use one of its addresses, or 0.0.0.0 / * for all`,
      );
    }
  }
  const socketDirs = String(config.postgresql.parameters.unix_socket_directories ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '' && !d.startsWith('@'));
  for (const dir of socketDirs) {
    const lock = join(dir, `.s.PGSQL.${port}.lock`);
    const pid = Number((await readFile(lock, 'utf8').catch(() => '')).split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new PgToolsError(
        'postgres_port_in_use',
        `PostgreSQL port ${port} is already in use by another server (pid ${pid}) with its socket in ${dir} (${lock}): stop it, or choose another port in postgresql.listen`,
      );
    }
  }
}

/** Binds and releases `host:port` at once; resolves with the error code, or undefined when it was free. */
function tryBind(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EUNKNOWN'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

import { chown, rm, writeFile } from 'node:fs/promises';
import type { PgEndpoint } from './pg-connection.js';
import type { RunAs } from './run-binary.js';

/**
 * The .pgpass lines for `endpoint` (its host and `localhost`, like Patroni's `_pgpass_content`),
 * with `\` and `:` escaped as libpq wants.
 *
 * @example
 * ```ts
 * import { pgpassContent } from '@pgtools/ha-agent/internals';
 * pgpassContent({ host: '127.0.0.1', port: 5432, user: 'postgres', password: 'a:b' }); // '127.0.0.1:5432:*:postgres:a\\:b\nlocalhost:...'
 * ```
 */
export function pgpassContent(endpoint: PgEndpoint): string {
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  const hosts = [...new Set([endpoint.host, 'localhost'])];
  return hosts.map((h) => `${esc(h)}:${endpoint.port}:*:${esc(endpoint.user)}:${esc(endpoint.password ?? '')}\n`).join('');
}

/**
 * Writes a fresh .pgpass file for `endpoint` (Patroni's `write_pgpass`), mode 0600 and owned by
 * the PostgreSQL OS user: never through a symlink someone left at that path.
 *
 * @example
 * ```ts
 * import { writePgpass } from '@pgtools/ha-agent/internals';
 * await writePgpass('/tmp/pgpass0', { host: '10.0.0.1', port: 5432, user: 'replicator', password: 'x' }, undefined);
 * ```
 */
export async function writePgpass(file: string, endpoint: PgEndpoint, runAs: RunAs | undefined): Promise<void> {
  await rm(file, { force: true });
  await writeFile(file, pgpassContent(endpoint), { mode: 0o600, flag: 'wx' });
  if (runAs) await chown(file, runAs.uid, runAs.gid);
}

import type pg from 'pg';
import { PgToolsError, type PoolOrConfig } from '@pgtools/core';
import type { ConnectionSource } from './connection-source.js';
import { connectionSource } from './connections.js';
import type { SwapMode } from './options.js';

/**
 * The servers a repack is tested on: PostgreSQL 15 to 18 (`server_version_num`). The integration
 * suites run on 15 and on 16-18 (vitest.config.ts, `PGTOOLS_TEST_PG`); older servers lack what the
 * swap and the REINDEX paths rely on, newer ones have catalogs we have not checked.
 */
export const SUPPORTED_SERVER_VERSIONS = { min: 150000, max: 189999 } as const;

/** The server a run talks to, as the dry run shows it. */
export interface ServerInfo {
  /** `server_version_num`, e.g. 150004. */
  versionNum: number;
  /** `server_version`, e.g. `15.4 (Debian 15.4-1)`. */
  version: string;
  superuser: boolean;
}

/** `150004` as `15.4`, `90624` as `9.6.24`. */
function majorMinor(versionNum: number): string {
  if (versionNum >= 100000) return `${Math.floor(versionNum / 10000)}.${versionNum % 10000}`;
  return `${Math.floor(versionNum / 10000)}.${Math.floor(versionNum / 100) % 100}.${versionNum % 100}`;
}

/**
 * Throws `unsupported_server_version` for a server outside {@link SUPPORTED_SERVER_VERSIONS},
 * naming the range and the version found. Pure: the callers read the number first.
 *
 * @example
 * ```ts
 * import { checkServerVersion } from '@pgtools/repack';
 * checkServerVersion(150004);  // fine
 * checkServerVersion(140010);  // throws: PostgreSQL 14.10 ... supported: 15 to 18
 * ```
 */
export function checkServerVersion(versionNum: number, version?: string): void {
  const { min, max } = SUPPORTED_SERVER_VERSIONS;
  if (Number.isInteger(versionNum) && versionNum >= min && versionNum <= max) return;
  const found =
    Number.isInteger(versionNum) && versionNum > 0
      ? `PostgreSQL ${version ?? majorMinor(versionNum)} (server_version_num ${versionNum})`
      : `an unknown server version (${version ?? String(versionNum)})`;
  throw new PgToolsError(
    'unsupported_server_version',
    `the server runs ${found}; pgtools-repack supports PostgreSQL ${Math.floor(min / 10000)} to ${Math.floor(max / 10000)} (server_version_num ${min} to ${max}); nothing was changed`,
  );
}

/**
 * The swap a run will use: `auto` is the catalog swap for a superuser (it writes pg_class) and
 * the rename swap otherwise (the owner can do it).
 *
 * @example
 * ```ts
 * resolveSwapMode('auto', false); // 'rename'
 * ```
 */
export function resolveSwapMode(requested: SwapMode | undefined, superuser: boolean): 'catalog' | 'rename' {
  const mode = requested ?? 'auto';
  return mode === 'auto' ? (superuser ? 'catalog' : 'rename') : mode;
}

/** Reads the server's version and whether the role is a superuser; checks nothing. */
export async function readServerInfo(client: pg.ClientBase): Promise<ServerInfo> {
  const { rows } = await client.query<{ num: string; version: string; su: boolean }>(
    `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version,
            coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS su`,
  );
  const row = rows[0];
  return { versionNum: Number(row?.num), version: row?.version ?? 'unknown', superuser: row?.su ?? false };
}

/** Reads the server's version and throws `unsupported_server_version` outside the tested range. */
export async function assertSupportedServer(client: pg.ClientBase): Promise<ServerInfo> {
  const info = await readServerInfo(client);
  checkServerVersion(info.versionNum, info.version);
  return info;
}

/** {@link assertSupportedServer} on a connection of `source`, released at once: the first thing a run does. */
export async function checkSource(source: ConnectionSource): Promise<ServerInfo> {
  const client = await source.connect();
  try {
    return await assertSupportedServer(client);
  } finally {
    await source.release(client);
  }
}

/**
 * The server's version and the role's superuser flag, for a dry run to show (with
 * {@link resolveSwapMode}, the swap that `auto` will pick). Checks nothing.
 *
 * @example
 * ```ts
 * import { inspectServer, resolveSwapMode } from '@pgtools/repack';
 * const server = await inspectServer({ connectionString: process.env.DATABASE_URL });
 * console.log(server.version, resolveSwapMode('auto', server.superuser));
 * ```
 */
export async function inspectServer(db: PoolOrConfig): Promise<ServerInfo> {
  const source = connectionSource(db);
  try {
    const client = await source.connect();
    try {
      return await readServerInfo(client);
    } finally {
      await source.release(client);
    }
  } finally {
    await source.end();
  }
}

import { appendFile, chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { PgToolsError, quoteIdent, quoteLiteral } from '@pgtools/core';
import type { HaConfig } from '../config/config-types.js';
import { runBinary, type RunAs } from './run-binary.js';

/**
 * Creates the data directory (mode 0700, owned by `runAs`) without touching an existing one's content.
 *
 * @example
 * ```ts
 * import { prepareDataDir } from '@pgtools/ha-agent/internals';
 * await prepareDataDir('/var/lib/postgresql/15/main', { uid: 112, gid: 120 });
 * ```
 */
export async function prepareDataDir(dataDir: string, runAs?: RunAs): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
  await chmod(dataDir, 0o700);
}

/**
 * Runs initdb with the `bootstrap.initdb` options and the superuser name, then writes pg_hba.conf:
 * `postgresql.pg_hba` replaces the file, otherwise `bootstrap.pg_hba` is appended (as Patroni does).
 *
 * @example
 * ```ts
 * import { initdb } from '@pgtools/ha-agent/internals';
 * await initdb(config, { binDir: '/usr/lib/postgresql/15/bin' });
 * ```
 */
export async function initdb(config: HaConfig, options: { binDir: string; runAs?: RunAs | undefined }): Promise<void> {
  const dataDir = config.postgresql.dataDir;
  await prepareDataDir(dataDir, options.runAs);
  const args = ['-D', dataDir, `--username=${config.postgresql.authentication.superuser.username}`, ...config.bootstrap.initdb];
  await runBinary('initdb', args, { binDir: options.binDir, runAs: options.runAs, timeoutMs: 300_000 });
  await writeHba(config, options.runAs, true);
}

/**
 * Writes `postgresql.pg_hba` as pg_hba.conf when configured (every start, like Patroni); after
 * initdb (`afterInitdb`) appends `bootstrap.pg_hba` otherwise.
 *
 * @example
 * ```ts
 * import { writeHba } from '@pgtools/ha-agent/internals';
 * await writeHba(config, undefined, false);
 * ```
 */
export async function writeHba(config: HaConfig, runAs: RunAs | undefined, afterInitdb: boolean): Promise<void> {
  const file = join(config.postgresql.dataDir, 'pg_hba.conf');
  if (config.postgresql.pgHba && config.postgresql.pgHba.length > 0) {
    await writeFile(file, `# Written by the pgtools HA agent from postgresql.pg_hba\n${config.postgresql.pgHba.join('\n')}\n`, { mode: 0o600 });
  } else if (afterInitdb && config.bootstrap.pgHba.length > 0) {
    await appendFile(file, `\n# bootstrap.pg_hba\n${config.bootstrap.pgHba.join('\n')}\n`);
  } else {
    return;
  }
  if (runAs) await chown(file, runAs.uid, runAs.gid);
}

const OPTION_WORD = /^[A-Za-z ]+$/;

async function upsertRole(client: pg.Client, name: string, password: string | undefined, options: string[]): Promise<void> {
  for (const o of options) {
    if (!OPTION_WORD.test(o)) throw new PgToolsError('invalid_config', `bootstrap.users.${name}.options: "${o}" is not a role option`);
  }
  const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
  // Utility statements take no bind parameters: the password is quoted as a literal.
  const pw = password === undefined ? '' : ` PASSWORD ${quoteLiteral(password)}`;
  await client.query(`${verb} ROLE ${quoteIdent(name)} WITH LOGIN ${options.join(' ')}${pw}`);
}

/**
 * After the first start of a fresh cluster: sets the superuser password, creates the replication
 * user (`REPLICATION LOGIN`), the rewind user (with the function grants pg_rewind needs) and
 * `bootstrap.users`.
 *
 * @example
 * ```ts
 * import { createBootstrapUsers, withConnection } from '@pgtools/ha-agent/internals';
 * await withConnection(local, (c) => createBootstrapUsers(c, config));
 * ```
 */
export async function createBootstrapUsers(client: pg.Client, config: HaConfig): Promise<void> {
  const auth = config.postgresql.authentication;
  const su = auth.superuser;
  if (su.password !== undefined) await client.query(`ALTER ROLE ${quoteIdent(su.username)} WITH PASSWORD ${quoteLiteral(su.password)}`);
  if (auth.replication.username !== su.username) await upsertRole(client, auth.replication.username, auth.replication.password, ['REPLICATION']);
  const rw = auth.rewind;
  if (rw && rw.username !== su.username) {
    await upsertRole(client, rw.username, rw.password, []);
    const u = quoteIdent(rw.username);
    for (const fn of [
      'pg_catalog.pg_ls_dir(text, boolean, boolean)',
      'pg_catalog.pg_stat_file(text, boolean)',
      'pg_catalog.pg_read_binary_file(text)',
      'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)',
    ]) {
      await client.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${u}`);
    }
  }
  for (const [name, u] of Object.entries(config.bootstrap.users)) await upsertRole(client, name, u.password, u.options);
}

import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { PgToolsError, quoteIdent, quoteLiteral } from '@pgtools/core';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import { writeBootstrapAuthFiles } from './auth-files.js';
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
 * the configured `pg_hba` (local, else dynamic) replaces the file, otherwise `bootstrap.pg_hba` is
 * appended (as Patroni does); a configured `pg_ident` replaces pg_ident.conf.
 *
 * @example
 * ```ts
 * import { initdb } from '@pgtools/ha-agent/internals';
 * await initdb(config, config.bootstrap.dcs, { binDir: '/usr/lib/postgresql/15/bin' });
 * ```
 */
export async function initdb(config: HaConfig, dynamic: DynamicConfig, options: { binDir: string; runAs?: RunAs | undefined }): Promise<void> {
  const dataDir = config.postgresql.dataDir;
  await prepareDataDir(dataDir, options.runAs);
  const su = config.postgresql.authentication.superuser;
  const args = ['-D', dataDir, `--username=${su.username}`, ...config.bootstrap.initdb];
  // The superuser gets its password from initdb (--pwfile, as Patroni does): the pg_hba.conf written
  // next may ask for it before the agent's first connection could set it.
  const tempDir = su.password === undefined ? undefined : await mkdtemp(join(tmpdir(), 'pgtools-initdb-'));
  try {
    if (tempDir !== undefined && su.password !== undefined) {
      const pwfile = join(tempDir, 'pwfile');
      await writeFile(pwfile, su.password, { mode: 0o600 });
      if (options.runAs) {
        await chown(tempDir, options.runAs.uid, options.runAs.gid);
        await chown(pwfile, options.runAs.uid, options.runAs.gid);
      }
      args.push(`--pwfile=${pwfile}`);
    }
    await runBinary('initdb', args, { binDir: options.binDir, runAs: options.runAs, timeoutMs: 300_000 });
  } finally {
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  }
  await writeBootstrapAuthFiles(config, dynamic, options.runAs);
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
 * Sets the configured superuser password (Patroni does it before `post_bootstrap` runs).
 *
 * @example
 * ```ts
 * import { setSuperuserPassword, withConnection } from '@pgtools/ha-agent/internals';
 * await withConnection(local, (c) => setSuperuserPassword(c, config));
 * ```
 */
export async function setSuperuserPassword(client: pg.Client, config: HaConfig): Promise<void> {
  const su = config.postgresql.authentication.superuser;
  if (su.password !== undefined) await client.query(`ALTER ROLE ${quoteIdent(su.username)} WITH PASSWORD ${quoteLiteral(su.password)}`);
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
  await setSuperuserPassword(client, config);
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

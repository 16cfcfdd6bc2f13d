import { lstat, readdir, readlink, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runBinary, type RunAs } from './run-binary.js';
import { withConnection, type PgEndpoint } from './pg-connection.js';

/** Removes everything inside `dir`, keeping the directory (its owner and mode matter). */
export async function emptyDir(dir: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(entries.map((e) => rm(join(dir, e), { recursive: true, force: true })));
}

/**
 * Empties a data directory, and the directories its `pg_wal` and tablespace symlinks point to
 * (a `--waldir` replica), keeping those directories themselves (owner and mode, maybe a mount
 * point): Patroni's `remove_data_directory`. A pg_basebackup into it then finds them empty.
 *
 * @example
 * ```ts
 * import { emptyDataDir } from '@pgtools/ha-agent/internals';
 * await emptyDataDir('/var/lib/postgresql/15/main');
 * ```
 */
export async function emptyDataDir(dataDir: string): Promise<void> {
  const links: string[] = [join(dataDir, 'pg_wal')];
  const tblspc = join(dataDir, 'pg_tblspc');
  for (const oid of await readdir(tblspc).catch(() => [] as string[])) if (/^\d+$/.test(oid)) links.push(join(tblspc, oid));
  for (const link of links) {
    const isLink = await lstat(link).then(
      (st) => st.isSymbolicLink(),
      () => false,
    );
    if (!isLink) continue;
    const target = await readlink(link).catch(() => undefined);
    if (target !== undefined) await emptyDir(resolve(join(link, '..'), target));
  }
  await emptyDir(dataDir);
}

/**
 * Runs `pg_rewind` against the new leader. The leader checkpoints first: right after a promotion
 * its control file still shows the old timeline and pg_rewind would wrongly find nothing to do.
 * PostgreSQL 13+ pg_rewind runs crash recovery itself when the target was not shut down cleanly.
 * Resolves `true` when pages were rewound, `false` when no rewind was required.
 *
 * @example
 * ```ts
 * import { rewind } from '@pgtools/ha-agent/internals';
 * await rewind({ host: '10.0.0.2', port: 5432, user: 'postgres', password: 'x' }, '/data', { binDir: '/usr/lib/postgresql/15/bin' });
 * ```
 */
export async function rewind(source: PgEndpoint, dataDir: string, options: { binDir: string; runAs?: RunAs | undefined }): Promise<boolean> {
  await withConnection(source, (c) => c.query('CHECKPOINT'), 10_000);
  const dsn = `host='${source.host}' port='${source.port}' user='${source.user}' dbname='${source.database ?? 'postgres'}'`;
  const { stdout, stderr } = await runBinary('pg_rewind', ['-D', dataDir, `--source-server=${dsn}`], {
    binDir: options.binDir,
    runAs: options.runAs,
    env: source.password !== undefined ? { PGPASSWORD: source.password } : {},
    timeoutMs: 3_600_000,
  });
  return !/no rewind required/i.test(stdout + stderr);
}

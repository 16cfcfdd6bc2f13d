import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runBinary, type RunAs } from './run-binary.js';
import { withConnection, type PgEndpoint } from './pg-connection.js';

/**
 * Clones a data directory from a running member with `pg_basebackup -X stream` (fast checkpoint),
 * two tries like Patroni; a failed try leaves an empty directory.
 *
 * @example
 * ```ts
 * import { basebackup } from '@pgtools/ha-agent/internals';
 * await basebackup("host='10.0.0.1' port='5432' user='replicator'", '/data', { binDir: '/usr/lib/postgresql/15/bin', password: 'secret' });
 * ```
 */
export async function basebackup(
  dsn: string,
  dataDir: string,
  options: { binDir: string; runAs?: RunAs | undefined; password?: string | undefined; tries?: number },
): Promise<void> {
  const tries = options.tries ?? 2;
  for (let attempt = 1; ; attempt++) {
    try {
      await runBinary('pg_basebackup', [`--pgdata=${dataDir}`, '-X', 'stream', '--checkpoint=fast', `--dbname=${dsn}`], {
        binDir: options.binDir,
        runAs: options.runAs,
        env: options.password !== undefined ? { PGPASSWORD: options.password } : {},
        timeoutMs: 3_600_000,
      });
      return;
    } catch (err) {
      await emptyDir(dataDir);
      if (attempt >= tries) throw err;
    }
  }
}

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

import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { PgToolsError } from '@pgtools/core';

/** The OS identity PostgreSQL binaries run as (PostgreSQL refuses to run as root). */
export interface RunAs {
  uid: number;
  gid: number;
}

/** Where PostgreSQL's binaries are when `postgresql.bin_dir` is not set. */
export const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';

/** Options of `runBinary`. */
export interface RunBinaryOptions {
  binDir: string;
  runAs?: RunAs | undefined;
  env?: NodeJS.ProcessEnv;
  /** Default 10 minutes: a hung binary must not hang forever (replica creation, which may take days, uses `runCancellable`). */
  timeoutMs?: number;
  cwd?: string;
}

/**
 * Runs one PostgreSQL binary (`initdb`, `pg_basebackup`, `pg_rewind`, `pg_controldata`...) to
 * completion and returns its output; a non-zero exit throws `pg_command_failed` with stderr.
 *
 * @example
 * ```ts
 * import { runBinary } from '@pgtools/ha-agent/internals';
 * const { stdout } = await runBinary('pg_controldata', ['-D', '/var/lib/postgresql/15/main'], { binDir: '/usr/lib/postgresql/15/bin' });
 * ```
 */
export function runBinary(name: string, args: readonly string[], options: RunBinaryOptions): Promise<{ stdout: string; stderr: string }> {
  const file = join(options.binDir, name);
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        env: { ...process.env, LC_ALL: 'C', ...options.env },
        timeout: options.timeoutMs ?? 600_000,
        maxBuffer: 16 * 1024 * 1024,
        cwd: options.cwd ?? '/',
        ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
      },
      (err, stdout, stderr) => {
        if (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(file)) {
            reject(binaryNotFound([name], options.binDir, true, err));
            return;
          }
          const detail = String(stderr).trim() || err.message;
          reject(new PgToolsError('pg_command_failed', `${name} failed: ${detail}`, { cause: err }));
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
    // No binary we run reads stdin; single-user postgres must see EOF to shut down after recovery.
    child.stdin?.end();
  });
}

/** Binaries the agent cannot work without, and those only replicas and rejoins need. */
const REQUIRED_BINARIES = ['postgres', 'initdb', 'pg_controldata'];
const REPLICA_BINARIES = ['pg_basebackup', 'pg_rewind'];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Directories on this machine that hold a PostgreSQL server, newest major version first (for "did you mean"). */
export function findPgBinDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const found = new Set<string>();
  const add = (dir: string): void => {
    if (executable(join(dir, 'postgres')) && executable(join(dir, 'initdb'))) found.add(dir);
  };
  for (const [root, pattern, sub] of [
    ['/usr/lib/postgresql', /^\d+$/, 'bin'],
    ['/usr', /^pgsql-\d+$/, 'bin'],
    ['/usr/local', /^pgsql/, 'bin'],
    ['/opt/homebrew/opt', /^postgresql/, 'bin'],
  ] as const) {
    let names: string[] = [];
    try {
      names = readdirSync(root).filter((n) => pattern.test(n));
    } catch {
      continue;
    }
    names.sort((a, b) => Number(b.replace(/\D/g, '')) - Number(a.replace(/\D/g, '')));
    for (const n of names) add(join(root, n, sub));
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const file = join(dir, 'postgres');
    if (!executable(file)) continue;
    try {
      add(dirname(realpathSync(file)));
    } catch {
      // a dangling symlink on PATH
    }
  }
  return [...found];
}

function binaryNotFound(missing: string[], binDir: string, configured: boolean, cause?: unknown): PgToolsError {
  const where = configured ? `postgresql.bin_dir is ${binDir}` : `postgresql.bin_dir is not set, so ha-agent looked in ${binDir}`;
  const candidates = findPgBinDirs().filter((d) => d !== binDir);
  const hint =
    candidates.length > 0
      ? `set postgresql.bin_dir: ${candidates.slice(0, 3).join(' or ')} ${candidates.length === 1 ? 'holds' : 'hold'} PostgreSQL's binaries on this machine`
      : 'install the PostgreSQL server package (e.g. apt-get install postgresql) and set postgresql.bin_dir to its bin directory (`pg_config --bindir` prints it)';
  return new PgToolsError(
    'pg_binaries_not_found',
    `PostgreSQL ${missing.length === 1 ? 'binary' : 'binaries'} ${missing.join(', ')} not found in ${binDir} (${where}); ${hint}`,
    { hint, ...(cause !== undefined ? { cause } : {}) },
  );
}

/**
 * Checks that `binDir` holds the PostgreSQL binaries the agent runs. Throws `pg_binaries_not_found`
 * naming `postgresql.bin_dir`, the path tried and the server directories found on this machine;
 * resolves with the names of missing replica-only binaries (pg_basebackup, pg_rewind).
 *
 * @example
 * ```ts
 * const missingForReplicas = checkPgBinaries('/usr/lib/postgresql/16/bin', true);
 * ```
 */
export function checkPgBinaries(binDir: string, configured: boolean): string[] {
  const missing = REQUIRED_BINARIES.filter((b) => !executable(join(binDir, b)));
  if (missing.length > 0) throw binaryNotFound(missing, binDir, configured);
  return REPLICA_BINARIES.filter((b) => !executable(join(binDir, b)));
}

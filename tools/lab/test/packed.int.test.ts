import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgCluster } from '@pgtools/testkit';

// What a user gets from the registry: every public package packed by pnpm, the CLIs installed with
// npm into an empty directory (no workspace above it), then run as npx runs them.
const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const CLIS = ['@pgtools/repack-cli', '@pgtools/ha-agent-cli'];

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  bin?: Record<string, string>;
  exports?: unknown;
  types?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

let root = '';
let tgzDir = '';
let appDir = '';
const packed = new Map<string, { file: string; manifest: Manifest; files: string[] }>();
let cluster: PgCluster | undefined;

/** npm as a user runs it: without the npm_* / pnpm settings the test runner was started with. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|pnpm_|PNPM_|NODE_OPTIONS$|VITEST|INIT_CWD$)/i.test(k)) env[k] = v;
  return env;
}

const inApp = (cmd: string, args: string[]) => run(cmd, args, { cwd: appDir, env: cleanEnv(), timeout: 180_000, maxBuffer: 20_000_000 });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pgtools-packed-'));
  tgzDir = join(root, 'tarballs');
  appDir = join(root, 'app');
  mkdirSync(tgzDir);
  mkdirSync(appDir);
  const dirs = ['packages', 'apps'].flatMap((group) => readdirSync(join(repoRoot, group)).map((d) => join(repoRoot, group, d)));
  for (const dir of dirs) {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    if (manifest.private) continue;
    const before = new Set(readdirSync(tgzDir));
    await run('pnpm', ['pack', '--pack-destination', tgzDir], { cwd: dir, timeout: 60_000 });
    const file = readdirSync(tgzDir).find((f) => !before.has(f));
    if (!file) throw new Error(`pnpm pack produced no tarball in ${dir}`);
    const path = join(tgzDir, file);
    const packedManifest = JSON.parse((await run('tar', ['-xOzf', path, 'package/package.json'])).stdout) as Manifest;
    const files = (await run('tar', ['-tzf', path])).stdout
      .trim()
      .split('\n')
      .map((f) => f.replace(/^package\//, ''));
    packed.set(manifest.name, { file: path, manifest: packedManifest, files });
  }
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('packed tarballs', () => {
  it('packs every public package with workspace: ranges rewritten and its entry points inside', () => {
    expect([...packed.keys()]).toEqual(expect.arrayContaining([...CLIS, '@pgtools/core', '@pgtools/repack', '@pgtools/ha-agent', '@pgtools/dcs']));
    for (const [name, { manifest, files }] of packed) {
      for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const) {
        for (const [dep, range] of Object.entries(manifest[field] ?? {})) expect(range, `${name} ${field}.${dep}`).not.toMatch(/^workspace:/);
      }
      // Each @pgtools dependency is another packed package at a version its range accepts.
      for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
        if (!dep.startsWith('@pgtools/')) continue;
        expect(packed.has(dep), `${name} depends on ${dep}, which is not packed`).toBe(true);
        expect(range, `${name} -> ${dep}`).toBe(`^${packed.get(dep)!.manifest.version}`);
      }
      expect(files, name).toContain('README.md');
      for (const target of Object.values(manifest.bin ?? {})) expect(files, `${name} bin ${target}`).toContain(target.replace(/^\.\//, ''));
      if (manifest.types) expect(files, `${name} types`).toContain(manifest.types.replace(/^\.\//, ''));
    }
  });

  it('installs the CLIs with npm into an empty directory and runs --help and --version', async () => {
    // The CLIs and, transitively, the @pgtools packages they need: the registry has none of them.
    const needed = new Set<string>();
    const visit = (name: string): void => {
      if (needed.has(name)) return;
      needed.add(name);
      for (const dep of Object.keys(packed.get(name)!.manifest.dependencies ?? {})) if (dep.startsWith('@pgtools/')) visit(dep);
    };
    CLIS.forEach(visit);
    await inApp('npm', ['install', ...[...needed].map((n) => packed.get(n)!.file), '--no-audit', '--no-fund']);

    const repackHelp = await inApp('npx', ['pgtools-repack', '--help']);
    expect(repackHelp.stdout).toMatch(/--table/);
    expect((await inApp('npx', ['@pgtools/repack-cli', '--help'])).stdout).toBe(repackHelp.stdout);
    expect((await inApp('npx', ['hactl', '--help'])).stdout).toMatch(/switchover/);
    expect((await inApp('npx', ['-p', '@pgtools/ha-agent-cli', 'hactl', '--help'])).stdout).toMatch(/switchover/);
    expect((await inApp('npx', ['ha-agent', '--help'])).stdout).toMatch(/CONFIG_FILE/);
    const version = (n: string) => packed.get(n)!.manifest.version;
    expect((await inApp('npx', ['pgtools-repack', '--version'])).stdout).toContain(version('@pgtools/repack-cli'));
    expect((await inApp('npx', ['hactl', '--version'])).stdout).toContain(version('@pgtools/ha-agent-cli'));
    expect((await inApp('npx', ['ha-agent', '--version'])).stdout).toContain(version('@pgtools/ha-agent-cli'));
    // The libraries load from the installed tarballs through their `exports`.
    const lib = await inApp('node', [
      '--input-type=module',
      '-e',
      "const m = await import('@pgtools/repack'); const c = await import('@pgtools/core'); console.log(typeof m.repack, typeof c.PgToolsError)",
    ]);
    expect(lib.stdout.trim()).toBe('function function');
    // Bad usage is exit code 2, as documented.
    const bad = await inApp('npx', ['pgtools-repack', '--no-such-flag']).then(
      () => undefined,
      (e: { code?: number }) => e,
    );
    expect(bad?.code).toBe(2);
  });

  it('repacks a bloated table of a throwaway database with the installed pgtools-repack', async () => {
    cluster = await startPostgres({ name: 'packed' });
    const db = await cluster.createDatabase();
    const pool = db.pool();
    await pool.query('CREATE TABLE public.bloated (id bigint PRIMARY KEY, payload text NOT NULL)');
    await pool.query("INSERT INTO public.bloated SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
    await pool.query('DELETE FROM public.bloated WHERE id % 4 <> 0');
    const before = (
      await pool.query<{ size: string; node: string }>("SELECT pg_table_size('public.bloated') AS size, pg_relation_filenode('public.bloated') AS node")
    ).rows[0]!;
    const sum = async () => (await pool.query<{ n: string; s: string }>('SELECT count(*) AS n, sum(id) AS s FROM public.bloated')).rows[0]!;
    const rowsBefore = await sum();

    const { stdout, stderr } = await inApp('npx', [
      'pgtools-repack',
      '-t',
      'public.bloated',
      '-h',
      '127.0.0.1',
      '-p',
      String(cluster.port),
      '-U',
      'postgres',
      db.name,
    ]);
    expect(`${stdout}${stderr}`).toMatch(/bloated/);
    const after = (
      await pool.query<{ size: string; node: string }>("SELECT pg_table_size('public.bloated') AS size, pg_relation_filenode('public.bloated') AS node")
    ).rows[0]!;
    expect(after.node).not.toBe(before.node);
    expect(Number(after.size)).toBeLessThan(Number(before.size) / 2);
    expect(await sum()).toEqual(rowsBefore);
  });
});

import { execFile } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, makeTempDir, pgBinDir, serverUser, startPostgres, waitFor, type TempDir } from '@pgtools/testkit';
import { HaCluster, patroni, sql, type HaNode } from './ha-cluster.js';

// Issue 17 item 3 and the pg_hba / pg_ident part of item 5: bootstrap.post_bootstrap, a custom
// bootstrap.method restoring a pg_basebackup tarball, and the dynamic pg_hba / pg_ident applied by
// reload, on real PostgreSQL 15 and a real 3-member etcd.

const run = promisify(execFile);
const user = serverUser();
const INITDB_LINE = '  initdb: [{encoding: UTF8}, {locale: C}]\n';

let cluster: HaCluster | undefined;
const temps: TempDir[] = [];
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
  for (const t of temps.splice(0)) t.remove();
});

/** A directory the PostgreSQL OS user owns, for scripts and what they write. */
async function scriptDir(prefix: string): Promise<string> {
  const dir = await makeTempDir(prefix, user);
  temps.push(dir);
  return dir.path;
}

function writeScript(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  if (user) chownSync(file, user.uid, user.gid);
}

/** Adds lines to the `bootstrap:` section of every node's configuration. */
const bootstrapLines = (lines: string) => (yaml: string) => yaml.replace(INITDB_LINE, `${INITDB_LINE}${lines}`);

/** The connection error (or undefined) of a login as `role` over TCP. */
async function loginError(port: number, role: string): Promise<string | undefined> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: role, database: 'postgres', connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function etcdGet(c: HaCluster, key: string): Promise<string> {
  return (await c.etcd.etcdctl(['get', '--print-value-only', key])).trim();
}

describe('bootstrap methods and the dynamic pg_hba / pg_ident', () => {
  it('runs post_bootstrap with the local URL; the table it creates reaches the replica; a dynamic pg_hba / pg_ident change is applied by reload everywhere', async () => {
    const dir = await scriptDir('ha-post-bootstrap');
    const post = join(dir, 'post.sh');
    writeScript(
      post,
      `{ echo "argc=$# url=$1"; head -n1 "$PGPASSFILE"; ${pgBinDir()}/psql "$1" -Atc 'SHOW synchronous_commit'; } > ${dir}/post.out
exec ${pgBinDir()}/psql "$1" -v ON_ERROR_STOP=1 -c "CREATE TABLE made_by_post_bootstrap (id int PRIMARY KEY, who text DEFAULT current_user); INSERT INTO made_by_post_bootstrap (id) VALUES (1)"`,
    );
    const c = (cluster = await HaCluster.start({ scope: 'boot-post', editYaml: bootstrapLines(`  post_bootstrap: ${post}\n`) }, 2));
    const leader = await c.waitForHealthy(c.nodes, 120_000);
    const replica = c.nodes.find((n) => n !== leader) as HaNode;

    const out = readFileSync(join(dir, 'post.out'), 'utf8').split('\n');
    expect(out[0]).toBe(`argc=1 url=postgres://postgres@127.0.0.1:${leader.pgPort}/postgres`);
    expect(out[1]).toBe(`127.0.0.1:${leader.pgPort}:*:postgres:postgres`);
    expect(out[2]).toBe('local');
    expect(leader.events.some((e) => e.type === 'script_exited' && e.script === 'post_bootstrap' && e.code === 0)).toBe(true);
    expect(await sql(leader.pgPort, 'SELECT id, who FROM made_by_post_bootstrap')).toEqual([{ id: 1, who: 'postgres' }]);
    await waitFor(async () => (await sql(replica.pgPort, 'SELECT 1 FROM made_by_post_bootstrap WHERE id = 1')).length === 1, {
      timeoutMs: 30_000,
      describe: () => 'the post_bootstrap table on the replica',
    });

    // patronictl edit-config: the dynamic pg_hba replaces the file (bootstrap.pg_hba was appended to initdb's).
    for (const n of c.nodes) expect(await loginError(n.pgPort, 'hbauser')).toMatch(/role "hbauser" does not exist/);
    const key = `/service/boot-post/config`;
    const config = JSON.parse(await etcdGet(c, key)) as { postgresql: Record<string, unknown> };
    config.postgresql.pg_hba = [
      'host all hbauser 127.0.0.1/32 reject',
      'local all all trust',
      'host all all 127.0.0.1/32 trust',
      'host replication all 127.0.0.1/32 trust',
    ];
    config.postgresql.pg_ident = ['pgtoolsmap osuser hbauser'];
    await c.etcd.etcdctl(['put', key, JSON.stringify(config)]);
    for (const n of c.nodes) {
      await waitFor(async () => /pg_hba\.conf rejects connection/.test((await loginError(n.pgPort, 'hbauser')) ?? ''), {
        timeoutMs: 30_000,
        describe: () => `${n.name} refusing hbauser after the reload`,
      });
      expect(await sql(n.pgPort, "SELECT count(*)::int AS c FROM pg_hba_file_rules WHERE 'hbauser' = ANY(user_name) AND auth_method = 'reject'")).toEqual([
        { c: 1 },
      ]);
      expect(await sql(n.pgPort, 'SELECT map_name, sys_name, pg_username FROM pg_ident_file_mappings')).toEqual([
        { map_name: 'pgtoolsmap', sys_name: 'osuser', pg_username: 'hbauser' },
      ]);
    }
  }, 240_000);

  it('fails the bootstrap when post_bootstrap exits non-zero: PostgreSQL stopped, initialize key removed, data dir moved aside', async () => {
    const dir = await scriptDir('ha-post-fail');
    const post = join(dir, 'fail.sh');
    writeScript(post, 'echo "setup failed" >&2\nexit 3');
    const c = (cluster = await HaCluster.start({ scope: 'boot-fail', editYaml: bootstrapLines(`  post_init: ${post}\n`) }, 1));
    const node = c.nodes[0] as HaNode;
    const failure = await Promise.race([
      node.agent.done.then(
        () => new Error('the agent ended without an error'),
        (err: unknown) => err as Error,
      ),
      new Promise<Error>((resolve) => setTimeout(() => resolve(new Error('timed out waiting for the failed bootstrap')), 120_000)),
    ]);
    expect(failure.message).toMatch(/bootstrap failed: post_bootstrap script .*fail\.sh exited with code 3/);
    expect(node.events.some((e) => e.type === 'script_exited' && e.code === 3)).toBe(true);
    expect(node.events.some((e) => e.type === 'fatal')).toBe(true);
    const pids = node.events.flatMap((e) => (e.type === 'postmaster_started' ? [e.pid] : []));
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(await etcdGet(c, '/service/boot-fail/initialize')).toBe('');
    expect(await etcdGet(c, '/service/boot-fail/leader')).toBe('');
    const data = join(node.dir.path, 'data');
    expect(existsSync(data) ? readdirSync(data) : []).toEqual([]);
    expect(existsSync(join(`${data}.failed`, 'PG_VERSION'))).toBe(true);
  }, 180_000);

  it('bootstraps with a custom method restoring a pg_basebackup tarball, ends its archive recovery and lets a second member clone', async () => {
    const backup = await scriptDir('ha-backup');
    const source = await startPostgres({ name: 'boot-source' });
    try {
      await source.query('CREATE TABLE restored_rows (id int PRIMARY KEY)');
      await source.query('INSERT INTO restored_rows SELECT generate_series(1, 100)');
      await run(
        join(source.binDir, 'pg_basebackup'),
        ['-h', '127.0.0.1', '-p', String(source.port), '-U', 'postgres', '-D', join(backup, 'tar'), '-Ft', '-X', 'stream', '-c', 'fast'],
        user ? { uid: user.uid, gid: user.gid } : {},
      );
    } finally {
      await source.destroy();
    }
    const restore = join(backup, 'restore.sh');
    writeScript(
      restore,
      `set -e
echo "$@" > ${backup}/restore.args
for a in "$@"; do
  case "$a" in
    --datadir=*) D="\${a#--datadir=}" ;;
    --backup=*) B="\${a#--backup=}" ;;
  esac
done
tar -xf "$B/base.tar" -C "$D"
mkdir -p "$D/pg_wal" "$B/../archive"
chmod 700 "$D"
tar -xf "$B/pg_wal.tar" -C "$B/../archive"`,
    );
    const method = {
      command: restore,
      backup: join(backup, 'tar'),
      recovery_conf: { restore_command: `cp ${join(backup, 'archive')}/%f "%p"`, recovery_target_timeline: 'latest' },
    };
    const c = (cluster = await HaCluster.start(
      { scope: 'boot-restore', editYaml: bootstrapLines(`  method: restore\n  restore: ${JSON.stringify(method)}\n`) },
      2,
    ));
    const leader = await c.waitForHealthy(c.nodes, 150_000);
    const replica = c.nodes.find((n) => n !== leader) as HaNode;

    expect(readFileSync(join(backup, 'restore.args'), 'utf8').trim()).toBe(
      `--scope=boot-restore --datadir=${join(leader.dir.path, 'data')} --backup=${join(backup, 'tar')}`,
    );
    expect(await sql(leader.pgPort, 'SELECT count(*)::int AS c FROM restored_rows')).toEqual([{ c: 100 }]);
    expect(await sql(replica.pgPort, 'SELECT count(*)::int AS c FROM restored_rows')).toEqual([{ c: 100 }]);
    // The archive recovery ended on a new timeline, and its settings left the configuration.
    expect(Number((await patroni(leader)).timeline)).toBeGreaterThanOrEqual(2);
    expect(await sql(leader.pgPort, 'SHOW restore_command')).toEqual([{ restore_command: '' }]);
    // The temporary local trust is gone: the restored pg_hba.conf with bootstrap.pg_hba appended.
    expect(readFileSync(join(leader.dir.path, 'data', 'pg_hba.conf'), 'utf8')).toMatch(/# bootstrap\.pg_hba\n/);
    expect(leader.events.some((e) => e.type === 'script_exited' && e.script === 'method' && e.name === 'restore' && e.code === 0)).toBe(true);
  }, 240_000);
});

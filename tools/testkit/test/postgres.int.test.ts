import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { isAlive, serverUser, startPostgres, waitFor, type PgCluster } from '../src/index.js';

const alive = isAlive;

describe('startPostgres', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPostgres({ name: 'kit', settings: { wal_level: 'replica', max_wal_senders: 5, wal_log_hints: 'on' } });
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('runs PostgreSQL 15 on loopback with the requested settings, as a non-root user', async () => {
    const { rows } = await cluster.query(
      "SELECT current_setting('server_version_num')::int / 10000 AS major, current_setting('wal_level') AS wal_level, current_setting('max_wal_senders') AS senders, current_setting('wal_log_hints') AS hints, current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sock",
    );
    expect(rows[0]).toEqual({ major: 15, wal_level: 'replica', senders: '5', hints: 'on', listen: '127.0.0.1', sock: cluster.socketDir });
    const owner = statSync(cluster.dataDir).uid;
    expect(owner).toBe(serverUser()?.uid ?? process.getuid?.());
    expect(owner).not.toBe(0);
  });

  it('serves its unix socket in the temp dir', async () => {
    const client = new pg.Client({ host: cluster.socketDir, port: cluster.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    const { rows } = await client.query('SELECT inet_server_addr() IS NULL AS via_socket');
    await client.end();
    expect(rows[0].via_socket).toBe(true);
    expect(existsSync(join(cluster.socketDir, `.s.PGSQL.${cluster.port}`))).toBe(true);
  });

  it('creates separate databases, also from a template', async () => {
    const a = await cluster.createDatabase();
    const poolA = a.pool();
    await poolA.query('CREATE TABLE marker (v int)');
    await cluster.query(`ALTER DATABASE "${a.name}" IS_TEMPLATE true`);
    await poolA.end();
    const b = await cluster.createDatabase({ template: a.name });
    const c = await cluster.createDatabase();
    expect(b.name).not.toBe(a.name);
    const fromTemplate = await b.pool().query("SELECT to_regclass('marker') IS NOT NULL AS has");
    const plain = await c.pool().query("SELECT to_regclass('marker') IS NOT NULL AS has");
    expect(fromTemplate.rows[0].has).toBe(true);
    expect(plain.rows[0].has).toBe(false);
  });

  it('restarts on the same port and keeps data', async () => {
    await cluster.query('CREATE TABLE IF NOT EXISTS survives (v int)');
    const port = cluster.port;
    const before = cluster.process.pid;
    await cluster.restart();
    expect(cluster.port).toBe(port);
    expect(cluster.process.pid).not.toBe(before);
    expect(alive(before)).toBe(false);
    const { rows } = await cluster.query("SELECT to_regclass('survives') IS NOT NULL AS has");
    expect(rows[0]?.has).toBe(true);
  });
});

describe('teardown', () => {
  it('destroy stops the postmaster by PID and removes every file', async () => {
    const cluster = await startPostgres({ name: 'gone' });
    const pid = cluster.process.pid;
    const dir = join(cluster.dataDir, '..');
    await cluster.destroy();
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it('a test process killed mid-run (as by Ctrl-C) leaves no server and no temp dir behind', async () => {
    // A separate Node process starts a cluster, reports it, then is SIGKILLed: no teardown runs.
    const script = `
      import { startPostgres } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const c = await startPostgres({ name: 'orphan' });
      process.stdout.write(JSON.stringify({ pid: c.process.pid, dir: c.dataDir }) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
      });
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    const { pid, dir } = JSON.parse(line) as { pid: number; dir: string };
    expect(alive(pid)).toBe(true);
    child.kill('SIGKILL');
    await waitFor(() => !alive(pid) && !existsSync(join(dir, '..')), { timeoutMs: 20_000, describe: () => 'orphan cleanup' });
  });
});

describe('streaming replica', () => {
  it('startPostgres({ replicaOf }) clones the primary and streams from it', async () => {
    const primary = await startPostgres({ name: 'primary' });
    try {
      const replica = await startPostgres({ name: 'replica', replicaOf: primary });
      try {
        await primary.query('CREATE TABLE streamed (v int)');
        await primary.query('INSERT INTO streamed VALUES (42)');
        await waitFor(async () => (await replica.query('SELECT count(*)::int AS n FROM streamed')).rows[0]?.n === 1, {
          describe: () => 'the row on the replica',
        });
        const { rows } = await replica.query('SELECT pg_is_in_recovery() AS standby');
        expect(rows[0]?.standby).toBe(true);
        const { rows: senders } = await primary.query('SELECT state FROM pg_stat_replication');
        expect(senders.map((r) => r.state)).toEqual(['streaming']);
      } finally {
        await replica.destroy();
      }
    } finally {
      await primary.destroy();
    }
  });
});

import { execFile } from 'node:child_process';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { defaultPgMajor, pgBinDir, type PgMajor } from './pg-versions.js';
import { freePort, makeTempDir, serverUser, spawnManaged, waitFor, type ManagedProcess, type OsUser, type TempDir } from './process.js';

const run = promisify(execFile);

export type PgSettings = Record<string, string | number | boolean>;

export interface StartPostgresOptions {
  /** The server's major (default: `PGTOOLS_PG_MAJOR`, else 15). 16-18 have no client tools, so no `replicaOf`. */
  version?: PgMajor;
  /** Server settings passed as `-c name=value` (e.g. `{ wal_level: 'replica', max_wal_senders: 5 }`). */
  settings?: PgSettings;
  /** Extra `initdb` arguments (e.g. `['--data-checksums']`). */
  initdbArgs?: string[];
  /** Lines appended to pg_hba.conf. */
  hba?: string[];
  /** A label for the temp dir and log lines. */
  name?: string;
  /**
   * Make this cluster a streaming replica of `replicaOf` (pg_basebackup -R with a physical slot)
   * instead of running initdb. The primary needs wal_level replica (the default) and free wal senders.
   */
  replicaOf?: PgCluster;
}

/** Connection settings of a database in a test cluster. */
export interface TestDatabase {
  name: string;
  connectionString: string;
  config: pg.ClientConfig;
  /** A new pool on this database; the kit ends it on teardown. */
  pool(options?: pg.PoolConfig): pg.Pool;
}

export interface PgCluster {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly socketDir: string;
  readonly dataDir: string;
  readonly binDir: string;
  /** The server's major version. */
  readonly version: PgMajor;
  readonly superuser: 'postgres';
  readonly user: OsUser | undefined;
  readonly process: ManagedProcess;
  connectionString(database?: string): string;
  clientConfig(database?: string): pg.ClientConfig;
  /** Runs one statement on the `postgres` database with a short-lived connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** A fresh database (from `template`, default template1), named uniquely unless a name is given. */
  createDatabase(options?: { name?: string; template?: string }): Promise<TestDatabase>;
  /** Stops the postmaster (fast shutdown) and starts it again on the same data dir and port. */
  restart(): Promise<void>;
  /** Starts the postmaster again after a stop or a kill. */
  start(): Promise<void>;
  /** Fast shutdown, leaving the data dir (for restart). */
  stopServer(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server and removes every file of the cluster. Safe to call twice. */
  destroy(): Promise<void>;
}

let databaseCounter = 0;

/**
 * Starts a real PostgreSQL cluster (15 unless `version` says otherwise) for a test: initdb into a temp dir, a free port on
 * 127.0.0.1, its unix socket inside the temp dir, trust authentication, `fsync=off` for speed.
 * When the tests run as root the server runs as the `postgres` OS user.
 *
 * @example
 * ```ts
 * const cluster = await startPostgres({ settings: { wal_level: 'replica' } });
 * const db = await cluster.createDatabase();
 * const pool = db.pool();
 * // ...
 * await cluster.destroy();
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PgCluster> {
  const user = serverUser();
  const version = options.version ?? defaultPgMajor();
  if (options.replicaOf && version !== 15) {
    throw new Error(`replicaOf needs pg_basebackup of PostgreSQL ${version}, which the npm builds of 16-18 do not ship`);
  }
  const binDir = pgBinDir(version, { shared: user !== undefined });
  const dir: TempDir = await makeTempDir(`pg-${options.name ?? 'cluster'}`, user);
  const dataDir = join(dir.path, 'data');
  const socketDir = join(dir.path, 'sock');
  const logFile = join(dir.path, 'postgres.log');
  const pools: pg.Pool[] = [];
  let proc: ManagedProcess | undefined;
  let port = 0;
  const spawnOpts = user ? { uid: user.uid, gid: user.gid } : {};
  try {
    await mkdir(socketDir);
    if (user) await run('chown', [`${user.uid}:${user.gid}`, socketDir]);
    if (options.replicaOf) {
      const primary = options.replicaOf;
      const slot = `replica_${process.pid}_${++databaseCounter}`;
      await primary.query('SELECT pg_create_physical_replication_slot($1)', [slot]);
      await run(
        join(binDir, 'pg_basebackup'),
        ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', dataDir, '-X', 'stream', '-R', '-S', slot, '-c', 'fast'],
        { ...spawnOpts, cwd: dir.path },
      );
    } else {
      await run(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-N', '-E', 'UTF8', '--locale=C', ...(options.initdbArgs ?? [])], {
        ...spawnOpts,
        cwd: dir.path,
      });
    }
    if (options.hba && options.hba.length > 0) {
      await appendFile(join(dataDir, 'pg_hba.conf'), `\n${options.hba.join('\n')}\n`);
    }
  } catch (err) {
    dir.remove();
    throw err;
  }

  const settings: PgSettings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: socketDir,
    fsync: 'off',
    full_page_writes: 'on',
    max_connections: 100,
    shared_buffers: '128MB',
    log_min_messages: 'warning',
    log_line_prefix: '%m [%p] %a ',
    ...options.settings,
  };

  const clientConfig = (database = 'postgres'): pg.ClientConfig => ({ host: '127.0.0.1', port, user: 'postgres', database });

  const start = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      if (port === 0 || attempt > 0) port = await freePort();
      const args = ['-D', dataDir, '-c', `port=${port}`];
      for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${String(value)}`);
      proc = spawnManaged(join(binDir, 'postgres'), args, { logFile, user, cwd: dir.path, stopSignal: 'SIGINT' });
      const current = proc;
      try {
        await waitFor(
          async () => {
            if (!current.isRunning()) throw new Error('exited');
            const client = new pg.Client(clientConfig());
            try {
              await client.connect();
              await client.query('SELECT 1');
              return true;
            } finally {
              await client.end().catch(() => {});
            }
          },
          { timeoutMs: 30_000, intervalMs: 100, describe: () => `PostgreSQL on port ${port}` },
        ).catch(async (err: unknown) => {
          // A lost port race or a crash on start: the log says which.
          await current.stop('SIGKILL');
          throw err;
        });
        return;
      } catch (err) {
        const tail = current.logTail();
        if (attempt < 2 && /could not bind|Address already in use/.test(tail)) continue;
        throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${tail}`);
      }
    }
  };

  const stopServer = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    if (proc?.isRunning()) await proc.stop(mode === 'fast' ? 'SIGINT' : 'SIGQUIT', 30_000);
  };

  let destroyed = false;
  const cluster: PgCluster = {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    socketDir,
    dataDir,
    binDir,
    version,
    superuser: 'postgres',
    user,
    get process() {
      if (!proc) throw new Error('server not started');
      return proc;
    },
    connectionString: (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    clientConfig,
    async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]) {
      const client = new pg.Client(clientConfig());
      await client.connect();
      try {
        return await client.query<R>(sql, params);
      } finally {
        await client.end().catch(() => {});
      }
    },
    async createDatabase({ name, template = 'template1' } = {}) {
      const dbName = name ?? `test_${process.pid}_${++databaseCounter}`;
      // Not @pgtools/core's quoteIdent: core's own tests use this kit, and the kit must not depend on what it tests.
      const quote = (s: string): string => `"${s.replace(/"/g, '""')}"`;
      await cluster.query(`CREATE DATABASE ${quote(dbName)} TEMPLATE ${quote(template)}`);
      return {
        name: dbName,
        connectionString: cluster.connectionString(dbName),
        config: clientConfig(dbName),
        pool(poolOptions = {}) {
          const pool = new pg.Pool({ ...clientConfig(dbName), max: 10, ...poolOptions });
          // Terminated backends are part of several tests; keep them from crashing the worker.
          pool.on('error', () => {});
          pools.push(pool);
          return pool;
        },
      };
    },
    async restart() {
      await stopServer();
      await start();
    },
    start,
    stopServer,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await Promise.allSettled(pools.map((p) => p.end()));
      await stopServer('immediate');
      dir.remove();
    },
  };

  await start().catch((err: unknown) => {
    dir.remove();
    throw err;
  });
  return cluster;
}

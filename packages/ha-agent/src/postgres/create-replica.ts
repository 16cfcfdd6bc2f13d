import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PgToolsError, type Logger } from '@pgtools/core';
import { tmpdir } from 'node:os';
import type { HaConfig } from '../config/config-types.js';
import { BASEBACKUP_METHOD, DEFAULT_REPLICA_METHODS, type BasebackupMethod, type ReplicaMethod } from '../config/replica-config.js';
import { conninfo } from './pg-connection.js';
import { writePgpass } from './pgpass.js';
import { runCancellable } from './cancellable-process.js';
import { emptyDataDir } from './clone-and-rewind.js';
import { basebackupArgv, customMethodArgv } from './replica-argv.js';
import type { RunAs } from './run-binary.js';

/**
 * How often the size of the data directory is logged while a replica is made: often enough to
 * see it move, rarely enough that a day-long restore logs a few thousand lines, not millions.
 */
export const REPLICA_PROGRESS_INTERVAL_MS = 15_000;

/** Patroni waits this long between its two pg_basebackup tries ("Trying again in 5 seconds"). */
const BASEBACKUP_RETRY_DELAY_MS = 5_000;

/** Patroni's pg_basebackup tries (`maxfailures` in bootstrap.py `basebackup`). */
const BASEBACKUP_TRIES = 2;

/** What replica creation reports (`HaAgentEvent` carries these). */
export type ReplicaCreationEvent =
  | { type: 'replica_method_started'; method: string; pid: number }
  | { type: 'replica_method_failed'; method: string; message: string }
  | { type: 'replica_progress'; method: string; bytes: number; elapsedMs: number };

/** The member to clone from, and the replication user's credentials. */
export interface CloneSource {
  host: string;
  port: number;
  /** libpq connection string without the password (Patroni's `--connstring`). */
  connstring: string;
  user: string;
  password?: string | undefined;
}

/** Options of `createReplica`. */
export interface CreateReplicaOptions {
  methods: readonly ReplicaMethod[];
  /** Undefined without a leader: only `no_leader` methods run. */
  source: CloneSource | undefined;
  scope: string;
  dataDir: string;
  binDir: string;
  runAs?: RunAs | undefined;
  /** Where the source's password is written for the methods (`PGPASSFILE`), as Patroni does. */
  pgpassFile: string;
  /** A stop of the agent: kills the running method, empties the data directory. */
  signal: AbortSignal;
  logger: Logger;
  onEvent?: (event: ReplicaCreationEvent) => void;
  progressIntervalMs?: number;
}

/** The methods that can run: all with a source, only `no_leader` ones (never basebackup) without. */
export function usableMethods(methods: readonly ReplicaMethod[], withSource: boolean): ReplicaMethod[] {
  return withSource ? [...methods] : methods.filter((m) => m.kind === 'command' && m.noLeader);
}

/** Bytes under `dir` (not following symlinks), 0 when it cannot be read. */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else
      total += await lstat(p).then(
        (s) => s.size,
        () => 0,
      );
  }
  return total;
}

function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u] ?? 'B'}`;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Makes this node's data directory a copy of the cluster with the configured methods in order
 * (Patroni's `create_replica`): `basebackup` runs pg_basebackup (two tries), any other method its
 * command with Patroni's `--scope`/`--role`/`--datadir`/`--connstring`. The data directory is
 * emptied before a method and after it failed, unless the method has `keep_data`; a failed method
 * falls back to the next. There is no time limit: the data directory's size is logged every
 * `progressIntervalMs` instead, and aborting `signal` kills the running method's process group.
 * Resolves with the method that worked; throws `replica_failed` (or `replica_cancelled`) after
 * emptying the data directory.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * await createReplica({ methods: config.postgresql.replica.methods, source, scope: 'batman', dataDir: '/data',
 *   binDir: '/usr/lib/postgresql/15/bin', pgpassFile: '/tmp/pgpass', signal: ac.signal, logger });
 * ```
 */
export async function createReplica(o: CreateReplicaOptions): Promise<string> {
  const { logger, signal } = o;
  const methods = usableMethods(o.methods, o.source !== undefined);
  if (methods.length === 0) throw new PgToolsError('replica_failed', 'no replica creation method can run without a leader (none has no_leader)');
  const env: NodeJS.ProcessEnv = {};
  if (o.source?.password !== undefined) {
    await writePgpass(o.pgpassFile, o.source, o.runAs);
    env.PGPASSFILE = o.pgpassFile;
  }
  const connstring = o.source?.connstring ?? '';
  let current = '';
  const startedAt = Date.now();
  let measuring = false;
  const progress = setInterval(() => {
    // A scan of a huge data dir may outlast the interval: never two at once.
    if (measuring) return;
    measuring = true;
    void dirSize(o.dataDir).then((bytes) => {
      measuring = false;
      if (signal.aborted || current === '') return;
      const elapsedMs = Date.now() - startedAt;
      logger.info(`creating replica with ${current}: ${formatBytes(bytes)} in ${o.dataDir} after ${Math.round(elapsedMs / 1000)} s`);
      o.onEvent?.({ type: 'replica_progress', method: current, bytes, elapsedMs });
    });
  }, o.progressIntervalMs ?? REPLICA_PROGRESS_INTERVAL_MS);
  const run = async (method: string, argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<boolean> => {
    current = method;
    const r = await runCancellable(argv, {
      runAs: o.runAs,
      env: { ...env, ...extraEnv },
      signal,
      onLine: (line) => logger.debug(`${method}: ${line}`),
      onStarted: (pid) => o.onEvent?.({ type: 'replica_method_started', method, pid }),
    });
    if (r.code === 0 && !r.cancelled) return true;
    const why = r.cancelled ? 'cancelled' : r.code !== null ? `exited with code=${r.code}` : `killed by ${r.signal ?? 'a signal'}`;
    const message = `${argv[0] ?? method} ${why}${r.tail.length > 0 ? `: ${r.tail.slice(-5).join(' | ')}` : ''}`;
    logger.error(`Error creating replica using method ${method}: ${message}`);
    o.onEvent?.({ type: 'replica_method_failed', method, message });
    return false;
  };
  try {
    for (const method of methods) {
      if (signal.aborted) break;
      if (method.kind === 'basebackup') {
        const argv = [join(o.binDir, 'pg_basebackup'), ...basebackupArgv(method.options, o.dataDir, connstring)];
        for (let attempt = 1; attempt <= BASEBACKUP_TRIES && !signal.aborted; attempt++) {
          await emptyDataDir(o.dataDir);
          if (await run(method.name, argv, { LC_ALL: 'C' })) {
            logger.info('replica has been created using basebackup');
            return method.name;
          }
          if (attempt < BASEBACKUP_TRIES && !signal.aborted) {
            logger.warn('Trying again in 5 seconds');
            await abortableSleep(BASEBACKUP_RETRY_DELAY_MS, signal);
          }
        }
        await emptyDataDir(o.dataDir);
        continue;
      }
      if (method.keepData) logger.info('Leaving data directory uncleaned');
      else await emptyDataDir(o.dataDir);
      if (await run(method.name, customMethodArgv(method, { scope: o.scope, dataDir: o.dataDir, connstring }))) {
        logger.info(`replica has been created using ${method.name}`);
        return method.name;
      }
      if (!method.keepData) await emptyDataDir(o.dataDir);
    }
  } finally {
    clearInterval(progress);
    current = '';
  }
  // Patroni removes the data directory when every method failed (ha.py `clone`), keep_data or not:
  // a half-restored directory must not be started as a replica.
  await emptyDataDir(o.dataDir);
  if (signal.aborted) throw new PgToolsError('replica_cancelled', 'replica creation was cancelled (agent stop, or a forced reinitialize)');
  throw new PgToolsError('replica_failed', `every replica creation method failed (${methods.map((m) => m.name).join(', ')})`);
}

/** pg_basebackup with the agent's own options only (no `postgresql.basebackup` section). */
const DEFAULT_BASEBACKUP: BasebackupMethod = { kind: 'basebackup', name: BASEBACKUP_METHOD, options: [] };

/**
 * `createReplica` for a node: its `create_replica_methods` (default pg_basebackup), its
 * replication user against `source` (undefined: only `no_leader` methods), and its pgpass file.
 * `basebackupOnly` (`reinit --from-leader`): pg_basebackup alone, with the `postgresql.basebackup`
 * options, whatever the methods say (Patroni's `create_replica(clone_from_leader=True)`).
 *
 * @example
 * ```ts
 * import { createReplicaFor } from '@pgtools/ha-agent/internals';
 * await createReplicaFor(config, { host: '10.0.0.1', port: 5432 }, { dataDir, binDir, runAs: undefined, signal, logger });
 * ```
 */
export function createReplicaFor(
  config: HaConfig,
  source: { host: string; port: number } | undefined,
  target: Pick<CreateReplicaOptions, 'dataDir' | 'binDir' | 'runAs' | 'signal' | 'logger' | 'onEvent'> & {
    basebackupOnly?: boolean;
    /** Instead of the node's `create_replica_methods` (a standby cluster's). */
    methods?: readonly ReplicaMethod[] | undefined;
  },
): Promise<string> {
  const r = config.postgresql.authentication.replication;
  const from = source && {
    host: source.host,
    port: source.port,
    user: r.username,
    password: r.password,
    connstring: conninfo({ host: source.host, port: source.port, user: r.username, dbname: 'postgres', application_name: config.name }),
  };
  const { basebackupOnly, methods, ...rest } = target;
  return createReplica({
    ...rest,
    methods: basebackupOnly
      ? [config.postgresql.replica?.basebackup ?? DEFAULT_BASEBACKUP]
      : (methods ?? config.postgresql.replica?.methods ?? DEFAULT_REPLICA_METHODS),
    source: from,
    scope: config.scope,
    // Patroni's default is ~/pgpass of its own user; the agent may run as root for another OS user.
    pgpassFile: config.postgresql.pgpass ?? join(tmpdir(), `pgtools-${config.scope}-${config.name}.pgpass`),
  });
}

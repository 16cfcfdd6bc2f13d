import type { CommandMethod } from '../config/replica-config.js';

/** What Patroni tells a replica creation method about the replica it makes. */
export interface ReplicaTarget {
  /** The cluster name (`scope`). */
  scope: string;
  dataDir: string;
  /** libpq connection string of the clone source without its password; empty without a leader. */
  connstring: string;
}

/**
 * The argv of a user-defined replica method, as Patroni builds it (patroni/postgresql/bootstrap.py
 * `create_replica`): the split command, then the section's keys as `--key=value` in their order,
 * then `--scope`, `--role=replica`, `--datadir`, `--connstring` unless `no_params` (which also
 * drops `no_params`, `no_leader` and `keep_data` themselves). A key of the section named like one
 * of the four keeps its place and gets the agent's value (Python's `dict.update`).
 *
 * @example
 * ```ts
 * customMethodArgv(method, { scope: 'batman', dataDir: '/data', connstring: 'host=10.0.0.1 port=5432' });
 * // ['/usr/bin/restore', '--no_leader=1', '--scope=batman', '--role=replica', '--datadir=/data', '--connstring=host=10.0.0.1 port=5432']
 * ```
 */
export function customMethodArgv(method: CommandMethod, target: ReplicaTarget): string[] {
  const params = new Map(method.params);
  if (method.noParams) {
    for (const k of ['no_params', 'no_leader', 'keep_data']) params.delete(k);
  } else {
    params.set('scope', target.scope);
    params.set('role', 'replica');
    params.set('datadir', target.dataDir);
    params.set('connstring', target.connstring);
  }
  return [...method.command, ...[...params].map(([k, v]) => `--${k}=${v}`)];
}

/**
 * pg_basebackup's arguments: WAL streamed alongside (`-X stream`), a fast checkpoint unless the
 * user chose `checkpoint`, then the user's `postgresql.basebackup` options (Patroni's order).
 *
 * @example
 * ```ts
 * basebackupArgv(['--max-rate=100M'], '/data', "host='10.0.0.1' port='5432'");
 * // ['--pgdata=/data', '-X', 'stream', '--checkpoint=fast', "--dbname=host='10.0.0.1' port='5432'", '--max-rate=100M']
 * ```
 */
export function basebackupArgv(options: readonly string[], dataDir: string, dsn: string): string[] {
  const ownCheckpoint = options.some((o) => o === '--checkpoint' || o.startsWith('--checkpoint='));
  return [`--pgdata=${dataDir}`, '-X', 'stream', ...(ownCheckpoint ? [] : ['--checkpoint=fast']), `--dbname=${dsn}`, ...options];
}

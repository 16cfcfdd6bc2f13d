import type { PgSettings } from '@pgtools/testkit';

/**
 * The server settings every contender runs with. Generous WAL and checkpoint limits so no
 * checkpoint lands inside a measured window (each pass starts with an explicit CHECKPOINT);
 * autovacuum off so it never competes for the table's locks or for the CPU mid-run.
 *
 * @example
 * ```ts
 * const cluster = await startPostgres({ settings: benchSettings({ fsync: false }) });
 * ```
 */
export function benchSettings({ fsync }: { fsync: boolean }): PgSettings {
  return {
    shared_buffers: '512MB',
    max_wal_size: '4GB',
    min_wal_size: '1GB',
    checkpoint_timeout: '30min',
    maintenance_work_mem: '256MB',
    work_mem: '16MB',
    max_parallel_maintenance_workers: 2,
    wal_level: 'replica',
    synchronous_commit: 'on',
    fsync: fsync ? 'on' : 'off',
    autovacuum: 'off',
    max_connections: 100,
    log_min_messages: 'warning',
  };
}

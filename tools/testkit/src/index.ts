export { startPostgres, pgBinDir } from './postgres.js';
export type { PgCluster, PgSettings, StartPostgresOptions, TestDatabase } from './postgres.js';
export { startEtcd } from './etcd.js';
export type { EtcdCluster, EtcdMember } from './etcd.js';
export { startHaproxy, haproxyConfig } from './haproxy.js';
export type { Haproxy, HaproxyLayout, HaproxyNode } from './haproxy.js';
export { isAlive, freePort, makeTempDir, serverUser, spawnManaged, startReaper, waitFor } from './process.js';
export type { ManagedProcess, OsUser, SpawnOptions, TempDir, Reaper } from './process.js';

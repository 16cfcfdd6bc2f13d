import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { haproxyConfig, pgBinDir } from '@pgtools/testkit';

const require = createRequire(import.meta.url);

/** Absolute paths of the committed bin shims of the CLIs the lab drives. */
export function binPaths(): { haAgent: string; hactl: string; repack: string } {
  const haDir = join(require.resolve('@pgtools/ha-agent-cli/package.json'), '..');
  const repackDir = join(require.resolve('@pgtools/repack-cli/package.json'), '..');
  return { haAgent: join(haDir, 'bin', 'ha-agent.js'), hactl: join(haDir, 'bin', 'hactl.js'), repack: join(repackDir, 'bin', 'pgtools-repack.js') };
}

/** The etcd server binary (`ETCD_BIN`, else the Debian package's). */
export function etcdBinary(): string {
  if (process.env.ETCD_BIN) return process.env.ETCD_BIN;
  for (const candidate of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(candidate)) return candidate;
  throw new Error('etcd not found: install etcd-server (apt-get install etcd-server) or set ETCD_BIN');
}

export interface Timings {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

/**
 * The seed article's Patroni configuration, one node of it: on loopback ports, or on the node's
 * own host address in the lab network (`host`, with `hbaNet` the network PostgreSQL trusts).
 */
export function agentConfigYaml(o: {
  scope: string;
  name: string;
  dir: string;
  host?: string;
  hbaNet?: string;
  pgPort: number;
  apiPort: number;
  etcdHosts: string[];
  timings: Timings;
}): string {
  const host = o.host ?? '127.0.0.1';
  const hbaNet = o.hbaNet ?? '127.0.0.1/32';
  return `# Written by the pgtools lab; the seed article's layout (Patroni-compatible).
scope: ${o.scope}
name: ${o.name}
log:
  level: INFO
restapi:
  listen: ${host}:${o.apiPort}
  connect_address: ${host}:${o.apiPort}
etcd3:
  hosts: [${o.etcdHosts.join(', ')}]
bootstrap:
  dcs:
    ttl: ${o.timings.ttl}
    loop_wait: ${o.timings.loopWait}
    retry_timeout: ${o.timings.retryTimeout}
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - local all all trust
    - host all all ${hbaNet} trust
    - host replication all ${hbaNet} trust
postgresql:
  listen: ${host}:${o.pgPort}
  connect_address: ${host}:${o.pgPort}
  data_dir: ${join(o.dir, 'data')}
  bin_dir: ${pgBinDir()}
  pgpass: ${join(o.dir, 'pgpass')}
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: postgres, password: postgres}
  parameters:
    unix_socket_directories: '${o.dir}'
    shared_buffers: 32MB
watchdog:
  mode: "off"
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
`;
}

/** What `hactl -c` needs: the scope and where etcd is. */
export function hactlConfigYaml(scope: string, etcdHosts: string[]): string {
  return `scope: ${scope}\nnamespace: /service/\netcd3:\n  hosts: [${etcdHosts.join(', ')}]\n`;
}

/**
 * HAProxy in the seed's layout (writer port checked with `OPTIONS /primary`, reader port with
 * `OPTIONS /replica`); `tight` checks every second and marks a server up after one good check.
 */
export function labHaproxyConfig(
  nodes: Array<{ name: string; host?: string; pgPort: number; apiPort: number }>,
  ports: { writerPort: number; readerPort: number; statsPort: number },
  tight: boolean,
  network?: { clientNetns: string; forwards: Array<{ name: string; port: number; host: string }> },
): string {
  const checks = tight ? { interMs: 1000, fall: 2, rise: 1 } : { interMs: 3000, fall: 3, rise: 2 };
  const base = haproxyConfig(
    { nodes, ...checks, ...(network ? { serverNetns: network.clientNetns } : {}) },
    { primaryPort: ports.writerPort, replicaPort: ports.readerPort, statsPort: ports.statsPort },
  );
  if (!network) return base;
  // In the lab network every node's own ports (PostgreSQL, REST, etcd) are reachable from this
  // host only through HAProxy: same port number on 127.0.0.1, opened from the client namespace.
  const forwards = network.forwards.map(
    (f) => `
listen ${f.name}
    bind 127.0.0.1:${f.port}
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    retries 0
    server ${f.name} ${f.host}:${f.port} namespace ${network.clientNetns}
`,
  );
  return base + forwards.join('');
}

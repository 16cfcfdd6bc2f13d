import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { PgToolsError } from '@pgtools/core';
import { parseConfig } from '../src/index.js';

// Patroni's documented example (postgres0.yml, etcd: renamed etcd3:): as shipped it parses without a
// warning; with every key its comments offer switched on, each key is honoured or named in a refusal.
const TEXT = readFileSync(fileURLToPath(new URL('./fixtures/patroni-postgres0.yml', import.meta.url)), 'utf8');

/** The example with every commented-out key enabled, with the values its comments give. */
function everyKeyOn(): ReturnType<typeof parseDocument> {
  const doc = parseDocument(TEXT);
  const on: Array<[string[], unknown]> = [
    [['namespace'], '/service/'],
    [['restapi', 'cafile'], '/etc/ssl/certs/ssl-cacert-snakeoil.pem'],
    [['restapi', 'certfile'], '/etc/ssl/certs/ssl-cert-snakeoil.pem'],
    [['restapi', 'keyfile'], '/etc/ssl/private/ssl-cert-snakeoil.key'],
    [['restapi', 'authentication'], { username: 'username', password: 'password' }],
    [
      ['ctl'],
      {
        insecure: false,
        certfile: '/etc/ssl/certs/ssl-cert-snakeoil.pem',
        keyfile: '/etc/ssl/private/ssl-cert-snakeoil.key',
        cacert: '/etc/ssl/certs/ssl-cacert-snakeoil.pem',
      },
    ],
    [['citus'], { database: 'citus', group: 0 }],
    [
      ['etcd3', 'hosts'],
      ['127.0.0.1:2379', '127.0.0.1:2380'],
    ],
    [['etcd3', 'use_proxies'], true],
    [['raft'], { data_dir: '.', self_addr: '127.0.0.1:2222', partner_addrs: ['127.0.0.1:2223', '127.0.0.1:2224'] }],
    [['bootstrap', 'dcs', 'primary_start_timeout'], 300],
    [['bootstrap', 'dcs', 'synchronous_mode'], false],
    [['bootstrap', 'dcs', 'standby_cluster'], { host: '127.0.0.1', port: 1111, primary_slot_name: 'patroni' }],
    [['bootstrap', 'dcs', 'postgresql', 'use_slots'], true],
    [
      ['bootstrap', 'dcs', 'postgresql', 'parameters'],
      {
        wal_level: 'hot_standby',
        hot_standby: 'on',
        max_connections: 100,
        max_worker_processes: 8,
        wal_keep_segments: 8,
        max_wal_senders: 10,
        max_replication_slots: 10,
        max_prepared_transactions: 0,
        max_locks_per_transaction: 64,
        wal_log_hints: 'on',
        track_commit_timestamp: 'off',
        archive_mode: 'on',
        archive_timeout: '1800s',
        archive_command: 'mkdir -p ../wal_archive && test ! -f ../wal_archive/%f && cp %p ../wal_archive/%f',
      },
    ],
    [['bootstrap', 'dcs', 'postgresql', 'recovery_conf'], { restore_command: 'cp ../wal_archive/%f %p' }],
    [['bootstrap', 'post_init'], '/usr/local/bin/setup_cluster.sh'],
    [['postgresql', 'proxy_address'], '127.0.0.1:5433'],
    [['postgresql', 'bin_dir'], '/usr/lib/postgresql/15/bin'],
    [['postgresql', 'config_dir'], '/etc/postgresql/15/main'],
    [['postgresql', 'krbsrvname'], 'postgres'],
    [['postgresql', 'parameters', 'krb_server_keyfile'], '/var/spool/keytabs/postgres'],
    [['postgresql', 'pre_promote'], '/path/to/pre_promote.sh'],
    [['watchdog'], { mode: 'automatic', device: '/dev/watchdog', safety_margin: 5 }],
    [['tags', 'failover_priority'], 1],
    [['tags', 'sync_priority'], 1],
  ];
  for (const [path, value] of on) doc.setIn(path, value);
  return doc;
}

describe("Patroni's example configuration (postgres0.yml)", () => {
  it('as shipped: parses without a warning, every key read', () => {
    const { config, warnings } = parseConfig(TEXT, {});
    expect(warnings).toEqual([]);
    expect(config.scope).toBe('batman');
    expect(config.etcd3.hosts).toEqual(['127.0.0.1:2379']);
    expect(config.bootstrap.initdb).toEqual(['--encoding=UTF8', '--data-checksums']);
    expect(config.bootstrap.dcs.postgresql.pgHba).toEqual(['host replication replicator 127.0.0.1/32 md5', 'host all all 0.0.0.0/0 md5']);
    expect(config.bootstrap.dcs.postgresql.usePgRewind).toBe(true);
    expect(config.postgresql.authentication.rewind).toEqual({ username: 'rewind_user', password: 'rewind_password' });
    expect(config.postgresql.pgpass).toBe('/tmp/pgpass0');
    expect(config.tags).toMatchObject({ noloadbalance: false, clonefrom: false, nostream: false });
  });

  it('with every commented key on: each one is honoured or refused by name, nothing is warned and ignored', () => {
    const doc = everyKeyOn();
    const refused: string[] = [];
    for (;;) {
      try {
        const { config, warnings } = parseConfig(doc.toString(), {});
        expect(warnings).toEqual([]);
        expect(config.etcd3.hosts).toEqual(['127.0.0.1:2379', '127.0.0.1:2380']);
        expect(config.bootstrap.dcs.postgresql.recoveryConf).toEqual({ restore_command: 'cp ../wal_archive/%f %p' });
        expect(config.bootstrap.postBootstrap).toBe('/usr/local/bin/setup_cluster.sh');
        expect(config.postgresql.proxyAddress).toBe('127.0.0.1:5433');
        expect(config.postgresql.prePromote).toBe('/path/to/pre_promote.sh');
        expect(config.restapi).toMatchObject({ certfile: '/etc/ssl/certs/ssl-cert-snakeoil.pem', authentication: { username: 'username' } });
        expect(config.tags.failover_priority).toBe(1);
        expect(config.tags.sync_priority).toBe(1);
        break;
      } catch (err) {
        if (!(err instanceof PgToolsError)) throw err;
        const key = err.message.slice(0, err.message.indexOf(':'));
        refused.push(key);
        expect(doc.hasIn(key.split('.'))).toBe(true);
        doc.deleteIn(key.split('.'));
      }
    }
    expect(refused.sort()).toEqual(['citus', 'postgresql.krbsrvname', 'raft']);
  });
});

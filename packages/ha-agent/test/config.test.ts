import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ETCD_V2_ADVICE, loadConfig, parseConfig, parseDynamicConfig } from '../src/index.js';
import { MINIMAL, refusal } from './minimal-config.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const read = (name: string) => readFileSync(fixture(name), 'utf8');
const NOENV = {};

describe('parseConfig with the seed article configuration', () => {
  it('accepts the seed config adapted to loopback (etcd: renamed etcd3:)', () => {
    const { config, warnings } = parseConfig(read('seed-config-loopback.yml'), NOENV);
    expect(warnings).toEqual([]);
    expect(config.scope).toBe('stampede');
    expect(config.name).toBe('node1');
    expect(config.namespace).toBe('/service/');
    expect(config.restapi).toEqual({ listen: '127.0.0.1:8008', connectAddress: '127.0.0.1:8008' });
    expect(config.etcd3.hosts).toEqual(['127.0.0.1:2379']);
    expect(config.bootstrap.dcs).toEqual({
      ttl: 30,
      loopWait: 10,
      retryTimeout: 10,
      maximumLagOnFailover: 1048576,
      primaryStartTimeout: 300,
      synchronousMode: false,
      synchronousQuorum: false,
      synchronousNodeCount: 1,
      synchronousModeStrict: false,
      failsafeMode: false,
      checkTimeline: false,
      primaryStopTimeout: 0,
      maximumLagOnSyncnode: -1,
      permanentSlots: [],
      ignoreSlots: [],
      memberSlotsTtlMs: 1_800_000,
      postgresql: {
        usePgRewind: true,
        useSlots: true,
        removeDataDirectoryOnRewindFailure: false,
        removeDataDirectoryOnDivergedTimelines: false,
        parameters: { wal_level: 'replica', hot_standby: 'on', logging_collector: 'on', max_wal_senders: 5, max_replication_slots: 5, wal_log_hints: 'on' },
      },
    });
    expect(config.bootstrap.dcsDocument.loop_wait).toBe(10);
    expect(config.bootstrap.initdb).toEqual(['--encoding=UTF8', '--data-checksums']);
    expect(config.bootstrap.pgHba).toHaveLength(4);
    expect(config.bootstrap.users).toEqual({ admin: { password: 'admin', options: ['createrole', 'createdb'] } });
    expect(config.postgresql).toMatchObject({
      listen: '127.0.0.1:5432',
      connectAddress: '127.0.0.1:5432',
      dataDir: '/var/lib/postgresql/12/main',
      binDir: '/usr/lib/postgresql/12/bin',
      pgpass: '/tmp/pgpass0',
      authentication: { replication: { username: 'replicator', password: 'vagrant' }, superuser: { username: 'postgres', password: 'vagrant' } },
      parameters: { unix_socket_directories: '/var/run/postgresql' },
    });
    expect(config.watchdog).toEqual({ mode: 'required', device: '/dev/watchdog', safetyMargin: 5, softwareFence: true });
    expect(config.tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false });
  });

  it('refuses the unchanged seed config (etcd:) with the etcd3 advice', () => {
    const err = refusal(() => parseConfig(read('seed-config.yml'), NOENV));
    expect(err.code).toBe('invalid_config');
    expect(err.message).toContain('rename it `etcd3:` (etcd 3.4 ships with the v2 API off, and patronictl reads v3 keys)');
    expect(err.hint).toBe(ETCD_V2_ADVICE);
  });

  it('accepts the Patroni lab configuration, watchdog "off" and rewind user included', () => {
    const { config, warnings } = parseConfig(read('lab-node1.yml'), NOENV);
    expect(warnings).toEqual([]);
    expect(config.watchdog.mode).toBe('off');
    expect(config.postgresql.authentication.rewind).toEqual({ username: 'postgres', password: 'postgres' });
    expect(config.bootstrap.initdb).toEqual(['--encoding=UTF8', '--locale=C.UTF-8']);
    expect(config.log).toMatchObject({ level: 'INFO' });
  });
});

describe('parseConfig rules', () => {
  it('applies Patroni defaults', () => {
    const { config } = parseConfig(MINIMAL, NOENV);
    expect(config.bootstrap.dcs).toMatchObject({
      ttl: 30,
      loopWait: 10,
      retryTimeout: 10,
      maximumLagOnFailover: 1048576,
      primaryStartTimeout: 300,
      synchronousMode: false,
    });
    expect(config.namespace).toBe('/service/');
    expect(config.watchdog).toEqual({ mode: 'automatic', device: '/dev/watchdog', safetyMargin: 5, softwareFence: true });
  });

  it('turns the software fence off with watchdog.software_fence: false, and refuses a non-boolean', () => {
    expect(parseConfig(`${MINIMAL}watchdog:\n  software_fence: false\n`, NOENV).config.watchdog.softwareFence).toBe(false);
    expect(() => parseConfig(`${MINIMAL}watchdog:\n  software_fence: sometimes\n`, NOENV)).toThrow(/watchdog.software_fence/);
  });

  it('reads YAML 1.1 like PyYAML: unquoted off is false (watchdog off)', () => {
    const { config } = parseConfig(`${MINIMAL}watchdog:\n  mode: off\n`, NOENV);
    expect(config.watchdog.mode).toBe('off');
  });

  it('accepts etcd3.hosts as a comma string or etcd3.host, adding the default port', () => {
    const text = MINIMAL.replace('etcd3: {hosts: [127.0.0.1:2379]}', 'etcd3: {hosts: "10.0.0.1:2379, 10.0.0.2"}');
    expect(parseConfig(text, NOENV).config.etcd3.hosts).toEqual(['10.0.0.1:2379', '10.0.0.2:2379']);
    const single = MINIMAL.replace('etcd3: {hosts: [127.0.0.1:2379]}', 'etcd3: {host: 10.0.0.3:2380}');
    expect(parseConfig(single, NOENV).config.etcd3.hosts).toEqual(['10.0.0.3:2380']);
  });

  it('applies PATRONI_* environment overrides over the file', () => {
    const { config } = parseConfig(MINIMAL, {
      PATRONI_NAME: 'node9',
      PATRONI_SCOPE: 'other',
      PATRONI_NAMESPACE: 'pg',
      PATRONI_RESTAPI_LISTEN: '127.0.0.1:9008',
      PATRONI_RESTAPI_CONNECT_ADDRESS: '127.0.0.1:9008',
      PATRONI_RESTAPI_USERNAME: 'api',
      PATRONI_RESTAPI_PASSWORD: 'apipw',
      PATRONI_ETCD3_HOSTS: '127.0.0.1:23790,127.0.0.1:23791',
      PATRONI_POSTGRESQL_LISTEN: '127.0.0.1:6432',
      PATRONI_POSTGRESQL_CONNECT_ADDRESS: '127.0.0.1:6432',
      PATRONI_POSTGRESQL_DATA_DIR: '/data/pg',
      PATRONI_POSTGRESQL_BIN_DIR: '/usr/lib/postgresql/15/bin',
      PATRONI_POSTGRESQL_PGPASS: '/tmp/pgpass9',
      PATRONI_REPLICATION_USERNAME: 'rep',
      PATRONI_REPLICATION_PASSWORD: 'reppw',
      PATRONI_SUPERUSER_USERNAME: 'su',
      PATRONI_SUPERUSER_PASSWORD: 'supw',
      PATRONI_admin_PASSWORD: 'adminpw',
      PATRONI_admin_OPTIONS: 'createdb,createrole',
    });
    expect(config.name).toBe('node9');
    expect(config.scope).toBe('other');
    expect(config.namespace).toBe('/pg/');
    expect(config.restapi).toMatchObject({
      listen: '127.0.0.1:9008',
      connectAddress: '127.0.0.1:9008',
      authentication: { username: 'api', password: 'apipw' },
    });
    expect(config.etcd3.hosts).toEqual(['127.0.0.1:23790', '127.0.0.1:23791']);
    expect(config.postgresql).toMatchObject({
      listen: '127.0.0.1:6432',
      connectAddress: '127.0.0.1:6432',
      dataDir: '/data/pg',
      binDir: '/usr/lib/postgresql/15/bin',
      pgpass: '/tmp/pgpass9',
      authentication: { replication: { username: 'rep', password: 'reppw' }, superuser: { username: 'su', password: 'supw' } },
    });
    expect(config.bootstrap.users.admin).toEqual({ password: 'adminpw', options: ['createdb', 'createrole'] });
  });

  it('refuses PATRONI_ETCD_HOSTS (v2) with the advice', () => {
    const err = refusal(() => parseConfig(MINIMAL, { PATRONI_ETCD_HOSTS: '127.0.0.1:2379' }));
    expect(err.code).toBe('invalid_config');
    expect(err.hint).toMatch(/v2 API off/);
  });

  it('warns about unknown keys and Patroni keys that cannot change the cluster', () => {
    const { warnings } = parseConfig(`${MINIMAL}frobnicate: 1\nbootstrap:\n  dcs:\n    ttl: 30\n    max_timelines_history: 5\n    nonsense: 2\n`, NOENV);
    expect(warnings).toEqual([
      'bootstrap.dcs.max_timelines_history: not supported by pgtools, ignored (the full history is kept in the `history` key; it only grows that key)',
      'bootstrap.dcs.nonsense: unknown key, ignored',
      'frobnicate: unknown key, ignored',
    ]);
  });

  it('refuses Patroni keys it would ignore, and limited keys with a value that would behave differently', () => {
    expect(refusal(() => parseConfig(`${MINIMAL}bootstrap:\n  dcs:\n    standby_cluster: {primary_slot_name: dr}\n`, NOENV)).message).toMatch(
      /^bootstrap\.dcs\.standby_cluster: needs host, port or restore_command/,
    );
    expect(refusal(() => parseConfig(`${MINIMAL}bootstrap:\n  dcs:\n    synchronous_node_count: 0\n`, NOENV)).message).toMatch(
      /^bootstrap\.dcs\.synchronous_node_count: /,
    );
    const quorum = parseConfig(`${MINIMAL}bootstrap:\n  dcs:\n    synchronous_mode: quorum\n    synchronous_node_count: 2\n`, NOENV);
    expect(quorum.warnings).toEqual([]);
    expect(quorum.config.bootstrap.dcs).toMatchObject({ synchronousMode: true, synchronousQuorum: true, synchronousNodeCount: 2 });
    expect(parseConfig(`${MINIMAL}bootstrap:\n  dcs:\n    synchronous_node_count: 1\n    member_slots_ttl: 30min\n`, NOENV).warnings).toEqual([]);
    expect(refusal(() => parseConfig(`${MINIMAL}citus: {group: 0, database: citus}\n`, NOENV)).message).toMatch(/^citus: is not supported/);
  });

  it('refuses wrong types naming the key path', () => {
    const cases: Array<[string, string]> = [
      [`${MINIMAL}bootstrap:\n  dcs:\n    ttl: thirty\n`, 'bootstrap.dcs.ttl'],
      [`${MINIMAL}bootstrap:\n  dcs:\n    postgresql:\n      use_slots: maybe\n`, 'bootstrap.dcs.postgresql.use_slots'],
      [`${MINIMAL}bootstrap:\n  initdb: [{encoding: UTF8, locale: C}]\n`, 'bootstrap.initdb[0]'],
      [`${MINIMAL}bootstrap:\n  initdb: [pgdata]\n`, 'bootstrap.initdb'],
      [`${MINIMAL}bootstrap:\n  pg_hba: host all all 0.0.0.0/0 md5\n`, 'bootstrap.pg_hba'],
      [`${MINIMAL}tags:\n  nofailover: sometimes\n`, 'tags.nofailover'],
      [`${MINIMAL}watchdog:\n  mode: always\n`, 'watchdog.mode'],
      [MINIMAL.replace('data_dir: /tmp/n1', 'data_dir: [a]'), 'postgresql.data_dir'],
      [MINIMAL.replace('listen: 127.0.0.1:8008', 'listen: 8008'), 'restapi.listen'],
      [MINIMAL.replace('name: n1\n', ''), 'name'],
      [MINIMAL.replace('    replication: {username: replicator}\n', ''), 'postgresql.authentication.replication.username'],
      [MINIMAL.replace('etcd3: {hosts: [127.0.0.1:2379]}', ''), 'etcd3'],
      ['restapi: [1, 2', '(YAML)'],
    ];
    for (const [text, path] of cases) {
      const err = refusal(() => parseConfig(text, NOENV));
      expect([path, err.code]).toEqual([path, 'invalid_config']);
      if (path !== '(YAML)') expect(err.message.startsWith(`${path}:`), `${path}: ${err.message}`).toBe(true);
    }
  });

  it('refuses impossible timings: loop_wait + 2 * retry_timeout > ttl', () => {
    const err = refusal(() => parseConfig(`${MINIMAL}bootstrap:\n  dcs:\n    ttl: 20\n    loop_wait: 10\n    retry_timeout: 10\n`, NOENV));
    expect(err.code).toBe('invalid_config');
    expect(err.message).toMatch(/^bootstrap\.dcs\.ttl: impossible timing: loop_wait \(10\) \+ 2 \* retry_timeout \(10\) = 30 exceeds ttl \(20\)/);
    // the lab's fast timing is fine
    expect(parseDynamicConfig({ ttl: 10, loop_wait: 2, retry_timeout: 4 }).ttl).toBe(10);
    // failsafe_mode, in bootstrap.dcs or in the etcd config key (hactl edit-config -s failsafe_mode=true).
    expect(parseDynamicConfig({ failsafe_mode: true }, 'config').failsafeMode).toBe(true);
    expect(parseDynamicConfig({}, 'config').failsafeMode).toBe(false);
    expect(parseConfig(`${MINIMAL}bootstrap:\n  dcs:\n    failsafe_mode: true\n`, NOENV).config.bootstrap.dcs.failsafeMode).toBe(true);
    expect(refusal(() => parseDynamicConfig({ failsafe_mode: 'sometimes' }, 'config')).message).toMatch(/^config\.failsafe_mode: /);
    expect(() => parseDynamicConfig({ ttl: 10, loop_wait: 3, retry_timeout: 4 }, 'config')).toThrow(/^config\.ttl: impossible timing/);
  });

  it('refuses a required watchdog whose timeout cannot exceed loop_wait, warns in automatic mode', () => {
    const bad = `${MINIMAL}bootstrap:\n  dcs: {ttl: 20, loop_wait: 5, retry_timeout: 5}\nwatchdog: {mode: required, safety_margin: 15}\n`;
    expect(refusal(() => parseConfig(bad, NOENV)).message).toMatch(/^watchdog\.safety_margin:/);
    const { warnings } = parseConfig(bad.replace('required', 'automatic'), NOENV);
    expect(warnings.some((w) => w.startsWith('watchdog.safety_margin:'))).toBe(true);
  });

  it('never puts a password in an error message', () => {
    const err = refusal(() => parseConfig(MINIMAL.replace('superuser: {username: postgres}', 'superuser: {username: postgres, password: [hunter2]}'), NOENV));
    expect(err.message).toMatch(/^postgresql\.authentication\.superuser\.password:/);
    expect(err.message).not.toContain('hunter2');
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgtools-test-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('warns when a file readable by others contains passwords', async () => {
    const file = join(dir, 'patroni.yml');
    writeFileSync(file, read('seed-config-loopback.yml'));
    chmodSync(file, 0o644);
    const open = await loadConfig(file, NOENV);
    expect(open.warnings.some((w) => w.includes('readable by other users'))).toBe(true);
    chmodSync(file, 0o600);
    expect((await loadConfig(file, NOENV)).warnings).toEqual([]);
    // no passwords: no warning even when world-readable
    const nopw = join(dir, 'nopw.yml');
    writeFileSync(nopw, MINIMAL);
    chmodSync(nopw, 0o644);
    expect((await loadConfig(nopw, NOENV)).warnings).toEqual([]);
  });

  it('reports a missing file as config_unreadable and accepts YAML text', async () => {
    await expect(loadConfig(join(dir, 'missing.yml'), NOENV)).rejects.toMatchObject({ code: 'config_unreadable' });
    expect((await loadConfig(MINIMAL, NOENV)).config.name).toBe('n1');
  });
});

describe('recovery_conf', () => {
  it('local and dynamic sections are read; the local one replaces the dynamic one at write time', () => {
    const { config } = parseConfig(
      `${MINIMAL.replace('  data_dir: /tmp/n1\n', '  data_dir: /tmp/n1\n  recovery_conf: {recovery_min_apply_delay: 5min}\n')}bootstrap:\n  dcs:\n    postgresql:\n      recovery_conf: {restore_command: 'cp /a/%f %p'}\n`,
      NOENV,
    );
    expect(config.postgresql.recoveryConf).toEqual({ recovery_min_apply_delay: '5min' });
    expect(config.bootstrap.dcs.postgresql.recoveryConf).toEqual({ restore_command: 'cp /a/%f %p' });
  });

  it('refuses the settings the agent writes itself, naming the key', () => {
    for (const key of ['primary_conninfo', 'primary_slot_name', 'recovery_target_time', 'Recovery_Target_Timeline']) {
      const err = refusal(() => parseDynamicConfig({ postgresql: { recovery_conf: { [key]: 'x' } } }, 'config'));
      expect(err.message).toMatch(new RegExp(`^config\\.postgresql\\.recovery_conf\\.${key}: is managed by the agent`));
    }
    expect(refusal(() => parseDynamicConfig({ postgresql: { recovery_conf: { restore_command: ['cp'] } } })).message).toMatch(
      /^bootstrap\.dcs\.postgresql\.recovery_conf\.restore_command: must be a string/,
    );
  });
});

describe('pg_ctl_timeout', () => {
  it('bounds a stop: the local value wins over the dynamic one, Patroni default 60 s', async () => {
    const { PostgresControl } = await import('../src/index.js');
    const local = parseConfig(`${MINIMAL}  pg_ctl_timeout: 15\nbootstrap:\n  dcs:\n    postgresql: {pg_ctl_timeout: 90}\n`, NOENV).config;
    expect(new PostgresControl({ config: local }).ctlTimeoutMs).toBe(15_000);
    const dynamicOnly = parseConfig(`${MINIMAL}bootstrap:\n  dcs:\n    postgresql: {pg_ctl_timeout: 90}\n`, NOENV).config;
    expect(new PostgresControl({ config: dynamicOnly }).ctlTimeoutMs).toBe(90_000);
    expect(new PostgresControl({ config: parseConfig(MINIMAL, NOENV).config }).ctlTimeoutMs).toBe(60_000);
    expect(refusal(() => parseConfig(`${MINIMAL}  pg_ctl_timeout: soon\n`, NOENV)).message).toMatch(/^postgresql\.pg_ctl_timeout: must be an integer/);
  });
});

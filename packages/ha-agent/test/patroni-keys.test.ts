import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { PgToolsError } from '@pgtools/core';
import { PATRONI_KEYS, parseConfig, type KeyStatus } from '../src/index.js';
import { PATRONI_ENV } from '../src/config/env-overrides.js';

// docs/coming-from-patroni.md's key table is rendered from PATRONI_KEYS; this test reads the table
// back and checks every row against the parser: a supported key is read without a warning, a
// warned one warns naming it, a refused one (or a limited one with another value) stops the parse
// naming it. PGTOOLS_WRITE_KEY_TABLE=1 rewrites the table from the code.

const DOC = fileURLToPath(new URL('../../../docs/coming-from-patroni.md', import.meta.url));
const BEGIN = '<!-- patroni-keys:begin (rendered from packages/ha-agent/src/config/patroni-keys.ts) -->';
const END = '<!-- patroni-keys:end -->';
const ENV_BEGIN = '<!-- patroni-env:begin (rendered from packages/ha-agent/src/config/env-overrides.ts) -->';
const ENV_END = '<!-- patroni-env:end -->';

// Keys that only make sense in pairs (a keyfile with its certfile, a password with its user) get
// their partner from here.
const BASE = parseYaml(`
scope: demo
name: n1
restapi:
  listen: 127.0.0.1:8008
  connect_address: 127.0.0.1:8008
  authentication: {username: api, password: secret}
  certfile: /c.pem
etcd3: {hosts: [127.0.0.1:2379], username: root, cert: /c.pem}
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /tmp/n1
  authentication:
    superuser: {username: postgres}
    replication: {username: replicator}
    rewind: {username: rewinder}
`) as Record<string, unknown>;

/** A value that works for each supported key; for a limited key, [accepted, refused]. */
const SUPPORTED: Record<string, unknown> = {
  name: 'n2',
  scope: 'other',
  namespace: '/pg/',
  log: { level: 'INFO' },
  'log.level': 'DEBUG',
  'log.type': 'json',
  'log.format': '%(asctime)s %(message)s',
  'log.dateformat': '%Y-%m-%d',
  'log.static_fields': { app: 'pg' },
  'log.dir': '/var/log/patroni',
  'log.file_num': 4,
  'log.file_size': 1000000,
  ctl: { insecure: true },
  'ctl.insecure': true,
  'ctl.cacert': '/ca.pem',
  'ctl.certfile': '/c.pem',
  'ctl.keyfile': '/k.pem',
  'ctl.keyfile_password': 'x',
  'ctl.authentication.username': 'u',
  'ctl.authentication.password': 'p',
  'restapi.listen': '127.0.0.1:8009',
  'restapi.connect_address': '127.0.0.1:8009',
  'restapi.authentication.username': 'u',
  'restapi.authentication.password': 'p',
  'restapi.certfile': '/c.pem',
  'restapi.keyfile': '/k.pem',
  'restapi.keyfile_password': 'x',
  'restapi.cafile': '/ca.pem',
  'restapi.ciphers': 'ECDHE-RSA-AES256-GCM-SHA384:!SSLv3',
  'restapi.verify_client': 'optional',
  'restapi.allowlist': ['127.0.0.1'],
  'restapi.allowlist_include_members': true,
  'etcd3.host': '127.0.0.1:2380',
  'etcd3.hosts': '127.0.0.1:2379,127.0.0.1:2380',
  'etcd3.url': 'https://127.0.0.1:2379',
  'etcd3.proxy': 'http://127.0.0.1:2379',
  'etcd3.use_proxies': true,
  'etcd3.protocol': 'https',
  'etcd3.username': 'root',
  'etcd3.password': 'x',
  'etcd3.cacert': '/ca.pem',
  'etcd3.cert': '/c.pem',
  'etcd3.key': '/k.pem',
  'bootstrap.dcs': { ttl: 30 },
  'bootstrap.initdb': ['data-checksums', { encoding: 'UTF8' }],
  'bootstrap.pg_hba': ['host all all 127.0.0.1/32 md5'],
  'bootstrap.users': { admin: { password: 'x', options: ['createdb'] } },
  'bootstrap.post_init': '/usr/local/bin/setup.sh',
  'bootstrap.post_bootstrap': '/usr/local/bin/setup.sh',
  'bootstrap.method': 'initdb',
  'bootstrap.<method>': { command: '/usr/local/bin/restore.sh', no_params: false },
  'bootstrap.dcs.postgresql.pg_hba': ['host all all 127.0.0.1/32 md5'],
  'bootstrap.dcs.postgresql.pg_ident': ['map1 sys1 pg1'],
  'postgresql.pg_ident': ['map1 sys1 pg1'],
  'postgresql.pg_ctl_timeout': 120,
  'postgresql.use_unix_socket': true,
  'postgresql.use_unix_socket_repl': true,
  'bootstrap.dcs.postgresql.use_unix_socket': true,
  'bootstrap.dcs.postgresql.use_unix_socket_repl': true,
  'bootstrap.dcs.postgresql.pg_ctl_timeout': 90,
  'postgresql.create_replica_methods': ['basebackup'],
  'postgresql.create_replica_method': ['basebackup'],
  'postgresql.<method>': { command: '/usr/local/bin/restore.sh', no_leader: true },
  'postgresql.basebackup': { 'max-rate': '100M' },
  'bootstrap.dcs.ttl': 40,
  'bootstrap.dcs.loop_wait': 5,
  'bootstrap.dcs.retry_timeout': 5,
  'bootstrap.dcs.maximum_lag_on_failover': 0,
  'bootstrap.dcs.primary_start_timeout': 0,
  'bootstrap.dcs.master_start_timeout': 0,
  'bootstrap.dcs.synchronous_mode_strict': true,
  'bootstrap.dcs.synchronous_mode': 'quorum',
  'bootstrap.dcs.synchronous_node_count': 2,
  'bootstrap.dcs.failsafe_mode': true,
  'bootstrap.dcs.maximum_lag_on_syncnode': 1048576,
  'bootstrap.dcs.primary_stop_timeout': 30,
  'bootstrap.dcs.master_stop_timeout': 30,
  'bootstrap.dcs.check_timeline': true,
  'bootstrap.dcs.standby_cluster': { host: '10.0.0.1', port: 5432 },
  'bootstrap.dcs.standby_cluster.host': '10.0.0.1,10.0.0.2',
  'bootstrap.dcs.standby_cluster.port': 5433,
  'bootstrap.dcs.standby_cluster.primary_slot_name': 'dr',
  'bootstrap.dcs.standby_cluster.restore_command': 'cp /archive/%f %p',
  'bootstrap.dcs.standby_cluster.archive_cleanup_command': 'pg_archivecleanup /archive %r',
  'bootstrap.dcs.standby_cluster.recovery_min_apply_delay': '5min',
  'bootstrap.dcs.postgresql.remove_data_directory_on_diverged_timelines': true,
  'postgresql.use_pg_rewind': true,
  'postgresql.remove_data_directory_on_rewind_failure': true,
  'postgresql.remove_data_directory_on_diverged_timelines': true,
  'bootstrap.dcs.pause': false,
  'bootstrap.dcs.postgresql.parameters': { max_connections: 50 },
  'bootstrap.dcs.postgresql.use_pg_rewind': true,
  'bootstrap.dcs.postgresql.use_slots': false,
  'bootstrap.dcs.slots': { cdc: { type: 'logical', database: 'app', plugin: 'pgoutput' }, archiver: null },
  'bootstrap.dcs.ignore_slots': [{ name: 'x' }, { type: 'logical', plugin: 'wal2json' }],
  'bootstrap.dcs.member_slots_ttl': 0,
  'bootstrap.dcs.postgresql.remove_data_directory_on_rewind_failure': true,
  'bootstrap.dcs.postgresql.recovery_conf': { restore_command: 'cp /archive/%f %p' },
  'postgresql.recovery_conf': { recovery_min_apply_delay: '5min' },
  'postgresql.listen': '127.0.0.1:5433',
  'postgresql.connect_address': '127.0.0.1:5433',
  'postgresql.data_dir': '/tmp/n2',
  'postgresql.config_dir': '/etc/pg',
  'postgresql.bin_dir': '/usr/lib/postgresql/15/bin',
  'postgresql.pgpass': '/tmp/pgpass',
  'postgresql.proxy_address': '127.0.0.1:6432',
  'postgresql.pre_promote': '/usr/local/bin/fence.sh --force',
  'postgresql.before_stop': '/usr/local/bin/drain.sh',
  'postgresql.parameters': { work_mem: '8MB' },
  'postgresql.pg_hba': ['local all all trust'],
  'postgresql.authentication.<user>.username': 'rep2',
  'postgresql.authentication.<user>.password': 'x',
  'postgresql.callbacks': { on_start: '/bin/true' },
  'postgresql.callbacks.on_start': '/bin/true',
  'postgresql.callbacks.on_stop': '/bin/true',
  'postgresql.callbacks.on_restart': '/bin/true',
  'postgresql.callbacks.on_reload': '/bin/true',
  'postgresql.callbacks.on_role_change': '/bin/true',
  'watchdog.mode': 'off',
  'watchdog.device': '/dev/watchdog1',
  'watchdog.safety_margin': 5,
  'watchdog.software_fence': false,
  'tags.nofailover': true,
  'tags.noloadbalance': true,
  'tags.clonefrom': true,
  'tags.nosync': true,
  'tags.replicatefrom': 'n3',
  'tags.failover_priority': 2,
  'tags.sync_priority': 2,
  'tags.nostream': false,
  'tags.<tag>': 'eu-west-1a',
};

const LIMITED: Record<string, [accepted: unknown, refused: unknown]> = {
  'postgresql.config_base_name': ['postgresql', 'pg'],
  'watchdog.driver': ['default', 'testing'],
  'bootstrap.dcs.standby_cluster.create_replica_methods': [['basebackup'], ['wal_e']],
  'postgresql.authentication.<user>.sslmode': ['prefer', 'verify-full'],
  'postgresql.authentication.<user>.sslnegotiation': ['postgres', 'direct'],
  'postgresql.authentication.<user>.gssencmode': ['disable', 'require'],
  'postgresql.authentication.<user>.channel_binding': ['prefer', 'require'],
};

/** Sections that must be mappings even when refused or warned. */
const REFUSED_VALUE: Record<string, unknown> = { consul: { host: '127.0.0.1:8500' }, etcd: { host: '127.0.0.1:2379' } };

function concrete(key: string): string {
  return key.replace('<user>', 'replication').replace('<tag>', 'zone').replace('<method>', 'wal_g');
}

/** A method section is read when the method names it. */
const CONTEXT: Record<string, Record<string, unknown>> = {
  'bootstrap.<method>': { 'bootstrap.method': 'wal_g' },
  'postgresql.<method>': { 'postgresql.create_replica_methods': ['wal_g', 'basebackup'] },
  // A standby_cluster needs host, port or restore_command; the other keys come with one.
  ...Object.fromEntries(
    ['primary_slot_name', 'archive_cleanup_command', 'recovery_min_apply_delay', 'create_replica_methods'].map((k) => [
      `bootstrap.dcs.standby_cluster.${k}`,
      { 'bootstrap.dcs.standby_cluster.host': '10.0.0.1' },
    ]),
  ),
};

function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = doc;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

function withKey(key: string, value: unknown): Record<string, unknown> {
  const doc = structuredClone(BASE);
  for (const [path, v] of Object.entries(CONTEXT[key] ?? {})) setPath(doc, path, v);
  setPath(doc, concrete(key), value);
  return doc;
}

function outcome(doc: Record<string, unknown>, env: Record<string, string> = {}): { warnings: string[] } | { refused: string } {
  try {
    return { warnings: parseConfig(stringify(doc), env).warnings };
  } catch (err) {
    if (!(err instanceof PgToolsError)) throw err;
    return { refused: err.message };
  }
}

interface TableRow {
  key: string;
  status: KeyStatus;
  note: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');
function renderKeys(): string {
  const lines = ['| key | status | note |', '|---|---|---|'];
  for (const k of PATRONI_KEYS) lines.push(`| \`${k.key}\` | ${k.status} | ${cell(k.note)} |`);
  return lines.join('\n');
}
function renderEnv(): string {
  const lines = ['| variable | sets |', '|---|---|'];
  for (const [variable, path] of PATRONI_ENV) lines.push(`| \`${variable}\` | \`${path.join('.')}\` |`);
  return lines.join('\n');
}

function bounds(text: string, begin: string, end: string): [number, number] {
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/coming-from-patroni.md lacks the markers ${begin} ... ${end}`);
  return [a + begin.length, b];
}
function between(text: string, begin: string, end: string): string {
  const [a, b] = bounds(text, begin, end);
  return text.slice(a, b).trim();
}
function replaceBetween(text: string, begin: string, end: string, body: string): string {
  const [a, b] = bounds(text, begin, end);
  return `${text.slice(0, a)}\n${body}\n${text.slice(b)}`;
}

function docRows(table: string): TableRow[] {
  return table
    .split('\n')
    .slice(2)
    .map((line) => {
      const m = /^\| `([^`]+)` \| (supported|limited|warned|refused) \| (.*) \|$/.exec(line);
      if (!m || !m[1] || !m[2] || m[3] === undefined) throw new Error(`unreadable key table row: ${line}`);
      return { key: m[1], status: m[2] as KeyStatus, note: m[3] };
    });
}

let docText = readFileSync(DOC, 'utf8');
if (process.env.PGTOOLS_WRITE_KEY_TABLE === '1') {
  docText = replaceBetween(replaceBetween(docText, BEGIN, END, renderKeys()), ENV_BEGIN, ENV_END, renderEnv());
  writeFileSync(DOC, docText);
}
const rows = docRows(between(docText, BEGIN, END));

describe('the Patroni key table in docs/coming-from-patroni.md', () => {
  it('is the table in the code (PGTOOLS_WRITE_KEY_TABLE=1 rewrites it)', () => {
    expect(between(docText, BEGIN, END)).toBe(renderKeys());
    expect(between(docText, ENV_BEGIN, ENV_END)).toBe(renderEnv());
  });

  it('has a sample for every supported and limited key (so none goes untested)', () => {
    const missing = rows.filter((r) => (r.status === 'supported' && !(r.key in SUPPORTED)) || (r.status === 'limited' && !(r.key in LIMITED)));
    expect(missing.map((r) => r.key)).toEqual([]);
  });

  it.each(rows.map((r) => [r.key, r.status, r] as const))('%s is %s in the parser', (key, status, row) => {
    const path = concrete(key);
    const mentions = (w: string) => w.startsWith(`${path}:`);
    if (status === 'supported') {
      const r = outcome(withKey(key, SUPPORTED[key]));
      expect(r).not.toHaveProperty('refused');
      if ('warnings' in r) expect(r.warnings.filter(mentions)).toEqual([]);
    } else if (status === 'limited') {
      const [accepted, refused] = LIMITED[key] ?? [];
      const ok = outcome(withKey(key, accepted));
      expect(ok).not.toHaveProperty('refused');
      if ('warnings' in ok) expect(ok.warnings.filter(mentions)).toEqual([]);
      const no = outcome(withKey(key, refused));
      expect(no).toHaveProperty('refused');
      if ('refused' in no) expect(no.refused.startsWith(`${path}: `)).toBe(true);
    } else if (status === 'warned') {
      const r = outcome(withKey(key, 'x'));
      expect(r).toHaveProperty('warnings');
      if ('warnings' in r) expect(r.warnings.filter(mentions)).toEqual([`${path}: not supported by pgtools, ignored (${row.note})`]);
    } else {
      const r = outcome(withKey(key, REFUSED_VALUE[key] ?? 'x'));
      expect(r).toHaveProperty('refused');
      if ('refused' in r) expect(r.refused.startsWith(`${path}: `)).toBe(true);
    }
  });
});

describe('PATRONI_* variables', () => {
  const statusOf = new Map(rows.map((r) => [r.key, r.status]));
  const keyOf = (path: readonly string[]) =>
    path.join('.').replace(/^postgresql\.authentication\.(superuser|replication|rewind)\./, 'postgresql.authentication.<user>.');

  it('every variable sets a key of the table', () => {
    expect(
      PATRONI_ENV.map(([, path]) => keyOf(path)).filter((k) => !statusOf.has(k) && !k.startsWith('postgresql.bin_name.') && !k.startsWith('citus.')),
    ).toEqual([]);
  });

  it.each(PATRONI_ENV.map(([variable, path]) => [variable, keyOf(path)] as const))('%s behaves like %s', (variable, key) => {
    const status = statusOf.get(key) ?? statusOf.get(key.split('.').slice(0, -1).join('.'));
    const path = PATRONI_ENV.find(([v]) => v === variable)?.[1].join('.') ?? '';
    const sample = status === 'limited' ? LIMITED[key]?.[1] : status === 'supported' ? SUPPORTED[key] : 'x';
    const text =
      typeof sample === 'object' && sample !== null ? (Array.isArray(sample) ? sample.join(',') : stringify(sample, { flow: true }).trim()) : String(sample);
    const r = outcome(BASE, { [variable]: text });
    if (status === 'supported') expect(r).not.toHaveProperty('refused');
    else if (status === 'warned' && 'warnings' in r) expect(r.warnings.some((w) => w.startsWith(`${path}:`))).toBe(true);
    else expect(r).toHaveProperty('refused');
  });
});

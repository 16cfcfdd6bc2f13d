import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import {
  basebackupArgv,
  customMethodArgv,
  emptyDataDir,
  parseConfig,
  runCancellable,
  usableMethods,
  type CommandMethod,
  type ReplicaMethod,
} from '../src/internals.js';
import { minimalConfig, refusal as refusalOf } from './minimal-config.js';

const NOENV = {};

const withPostgresql = (extra: string): string => `${minimalConfig({ scope: 'batman' })}${extra}\n`;

function parse(extra: string): { methods: ReplicaMethod[]; warnings: string[] } {
  const { config, warnings } = parseConfig(withPostgresql(extra), NOENV);
  return { methods: config.postgresql.replica?.methods ?? [], warnings };
}

function refusal(extra: string): PgToolsError {
  const err = refusalOf(() => parseConfig(withPostgresql(extra), NOENV));
  expect(err.code).toBe('invalid_config');
  return err;
}

function command(m: ReplicaMethod | undefined): CommandMethod {
  if (m?.kind !== 'command') throw new Error(`not a command method: ${JSON.stringify(m)}`);
  return m;
}

describe('postgresql.create_replica_methods', () => {
  it('defaults to pg_basebackup without options', () => {
    const { methods, warnings } = parse('');
    expect(methods).toEqual([{ kind: 'basebackup', name: 'basebackup', options: [] }]);
    expect(warnings).toEqual([]);
  });

  it("reads Patroni's documented examples: methods in order, sections, flags", () => {
    const { methods, warnings } = parse(`
  create_replica_methods: [wal_e, pgbackrest, basebackup]
  wal_e:
    command: patroni_wale_restore
    no_leader: 1
    envdir: /etc/wal-e
    use_iam: 1
  pgbackrest:
    command: /usr/bin/pgbackrest --stanza=batman --delta restore
    keep_data: True
    no_params: True
  basebackup:
    max-rate: '100M'`);
    expect(warnings).toEqual([]);
    expect(methods.map((m) => m.name)).toEqual(['wal_e', 'pgbackrest', 'basebackup']);
    const walE = command(methods[0]);
    expect(walE).toMatchObject({ command: ['patroni_wale_restore'], noLeader: true, keepData: false, noParams: false });
    expect(walE.params).toEqual([
      ['no_leader', '1'],
      ['envdir', '/etc/wal-e'],
      ['use_iam', '1'],
    ]);
    const pgbackrest = command(methods[1]);
    expect(pgbackrest).toMatchObject({
      command: ['/usr/bin/pgbackrest', '--stanza=batman', '--delta', 'restore'],
      keepData: true,
      noParams: true,
      noLeader: false,
    });
    expect(methods[2]).toEqual({ kind: 'basebackup', name: 'basebackup', options: ['--max-rate=100M'] });
  });

  it('a method without a section runs its name as the command; the alias create_replica_method works', () => {
    const { methods } = parse('  create_replica_method: [/usr/local/bin/restore-replica]');
    expect(command(methods[0])).toMatchObject({ command: ['/usr/local/bin/restore-replica'], params: [], noLeader: false });
  });

  it('an empty list means basebackup', () => {
    expect(parse('  create_replica_methods: []').methods).toEqual([{ kind: 'basebackup', name: 'basebackup', options: [] }]);
  });

  it('refuses wrong types naming the key', () => {
    expect(refusal('  create_replica_methods: wal_e').message).toMatch(/^postgresql\.create_replica_methods: must be a list/);
    expect(refusal('  create_replica_methods: [{a: b}]').message).toMatch(/^postgresql\.create_replica_methods\[0\]: must be a method name/);
    expect(refusal('  create_replica_methods: [x]\n  x: /bin/true').message).toMatch(/^postgresql\.x: must be a mapping/);
    expect(refusal('  create_replica_methods: [x]\n  x: {command: [a, b]}').message).toMatch(/^postgresql\.x\.command: must be a string/);
    expect(refusal('  create_replica_methods: [x]\n  x: {command: "restore \'unclosed"}').message).toMatch(/^postgresql\.x\.command: cannot be split/);
    expect(refusal('  create_replica_methods: [x]\n  x: {command: restore, opts: [a]}').message).toMatch(
      /^postgresql\.x\.opts: must be a string, number or boolean/,
    );
    expect(refusal('  create_replica_methods: [x]\n  x: {command: restore, envdir: }').message).toMatch(/^postgresql\.x\.envdir: has no value/);
    expect(refusal('  create_replica_methods: [x]\n  x: {command: restore, no_leader: maybe}').message).toMatch(/^postgresql\.x\.no_leader: must be a boolean/);
    expect(refusal('  create_replica_methods: [parameters]').message).toMatch(/^postgresql\.create_replica_methods\[0\]: "parameters" is a postgresql setting/);
  });
});

describe('postgresql.basebackup', () => {
  it('takes a mapping or a list of flags and single-key mappings, as pg_basebackup long options', () => {
    expect(parse('  basebackup: {max-rate: 100M, checkpoint: fast}').methods[0]).toEqual({
      kind: 'basebackup',
      name: 'basebackup',
      options: ['--max-rate=100M', '--checkpoint=fast'],
    });
    expect(parse('  basebackup: [verbose, {max-rate: "100M"}, {waldir: /pg-wal-mount/external-waldir}, {label: \'"my label"\'}]').methods[0]).toMatchObject({
      options: ['--verbose', '--max-rate=100M', '--waldir=/pg-wal-mount/external-waldir', '--label=my label'],
    });
    expect(parse('  basebackup: [{compress: server-zstd}]').methods[0]).toMatchObject({ options: ['--compress=server-zstd'] });
  });

  it('refuses the options the agent sets, naming the key', () => {
    for (const key of ['pgdata', 'dbname', 'format', 'wal-method', 'xlog-method', 'gzip', 'host', 'port', 'username', 'password', 'version']) {
      expect(refusal(`  basebackup: [{${key}: x}]`).message).toMatch(new RegExp(`^postgresql\\.basebackup\\[0\\]: option "${key}" is set by the agent`));
    }
    expect(refusal('  basebackup: {pgdata: /elsewhere}').message).toMatch(/^postgresql\.basebackup: option "pgdata" is set by the agent/);
    expect(refusal('  basebackup: [D]').message).toMatch(/^postgresql\.basebackup\[0\]: option "D": give pg_basebackup's long option name/);
    expect(refusal('  basebackup: [{compress: gzip}]').message).toMatch(/^postgresql\.basebackup\[0\]\.compress: only server-side compression/);
  });

  it('refuses values of the wrong type naming the key', () => {
    expect(refusal('  basebackup: fast').message).toMatch(/^postgresql\.basebackup: must be a list or a mapping/);
    expect(refusal('  basebackup: [{a: 1, b: 2}]').message).toMatch(/^postgresql\.basebackup\[0\]: must be an option name or a single-key mapping/);
    expect(refusal('  basebackup: {verbose: true}').message).toMatch(
      /^postgresql\.basebackup\.verbose: must be a string or number \(list a flag as `- verbose`\)/,
    );
    expect(refusal('  basebackup: {max-rate: }').message).toMatch(/^postgresql\.basebackup\.max-rate: has no value/);
  });
});

describe('replica method argv', () => {
  const target = { scope: 'batman', dataDir: '/data/pg', connstring: "host='10.0.0.1' port='5432' user='replicator'" };

  it("passes the section's keys, then --scope --role --datadir --connstring (Patroni's order)", () => {
    const m = command(
      parse('  create_replica_methods: [wal_e]\n  wal_e: {command: restore --from s3, no_leader: 1, envdir: /etc/wal-e, keep_data: true}').methods[0],
    );
    expect(customMethodArgv(m, target)).toEqual([
      'restore',
      '--from',
      's3',
      '--no_leader=1',
      '--envdir=/etc/wal-e',
      '--keep_data=True',
      '--scope=batman',
      '--role=replica',
      '--datadir=/data/pg',
      "--connstring=host='10.0.0.1' port='5432' user='replicator'",
    ]);
  });

  it('no_params: only the other keys of the section', () => {
    const m = command(parse('  create_replica_methods: [b]\n  b: {command: barman recover, no_params: true, keep_data: yes, barman-server: main}').methods[0]);
    expect(customMethodArgv(m, target)).toEqual(['barman', 'recover', '--barman-server=main']);
  });

  it('a section key named like a parameter keeps its place with the agent value; no leader: empty --connstring', () => {
    const m = command(parse('  create_replica_methods: [r]\n  r: {command: r, role: master, x: 1}').methods[0]);
    expect(customMethodArgv(m, { ...target, connstring: '' })).toEqual([
      'r',
      '--role=replica',
      '--x=1',
      '--scope=batman',
      '--datadir=/data/pg',
      '--connstring=',
    ]);
  });

  it('pg_basebackup: -X stream, a fast checkpoint unless configured, then the user options', () => {
    expect(basebackupArgv([], '/d', 'host=h')).toEqual(['--pgdata=/d', '-X', 'stream', '--checkpoint=fast', '--dbname=host=h']);
    expect(basebackupArgv(['--max-rate=1M', '--checkpoint=spread'], '/d', 'host=h')).toEqual([
      '--pgdata=/d',
      '-X',
      'stream',
      '--dbname=host=h',
      '--max-rate=1M',
      '--checkpoint=spread',
    ]);
  });

  it('without a leader only no_leader methods run, never basebackup', () => {
    const { methods } = parse('  create_replica_methods: [a, b, basebackup]\n  a: {command: a}\n  b: {command: b, no_leader: true}');
    expect(usableMethods(methods, true).map((m) => m.name)).toEqual(['a', 'b', 'basebackup']);
    expect(usableMethods(methods, false).map((m) => m.name)).toEqual(['b']);
  });
});

describe('replica creation helpers', () => {
  it('emptyDataDir also empties the pg_wal symlink target, keeping the directories', async () => {
    const root = mkdtempSync(join(tmpdir(), 'replica-empty-'));
    try {
      const data = join(root, 'data');
      const wal = join(root, 'wal');
      mkdirSync(join(data, 'base'), { recursive: true });
      mkdirSync(wal);
      writeFileSync(join(wal, '000000010000000000000001'), 'x');
      writeFileSync(join(data, 'PG_VERSION'), '15');
      symlinkSync(wal, join(data, 'pg_wal'));
      await emptyDataDir(data);
      expect(readdirSync(data)).toEqual([]);
      expect(readdirSync(wal)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('runCancellable: exit code and output tail; an abort kills the whole process group', async () => {
    const done = await runCancellable(['sh', '-c', 'echo one; echo two >&2; exit 3'], { signal: new AbortController().signal });
    expect(done).toMatchObject({ code: 3, cancelled: false });
    expect(done.tail.sort()).toEqual(['one', 'two']);

    const root = mkdtempSync(join(tmpdir(), 'replica-cancel-'));
    try {
      const pidFile = join(root, 'child.pid');
      const ac = new AbortController();
      let started = 0;
      const running = runCancellable(['sh', '-c', `sleep 60 & echo $! > ${pidFile}; wait`], { signal: ac.signal, onStarted: (pid) => (started = pid) });
      while (!existsSync(pidFile)) await new Promise((r) => setTimeout(r, 20));
      ac.abort();
      const r = await running;
      expect(r.cancelled).toBe(true);
      expect(started).toBeGreaterThan(0);
      const child = Number(readFileSync(pidFile, 'utf8').trim());
      // The background sleep was in the group: gone too (a zombie at most, reaped by init).
      await new Promise((r) => setTimeout(r, 100));
      const alive = existsSync(`/proc/${child}`) && !readFileSync(`/proc/${child}/stat`, 'utf8').includes(') Z');
      expect(alive).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PgToolsError, silentLogger } from '@pgtools/core';
import { parseConfig, parseDynamicConfig } from '../src/index.js';
import {
  customBootstrapArgv,
  effectiveAuthFiles,
  localSuperuserUrl,
  pgpassContent,
  runPostBootstrap,
  runScript,
  tidyRestoredDataDir,
  writeBootstrapAuthFiles,
  writeManagedConf,
} from '../src/internals.js';
import { minimalConfig, refusal as refusalOf } from './minimal-config.js';

const NOENV = {};
const base = (dataDir = '/tmp/n1'): string => minimalConfig({ dataDir });
const withBootstrap = (bootstrap: string, dataDir?: string): string => `${base(dataDir)}bootstrap:\n${bootstrap}`;

function refusal(text: string): PgToolsError {
  const err = refusalOf(() => parseConfig(text, NOENV));
  expect(err.code).toBe('invalid_config');
  return err;
}

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'pgtools-bootstrap-config-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('bootstrap.post_bootstrap / post_init', () => {
  it('takes post_bootstrap, or post_init as its alias, without warnings', () => {
    const a = parseConfig(withBootstrap('  post_bootstrap: /usr/local/bin/setup.sh --quiet\n'), NOENV);
    expect(a.config.bootstrap.postBootstrap).toBe('/usr/local/bin/setup.sh --quiet');
    expect(a.warnings).toEqual([]);
    const b = parseConfig(withBootstrap('  post_init: /usr/local/bin/setup.sh\n'), NOENV);
    expect(b.config.bootstrap.postBootstrap).toBe('/usr/local/bin/setup.sh');
    expect(b.warnings).toEqual([]);
  });

  it('prefers post_bootstrap over post_init, like Patroni, and says so', () => {
    const { config, warnings } = parseConfig(withBootstrap('  post_bootstrap: /a.sh\n  post_init: /b.sh\n'), NOENV);
    expect(config.bootstrap.postBootstrap).toBe('/a.sh');
    expect(warnings).toEqual(['bootstrap.post_init: post_bootstrap is set and wins, ignored']);
  });

  it('refuses a command that is not a string or does not split into words', () => {
    expect(refusal(withBootstrap('  post_bootstrap: [a, b]\n')).message).toMatch(/^bootstrap\.post_bootstrap: must be a non-empty command line/);
    expect(refusal(withBootstrap(`  post_init: "/x.sh 'unclosed"\n`)).message).toMatch(/^bootstrap\.post_init: cannot be split into words/);
  });
});

describe('bootstrap.method', () => {
  it('runs initdb by default and for method: initdb', () => {
    expect(parseConfig(base(), NOENV).config.bootstrap.method).toBeUndefined();
    const { config, warnings } = parseConfig(withBootstrap('  method: initdb\n'), NOENV);
    expect(config.bootstrap.method).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('reads a custom method with its reserved keys and passes the others as --key=value', () => {
    const { config, warnings } = parseConfig(
      withBootstrap(`  method: restore
  restore:
    command: /usr/local/bin/restore.sh --from "/backups/night ly"
    keep_existing_recovery_conf: false
    recovery_conf:
      restore_command: cp /archive/%f "%p"
      recovery_target_action: promote
      recovery_target_inclusive: false
    target: nightly
    parallel: 4
    verify: true
`),
      NOENV,
    );
    expect(warnings).toEqual([]);
    const m = config.bootstrap.method;
    expect(m).toEqual({
      name: 'restore',
      command: '/usr/local/bin/restore.sh --from "/backups/night ly"',
      noParams: false,
      keepExistingRecoveryConf: false,
      recoveryConf: { restore_command: 'cp /archive/%f "%p"', recovery_target_action: 'promote', recovery_target_inclusive: false },
      extraArgs: ['--target=nightly', '--parallel=4', '--verify=True'],
    });
    expect(m && customBootstrapArgv(m, 'demo', '/tmp/n1')).toEqual([
      '/usr/local/bin/restore.sh',
      '--from',
      '/backups/night ly',
      '--scope=demo',
      '--datadir=/tmp/n1',
      '--target=nightly',
      '--parallel=4',
      '--verify=True',
    ]);
  });

  it('passes neither --scope nor --datadir with no_params, and ignores scope/datadir keys with a warning', () => {
    const { config, warnings } = parseConfig(withBootstrap('  method: barman\n  barman: {command: barman-recover, no_params: true, scope: x}\n'), NOENV);
    const m = config.bootstrap.method;
    expect(m && customBootstrapArgv(m, 'demo', '/d')).toEqual(['barman-recover']);
    expect(warnings).toEqual(['bootstrap.barman.scope: set by the agent (--scope), ignored']);
  });

  it('refuses a method without its section or without a command, naming the key', () => {
    expect(refusal(withBootstrap('  method: restore\n')).message).toMatch(/^bootstrap\.method: names "restore" but there is no bootstrap\.restore section/);
    expect(refusal(withBootstrap('  method: restore\n  restore: {no_params: true}\n')).message).toMatch(
      /^bootstrap\.restore\.command: must be a non-empty command line/,
    );
    expect(refusal(withBootstrap('  method: users\n  users: {}\n')).message).toMatch(/^bootstrap\.method: "users" is a bootstrap setting/);
  });

  it('refuses wrong types in the method section, naming the key', () => {
    expect(refusal(withBootstrap('  method: r\n  r: {command: x, no_params: maybe}\n')).message).toMatch(/^bootstrap\.r\.no_params: must be a boolean/);
    expect(refusal(withBootstrap('  method: r\n  r: {command: x, opts: [a]}\n')).message).toMatch(/^bootstrap\.r\.opts: must be a string, number or boolean/);
    expect(refusal(withBootstrap('  method: r\n  r: {command: x, recovery_conf: [a]}\n')).message).toMatch(/^bootstrap\.r\.recovery_conf: must be a mapping/);
    expect(refusal(withBootstrap('  method: r\n  r: {command: x, recovery_conf: {restore_command: {a: 1}}}\n')).message).toMatch(
      /^bootstrap\.r\.recovery_conf\.restore_command: must be a string/,
    );
    expect(refusal(withBootstrap('  method: r\n  r: {command: x, recovery_conf: {standby_mode: "on"}}\n')).message).toMatch(
      /^bootstrap\.r\.recovery_conf\.standby_mode: would keep the bootstrapped cluster a standby/,
    );
  });
});

describe('pg_hba and pg_ident', () => {
  it('reads pg_hba / pg_ident in the dynamic configuration and pg_ident locally, without warnings', () => {
    const { config, warnings } = parseConfig(
      `${base()}  pg_ident: ['m1 alice postgres']\nbootstrap:\n  dcs:\n    postgresql:\n      pg_hba: ['local all all trust']\n      pg_ident: ['m2 bob postgres']\n`,
      NOENV,
    );
    expect(warnings).toEqual([]);
    expect(config.postgresql.pgIdent).toEqual(['m1 alice postgres']);
    expect(config.bootstrap.dcs.postgresql.pgHba).toEqual(['local all all trust']);
    expect(config.bootstrap.dcs.postgresql.pgIdent).toEqual(['m2 bob postgres']);
    expect(parseDynamicConfig({ postgresql: { pg_hba: ['host all all 0.0.0.0/0 md5'] } }, 'config').postgresql.pgHba).toEqual(['host all all 0.0.0.0/0 md5']);
  });

  it('refuses pg_hba / pg_ident that are not lists of strings, naming the key', () => {
    expect(() => parseDynamicConfig({ postgresql: { pg_hba: 'local all all trust' } }, 'config')).toThrow(
      /^config\.postgresql\.pg_hba: must be a list of strings/,
    );
    expect(refusal(`${base()}  pg_ident: [1]\n`).message).toMatch(/^postgresql\.pg_ident\[0\]: must be a string/);
  });

  it('lets the local section win over the dynamic one, and a non-default hba_file / ident_file turn them off', () => {
    const { config } = parseConfig(`${base()}  pg_hba: ['local all all peer']\n`, NOENV);
    const dynamic = parseDynamicConfig({ postgresql: { pg_hba: ['local all all trust'], pg_ident: ['m x y'] } }, 'config');
    expect(effectiveAuthFiles(config, dynamic)).toEqual({ hba: ['local all all peer'], ident: ['m x y'] });
    const plain = parseConfig(base(), NOENV).config;
    expect(effectiveAuthFiles(plain, dynamic)).toEqual({ hba: ['local all all trust'], ident: ['m x y'] });
    expect(effectiveAuthFiles(plain, parseDynamicConfig({}, 'config'))).toEqual({ hba: undefined, ident: undefined });
    const elsewhere = parseDynamicConfig(
      { postgresql: { pg_hba: ['a'], pg_ident: ['b'], parameters: { hba_file: '/etc/pg/hba.conf', ident_file: '/tmp/n1/pg_ident.conf' } } },
      'c',
    );
    expect(effectiveAuthFiles(plain, elsewhere)).toEqual({ hba: undefined, ident: ['b'] });
  });

  it('after bootstrap replaces pg_hba.conf with the configured lines, else appends bootstrap.pg_hba', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'pg_hba.conf'), 'local all all trust\n');
    const appended = parseConfig(withBootstrap("  pg_hba: ['host all all 10.0.0.0/8 md5']\n", d), NOENV).config;
    await writeBootstrapAuthFiles(appended, appended.bootstrap.dcs, undefined);
    expect(readFileSync(join(d, 'pg_hba.conf'), 'utf8')).toBe('local all all trust\n\n# bootstrap.pg_hba\nhost all all 10.0.0.0/8 md5\n');
    const replaced = parseConfig(
      withBootstrap("  pg_hba: ['x']\n  dcs: {postgresql: {pg_hba: ['local all all md5'], pg_ident: ['m a b']}}\n", d),
      NOENV,
    ).config;
    await writeBootstrapAuthFiles(replaced, replaced.bootstrap.dcs, undefined);
    expect(readFileSync(join(d, 'pg_hba.conf'), 'utf8')).toMatch(/^# Written by the pgtools HA agent.*\nlocal all all md5\n$/);
    expect(readFileSync(join(d, 'pg_ident.conf'), 'utf8')).toMatch(/\nm a b\n$/);
  });
});

describe('bootstrap script helpers', () => {
  it('gives post_bootstrap a URL without the password, which goes to .pgpass escaped', () => {
    expect(localSuperuserUrl({ host: '127.0.0.1', port: 5433, user: 'post gres', password: 'secret' })).toBe('postgres://post%20gres@127.0.0.1:5433/postgres');
    expect(localSuperuserUrl({ host: '::1', port: 5432, user: 'postgres' })).toBe('postgres://postgres@[::1]:5432/postgres');
    expect(pgpassContent({ host: '127.0.0.1', port: 5432, user: 'postgres', password: 'a:b\\c' })).toBe(
      '127.0.0.1:5432:*:postgres:a\\:b\\\\c\nlocalhost:5432:*:postgres:a\\:b\\\\c\n',
    );
  });

  it('removes the recovery configuration a restore left, unless it is kept', async () => {
    const d = tempDir();
    for (const f of ['recovery.signal', 'standby.signal', 'promote']) writeFileSync(join(d, f), '');
    writeFileSync(join(d, 'postgresql.auto.conf'), "work_mem = '8MB'\nprimary_conninfo = 'host=x'\nrestore_command = 'cp %f %p'\n");
    await tidyRestoredDataDir(d, true);
    expect(['recovery.signal', 'standby.signal', 'promote'].map((f) => existsSync(join(d, f)))).toEqual([true, true, false]);
    await tidyRestoredDataDir(d, false);
    expect(existsSync(join(d, 'recovery.signal')) || existsSync(join(d, 'standby.signal'))).toBe(false);
    expect(readFileSync(join(d, 'postgresql.auto.conf'), 'utf8')).toBe("work_mem = '8MB'\n");
  });

  it('writes recovery_conf with recovery.signal for the first start, and keeps signal files with keep', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'standby.signal'), '');
    await writeManagedConf(d, {}, { standby: false, recovery: { settings: { restore_command: 'cp /a/%f "%p"' } } });
    expect(readFileSync(join(d, 'pgtools.conf'), 'utf8')).toMatch(/\nrestore_command = 'cp \/a\/%f "%p"'\n$/);
    expect([existsSync(join(d, 'recovery.signal')), existsSync(join(d, 'standby.signal'))]).toEqual([true, false]);
    writeFileSync(join(d, 'standby.signal'), '');
    await writeManagedConf(d, {}, { standby: false, recovery: 'keep' });
    expect(existsSync(join(d, 'standby.signal'))).toBe(true);
    await writeManagedConf(d, {}, { standby: false });
    expect(readFileSync(join(d, 'pgtools.conf'), 'utf8')).not.toMatch(/restore_command/);
    expect(existsSync(join(d, 'standby.signal'))).toBe(false);
  });

  it('runs a script to its exit code; a program that cannot start ends with 127', async () => {
    expect(await runScript(['sh', '-c', 'exit 4'], { logger: silentLogger, label: 't' })).toEqual({ code: 4, signal: null });
    expect(await runScript(['/nonexistent/restore.sh'], { logger: silentLogger, label: 't' })).toEqual({ code: 127, signal: null });
  });

  it('runs post_bootstrap with the URL as its only argument and the password in PGPASSFILE, removed afterwards', async () => {
    const d = tempDir();
    const script = join(d, 'post.sh');
    writeFileSync(script, `#!/bin/sh\n{ echo "$#|$1|$PGOPTIONS"; cat "$PGPASSFILE"; echo "$PGPASSFILE"; } > ${d}/out\n`);
    chmodSync(script, 0o755);
    const exit = await runPostBootstrap(`${script}`, { host: '127.0.0.1', port: 5499, user: 'postgres', password: 'pw' }, { logger: silentLogger });
    expect(exit).toEqual({ code: 0, signal: null });
    const [args, line1, line2, passfile] = readFileSync(join(d, 'out'), 'utf8').split('\n');
    expect(args).toBe('1|postgres://postgres@127.0.0.1:5499/postgres|-c synchronous_commit=local -c statement_timeout=0');
    expect([line1, line2]).toEqual(['127.0.0.1:5499:*:postgres:pw', 'localhost:5499:*:postgres:pw']);
    expect(existsSync(passfile ?? '')).toBe(false);
  });
});

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import { loadConfig, parseConfig } from '../src/index.js';
import { secretsReadableWarning } from '../src/config/secrets.js';
import { dcsOptionsFromConfig } from '../src/agent/dcs-options.js';

const NOENV = {};
const dir = mkdtempSync(join(tmpdir(), 'pgtools-test-security-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function yaml(etcd3: string, extra = ''): string {
  return `
scope: demo
name: n1
restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}
etcd3: ${etcd3}
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /tmp/n1
  authentication:
    superuser: {username: postgres}
    replication: {username: replicator}
${extra}`;
}

const WITH_PASSWORD = yaml('{hosts: [127.0.0.1:2379], username: patroni, password: "etcd-pw-4411"}');
const WITHOUT_PASSWORD = yaml('{hosts: [127.0.0.1:2379]}');

function fileWith(name: string, text: string, mode: number): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

describe('configuration files holding secrets', () => {
  it('warns when the group or others may read a file with a password, naming it and suggesting chmod 600', async () => {
    for (const [mode, who] of [
      [0o644, 'group and others'],
      [0o640, 'its group'],
      [0o604, 'others'],
    ] as const) {
      const file = fileWith(`pw-${mode.toString(8)}.yml`, WITH_PASSWORD, mode);
      const { warnings } = await loadConfig(file, NOENV);
      const warning = warnings.find((w) => w.includes('holds passwords'));
      expect(warning, `mode ${mode.toString(8)}`).toBeDefined();
      expect(warning).toContain(file);
      expect(warning).toContain(`chmod 600 ${file}`);
      expect(warning).toContain(who);
      expect(warning).toContain(`mode 0${mode.toString(8)}`);
      // The warning is about the file, never what it holds.
      expect(warnings.join('\n')).not.toContain('etcd-pw-4411');
    }
  });

  it('stays quiet for a private file, for a readable file without passwords, and for passwords from the environment', async () => {
    expect((await loadConfig(fileWith('private.yml', WITH_PASSWORD, 0o600), NOENV)).warnings).toEqual([]);
    expect((await loadConfig(fileWith('owner-read.yml', WITH_PASSWORD, 0o400), NOENV)).warnings).toEqual([]);
    const open = fileWith('nopw.yml', WITHOUT_PASSWORD, 0o644);
    expect((await loadConfig(open, NOENV)).warnings).toEqual([]);
    // The password reaches the config from a variable, not from the readable file.
    const fromEnv = await loadConfig(open, { PATRONI_ETCD3_USERNAME: 'patroni', PATRONI_ETCD3_PASSWORD: 'env-pw' });
    expect(fromEnv.config.etcd3.password).toBe('env-pw');
    expect(fromEnv.warnings).toEqual([]);
  });

  it('counts every kind of password Patroni files hold', () => {
    const samples = [
      'restapi: {authentication: {username: u, password: p}}',
      'restapi: {keyfile_password: p}',
      'postgresql: {authentication: {superuser: {username: postgres, password: p}}}',
      'postgresql: {authentication: {replication: {username: r, password: p}}}',
      'postgresql: {authentication: {rewind: {username: r, password: p}}}',
      'bootstrap: {users: {admin: {password: p, options: [createrole]}}}',
      'etcd3: {password: p}',
      'ctl: {authentication: {username: u, password: p}}',
    ];
    for (const text of samples) expect(secretsReadableWarning('/x.yml', 0o100644, text), text).toMatch(/chmod 600 \/x\.yml/);
    expect(secretsReadableWarning('/x.yml', 0o100644, 'postgresql: {authentication: {superuser: {username: postgres, password: ""}}}')).toBeUndefined();
    expect(secretsReadableWarning('/x.yml', 0o100644, 'restapi: {listen: "0.0.0.0:8008"}')).toBeUndefined();
  });
});

describe('dcsOptionsFromConfig: etcd3 settings as Patroni reads them', () => {
  const pem = (label: string, body: string): string => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
  const ca = fileWith('ca.crt', pem('CERTIFICATE', 'Q0E='), 0o644);
  const cert = fileWith('client.crt', pem('CERTIFICATE', 'Q0VSVA=='), 0o644);
  const key = fileWith('client.key', pem('PRIVATE KEY', 'S0VZ'), 0o600);
  const both = fileWith('client.pem', pem('CERTIFICATE', 'Q0VSVA==') + pem('EC PRIVATE KEY', 'S0VZ'), 0o600);

  it('maps hosts, protocol, credentials, namespace and timings', () => {
    const { config } = parseConfig(
      yaml(
        '{hosts: "10.0.0.1:2379,10.0.0.2:2379", protocol: https, username: patroni, password: pw}',
        'namespace: /pg/\nbootstrap: {dcs: {ttl: 20, loop_wait: 5, retry_timeout: 6}}',
      ),
      NOENV,
    );
    const o = dcsOptionsFromConfig(config);
    expect(o).toMatchObject({
      hosts: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'],
      namespace: '/pg/',
      scope: 'demo',
      name: 'n1',
      ttl: 20,
      loopWait: 5,
      callTimeoutMs: 6000,
      auth: { username: 'patroni', password: 'pw' },
    });
    expect(o.tls).toBeUndefined();
    expect(dcsOptionsFromConfig(parseConfig(WITHOUT_PASSWORD, NOENV).config).hosts).toEqual(['http://127.0.0.1:2379']);
  });

  it('reads cacert, cert and key files; takes the key out of cert when key is not given', () => {
    const { config } = parseConfig(yaml(`{hosts: [127.0.0.1:2379], protocol: https, cacert: ${ca}, cert: ${cert}, key: ${key}}`), NOENV);
    expect(dcsOptionsFromConfig(config).tls).toEqual({ ca: pem('CERTIFICATE', 'Q0E='), cert: pem('CERTIFICATE', 'Q0VSVA=='), key: pem('PRIVATE KEY', 'S0VZ') });
    const combined = parseConfig(yaml(`{hosts: [127.0.0.1:2379], protocol: https, cacert: ${ca}, cert: ${both}}`), NOENV).config;
    const tls = dcsOptionsFromConfig(combined).tls;
    expect(tls?.key).toBe(pem('EC PRIVATE KEY', 'S0VZ'));
    expect(tls?.cert).toBe(pem('CERTIFICATE', 'Q0VSVA=='));
  });

  it('refuses unreadable certificate files and a key without its certificate, naming the setting', () => {
    const missing = parseConfig(yaml('{hosts: [127.0.0.1:2379], protocol: https, cacert: /nonexistent/ca.crt}'), NOENV).config;
    let err: unknown;
    try {
      dcsOptionsFromConfig(missing);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgToolsError);
    expect((err as PgToolsError).code).toBe('invalid_config');
    expect((err as PgToolsError).message).toMatch(/^etcd3\.cacert: cannot read \/nonexistent\/ca\.crt/);
    expect(() => dcsOptionsFromConfig(parseConfig(yaml(`{hosts: [127.0.0.1:2379], cert: ${ca}}`), NOENV).config)).toThrow(/etcd3\.key: is required/);
    expect(() => parseConfig(yaml(`{hosts: [127.0.0.1:2379], key: ${key}}`), NOENV)).toThrow(/etcd3\.cert: is required/);
  });

  it('warns about settings that contradict each other', () => {
    const { warnings } = parseConfig(yaml(`{hosts: [127.0.0.1:2379], cacert: ${ca}, password: x}`), NOENV);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^etcd3\.protocol: is http but certificates are configured/),
        'etcd3.password: set without etcd3.username, ignored',
      ]),
    );
  });
});

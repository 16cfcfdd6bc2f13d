import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/ha-agent.js';

function sink(): { write(chunk: string): boolean; text(): string } {
  const chunks: string[] = [];
  return { write: (c: string) => chunks.push(c) > 0, text: () => chunks.join('') };
}

const VALID = `
scope: demo
name: n1
restapi: {listen: 127.0.0.1:0, connect_address: 127.0.0.1:8008}
etcd3: {hosts: [127.0.0.1:2379]}
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /tmp/n1
  authentication:
    superuser: {username: postgres}
    replication: {username: replicator}
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ha-agent-cli-'));
  await writeFile(join(dir, 'ok.yml'), VALID, { mode: 0o600 });
  await writeFile(join(dir, 'v2.yml'), VALID.replace('etcd3:', 'etcd:'), { mode: 0o600 });
  await writeFile(join(dir, 'badlog.yml'), `${VALID}log: {type: xml}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'jsonlog.yml'), `${VALID}log: {type: json}\nunknown_top_key: 1\n`, { mode: 0o600 });
  await writeFile(join(dir, 'timing.yml'), `${VALID}bootstrap: {dcs: {ttl: 10, loop_wait: 5, retry_timeout: 4}}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ha-agent CLI', () => {
  it('refuses to run as root with exit 2 and a clear message', async () => {
    const err = sink();
    expect(await main([join(dir, 'ok.yml')], { uid: 0, stderr: err, env: {} })).toBe(2);
    expect(err.text()).toMatch(/refusing to run as root/);
    expect(err.text()).toMatch(/PostgreSQL OS user/);
  });

  it('exits 2 with the message on configuration errors', async () => {
    const err = sink();
    expect(await main([join(dir, 'v2.yml')], { uid: 1000, stderr: err, env: {} })).toBe(2);
    expect(err.text()).toMatch(/etcd3/);
    const err2 = sink();
    expect(await main([join(dir, 'timing.yml')], { uid: 1000, stderr: err2, env: {} })).toBe(2);
    expect(err2.text()).toMatch(/bootstrap\.dcs\.ttl/);
    const err3 = sink();
    expect(await main([join(dir, 'missing.yml')], { uid: 1000, stderr: err3, env: {} })).toBe(2);
    expect(err3.text()).toMatch(/missing\.yml/);
  });

  it('validates a configuration without running (--validate-config)', async () => {
    expect(await main(['--validate-config', join(dir, 'ok.yml')], { stderr: sink(), env: {} })).toBe(0);
    expect(await main(['--validate-config', join(dir, 'v2.yml')], { stderr: sink(), env: {} })).toBe(2);
  });

  it('--validate-config checks the log section and speaks JSON when log.type is json', async () => {
    const err = sink();
    expect(await main(['--validate-config', join(dir, 'badlog.yml')], { stderr: err, env: {} })).toBe(2);
    expect(err.text()).toMatch(/log\.type: must be plain or json, got "xml"/);
    const err2 = sink();
    expect(await main(['--validate-config', join(dir, 'jsonlog.yml')], { stderr: err2, env: {} })).toBe(0);
    const lines = err2
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; message: string });
    expect(lines.some((l) => l.level === 'warn' && l.message.includes('unknown_top_key'))).toBe(true);
  });

  it('rejects bad usage with exit 2', async () => {
    expect(await main([], { stderr: sink(), env: {} })).toBe(2);
    expect(await main(['--bogus', 'x.yml'], { stderr: sink(), env: {} })).toBe(2);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHealthApi, type HealthApi, type HealthApiOptions } from '../src/index.js';
import { primaryState } from './fixtures.js';

// restapi.certfile/keyfile/keyfile_password/cafile/verify_client with certificates made by the
// openssl CLI: a CA, a server certificate for 127.0.0.1, a client certificate it signed, and a
// client certificate signed by another CA.
const KEY_PASSWORD = 'key-Pa55-9d1';
const REST_PASSWORD = 'rest-Pa55-2b7';

let dir: string;
const f = (name: string): string => join(dir, name);
let api: HealthApi | undefined;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

function makeCa(name: string): void {
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    f(`${name}.key`),
    '-out',
    f(`${name}.crt`),
  ]);
}

function issue(ca: string, name: string, ext: string): void {
  writeFileSync(f(`${name}.ext`), ext);
  openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    f(`${name}.key`),
    '-out',
    f(`${name}.csr`),
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    f(`${name}.csr`),
    '-CA',
    f(`${ca}.crt`),
    '-CAkey',
    f(`${ca}.key`),
    '-set_serial',
    String(Date.now()),
    '-days',
    '1',
    '-extfile',
    f(`${name}.ext`),
    '-out',
    f(`${name}.crt`),
  ]);
}

interface Client {
  cert?: string;
  key?: string;
}

function call(port: number, method: string, path: string, client: Client = {}, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {};
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers,
        ca: readFileSync(f('ca.crt')),
        ...(client.cert ? { cert: readFileSync(f(client.cert)), key: readFileSync(f(client.key!)) } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function start(tls: NonNullable<HealthApiOptions['tls']>, lines: string[]): Promise<number> {
  const record = (m: string, fields?: Record<string, unknown>): void => void lines.push(`${m} ${JSON.stringify(fields ?? {})}`);
  api = createHealthApi({
    listen: '127.0.0.1:0',
    getState: () => primaryState(),
    tls,
    auth: { username: 'patroni', password: REST_PASSWORD },
    logger: { debug: record, info: record, warn: record, error: record },
    onEvent: (e) => lines.push(JSON.stringify(e)),
    handlers: { reload: async () => ({ status: 202, body: 'reload scheduled' }) },
  });
  await api.start();
  return api.address!.port;
}

const good: Client = { cert: 'client.crt', key: 'client.key' };
const foreign: Client = { cert: 'intruder.crt', key: 'intruder.key' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgtools-test-mtls-'));
  makeCa('ca');
  makeCa('other-ca');
  issue('ca', 'server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('ca', 'client', 'extendedKeyUsage=clientAuth\n');
  issue('other-ca', 'intruder', 'extendedKeyUsage=clientAuth\n');
  // restapi.keyfile_password: the server key encrypted with it.
  openssl(['pkey', '-in', f('server.key'), '-aes256', '-passout', `pass:${KEY_PASSWORD}`, '-out', f('server.enc.key')]);
});

afterEach(async () => {
  await api?.stop();
  api = undefined;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('REST API client certificates (restapi.verify_client)', () => {
  it('required: refuses the handshake without a certificate or with one from another CA; basic auth still applies', async () => {
    const lines: string[] = [];
    const port = await start(
      { certfile: f('server.crt'), keyfile: f('server.enc.key'), keyfilePassword: KEY_PASSWORD, cafile: f('ca.crt'), verifyClient: 'required' },
      lines,
    );
    await expect(call(port, 'GET', '/patroni')).rejects.toThrow();
    await expect(call(port, 'GET', '/patroni', foreign)).rejects.toThrow();
    const ok = await call(port, 'GET', '/patroni', good);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ role: 'master' });
    // A certificate does not replace the password for unsafe methods.
    expect((await call(port, 'POST', '/reload', good)).status).toBe(401);
    expect(await call(port, 'POST', '/reload', good, `patroni:${REST_PASSWORD}`)).toEqual({ status: 202, body: 'reload scheduled' });
    // Still serving after the refused handshakes.
    expect((await call(port, 'GET', '/health', good)).status).toBe(200);
    const everything = lines.join('\n');
    expect(everything).not.toContain(KEY_PASSWORD);
    expect(everything).not.toContain(REST_PASSWORD);
  });

  it('optional: health checks without a certificate, unsafe methods only with a valid one', async () => {
    const port = await start({ certfile: f('server.crt'), keyfile: f('server.key'), cafile: f('ca.crt'), verifyClient: 'optional' }, []);
    expect((await call(port, 'GET', '/primary')).status).toBe(200);
    expect((await call(port, 'POST', '/reload', {}, `patroni:${REST_PASSWORD}`)).status).toBe(403);
    expect((await call(port, 'POST', '/reload', foreign, `patroni:${REST_PASSWORD}`)).status).toBe(403);
    expect((await call(port, 'POST', '/reload', good, `patroni:${REST_PASSWORD}`)).status).toBe(202);
  });

  it('refuses to start with the wrong keyfile_password, without echoing it', async () => {
    const attempt = async (): Promise<unknown> => {
      try {
        await start({ certfile: f('server.crt'), keyfile: f('server.enc.key'), keyfilePassword: 'not-the-key-password', cafile: f('ca.crt') }, []);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const err = (await attempt()) as { code?: string; message?: string; hint?: string } | undefined;
    expect(err?.code).toBe('tls_setup_failed');
    expect(err?.message).toContain(f('server.enc.key'));
    expect(err?.hint).toMatch(/keyfile_password/);
    expect(JSON.stringify(err)).not.toContain('not-the-key-password');
    expect(err?.message).not.toContain('not-the-key-password');
  });
});

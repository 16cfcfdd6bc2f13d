import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealthApi, type HealthApi } from '../src/index.js';
import { primaryState } from './fixtures.js';

function httpsRequest(port: number, method: string, path: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca, servername: 'localhost' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('REST API over TLS (restapi.certfile/keyfile)', () => {
  let dir: string;
  let api: HealthApi | undefined;
  let cert: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgtools-test-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves health checks over HTTPS and needs a client certificate for unsafe methods with verify_client optional', async () => {
    api = createHealthApi({
      listen: '127.0.0.1:0',
      getState: () => primaryState(),
      tls: { certfile: join(dir, 'cert.pem'), keyfile: join(dir, 'key.pem'), cafile: join(dir, 'cert.pem'), verifyClient: 'optional' },
      handlers: { reload: async () => ({ status: 202, body: 'ok' }) },
    });
    await api.start();
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const port = api.address!.port;
    const res = await httpsRequest(port, 'GET', '/primary', cert);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ role: 'master' });
    expect((await httpsRequest(port, 'POST', '/reload', cert)).status).toBe(403);
  });

  it('offers only the restapi.ciphers suites (TLS 1.2 client with another suite fails the handshake)', async () => {
    const only = createHealthApi({
      listen: '127.0.0.1:0',
      getState: () => primaryState(),
      tls: { certfile: join(dir, 'cert.pem'), keyfile: join(dir, 'key.pem'), ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
    });
    await only.start();
    const port = only.address!.port;
    const tls12 = (ciphers: string) =>
      new Promise<string>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: '/liveness', ca: cert, servername: 'localhost', maxVersion: 'TLSv1.2', ciphers }, (res) => {
          res.resume();
          resolve(`${res.statusCode} ${(res.socket as import('node:tls').TLSSocket).getCipher().name}`);
        });
        req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
        req.end();
      });
    try {
      expect(await tls12('ECDHE-RSA-AES256-GCM-SHA384')).toBe('200 ECDHE-RSA-AES256-GCM-SHA384');
      expect(await tls12('ECDHE-RSA-AES128-GCM-SHA256')).toMatch(/^error /);
    } finally {
      await only.stop();
    }
  });
});

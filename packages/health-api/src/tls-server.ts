import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { PgToolsError } from '@pgtools/core';

/** `restapi.certfile` and friends. */
export interface HealthApiTls {
  certfile: string;
  keyfile: string;
  keyfilePassword?: string;
  cafile?: string;
  /** OpenSSL cipher list (`restapi.ciphers`); Node's defaults otherwise. */
  ciphers?: string;
  /** Client certificates: `required` (handshake fails without one), `optional` (needed for unsafe methods). */
  verifyClient?: 'none' | 'optional' | 'required';
}

/**
 * The HTTPS server for `restapi.certfile`/`keyfile`: files read now (a missing one names its
 * setting), client certificates per `verify_client`, `restapi.ciphers`. Throws `tls_setup_failed`.
 *
 * @example
 * ```ts
 * // inside @pgtools/health-api
 * const server = createTlsServer({ certfile: '/etc/ssl/api.crt', keyfile: '/etc/ssl/api.key' }, listener);
 * ```
 */
export function createTlsServer(tls: HealthApiTls, listener: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const verify = tls.verifyClient ?? 'none';
  const read = (path: string, setting: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new PgToolsError('tls_setup_failed', `restapi.${setting}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const cert = read(tls.certfile, 'certfile');
  const key = read(tls.keyfile, 'keyfile');
  const ca = tls.cafile ? read(tls.cafile, 'cafile') : undefined;
  try {
    return createHttpsServer(
      {
        cert,
        key,
        ...(tls.keyfilePassword ? { passphrase: tls.keyfilePassword } : {}),
        ...(ca ? { ca } : {}),
        ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
        requestCert: verify !== 'none',
        rejectUnauthorized: verify === 'required',
      },
      listener,
    );
  } catch (err) {
    // OpenSSL's words ("bad decrypt", "key values mismatch") never include the passphrase.
    throw new PgToolsError('tls_setup_failed', `REST API TLS: cannot use certfile ${tls.certfile} with keyfile ${tls.keyfile}: ${(err as Error).message}`, {
      cause: err,
      hint: tls.keyfilePassword ? 'check restapi.keyfile_password' : 'an encrypted keyfile needs restapi.keyfile_password',
    });
  }
}

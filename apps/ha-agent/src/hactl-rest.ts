import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { PgToolsError } from '@pgtools/core';
import type { CtlConfig } from './hactl-config.js';
import { pyJson } from './hactl-pyfmt.js';

/**
 * A member REST API answer: status code and body text.
 *
 * @example
 * ```ts
 * import type { RestResponse } from './hactl-rest.js';
 * const ok = (r: RestResponse): boolean => r.status < 400;
 * ```
 */
export interface RestResponse {
  status: number;
  body: string;
}

/**
 * Calls a member's REST API (`api_url` from its member key; the path is replaced by the endpoint),
 * with basic auth and TLS settings from the configuration, JSON bodies encoded like Python's
 * `json.dumps` (what Patroni's API parses). Network failures and timeouts reject with
 * `PgToolsError` `rest_unreachable`; any HTTP status resolves.
 *
 * @example
 * ```ts
 * const rest = new RestClient(config.rest, 'hactl/0.1.0');
 * const r = await rest.request('http://127.0.0.1:8008/patroni', 'POST', 'switchover', { leader: 'pg1', candidate: 'pg2', scheduled_at: null });
 * console.log(r.status, r.body);
 * ```
 */
export class RestClient {
  private readonly tls: https.AgentOptions = {};

  constructor(
    private readonly settings: CtlConfig['rest'],
    private readonly userAgent: string,
    private readonly timeoutMs = 60_000,
  ) {
    if (settings.cafile) this.tls.ca = readFileSync(settings.cafile);
    if (settings.certfile) {
      this.tls.cert = readFileSync(settings.certfile);
      if (settings.keyfile) this.tls.key = readFileSync(settings.keyfile);
      if (settings.keyfilePassword) this.tls.passphrase = settings.keyfilePassword;
    }
    this.tls.rejectUnauthorized = !settings.insecure;
  }

  /** `apiUrl` with its path replaced by `/<endpoint>` (as patronictl builds the URL). */
  static endpointUrl(apiUrl: string, endpoint?: string): string {
    const url = new URL(apiUrl);
    if (endpoint !== undefined) {
      url.pathname = `/${endpoint}`;
      url.search = '';
      url.hash = '';
    }
    return url.toString();
  }

  request(apiUrl: string, method: string, endpoint?: string, data?: unknown, timeoutMs = this.timeoutMs): Promise<RestResponse> {
    let target: URL;
    try {
      target = new URL(RestClient.endpointUrl(apiUrl, endpoint));
    } catch (err) {
      return Promise.reject(new PgToolsError('rest_unreachable', `invalid api_url ${JSON.stringify(apiUrl)}`, { cause: err }));
    }
    const body = data === undefined ? undefined : typeof data === 'string' ? data : pyJson(data);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, 'accept-encoding': 'identity' };
    if (this.settings.auth) {
      headers.authorization = `Basic ${Buffer.from(`${this.settings.auth.username}:${this.settings.auth.password}`).toString('base64')}`;
    }
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const isHttps = target.protocol === 'https:';
    const transport = isHttps ? https : http;
    const where = `${method.toUpperCase()} ${target.origin}${target.pathname}`;
    return new Promise<RestResponse>((resolve, reject) => {
      const req = transport.request(target, { method: method.toUpperCase(), headers, ...(isHttps ? this.tls : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => reject(new PgToolsError('rest_unreachable', `${where}: ${err.message}`, { cause: err })));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)));
      req.on('error', (err) => reject(new PgToolsError('rest_unreachable', `${where}: ${err.message}`, { cause: err })));
      req.end(body);
    });
  }
}

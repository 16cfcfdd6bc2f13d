import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { debugFailure, PgToolsError, silentLogger, type Logger } from '@pgtools/core';
import { createTlsServer, type HealthApiTls } from './tls-server.js';
import { buildAllowlist, checkBasicAuth, HostAddresses, normalizeAddress, type BasicAuth } from './access.js';
import { jsonEqual, mergeConfigPatch } from './config-patch.js';
import { healthCheckStatus } from './health-checks.js';
import { holdsLeaderLock } from './leader-lock.js';
import { renderMetrics } from './metrics.js';
import type { ClusterInfo, NodeState } from './node-state.js';
import { validateRestart, validateSwitchover, type RestartRequest, type SwitchoverRequest } from './request-validation.js';
import { statusBody, type PrimaryRoleName } from './status-body.js';

/** What a handler answers: a string body is sent as text (patronictl prints it), anything else as JSON. */
export interface HandlerResult {
  status: number;
  body?: unknown;
  /** Extra response headers (`POST /failsafe` answers with an `lsn` header). */
  headers?: Record<string, string>;
}

/** The dynamic configuration and its version (etcd mod revision) for compare-and-swap. */
export interface ConfigSnapshot {
  config: Record<string, unknown>;
  version?: string | number;
}

/** The agent's actions behind the unsafe endpoints. A missing handler answers 501. */
export interface HealthApiHandlers {
  switchover?(request: SwitchoverRequest): Promise<HandlerResult>;
  /** `DELETE /switchover`: cancel a scheduled switchover. */
  cancelSwitchover?(): Promise<HandlerResult>;
  failover?(request: SwitchoverRequest): Promise<HandlerResult>;
  restart?(request: RestartRequest): Promise<HandlerResult>;
  /** `DELETE /restart`: cancel a scheduled restart. */
  cancelRestart?(): Promise<HandlerResult>;
  reload?(): Promise<HandlerResult>;
  /** `fromLeader`: the body's `from_leader` (Patroni 4.1): clone from the leader with pg_basebackup only. */
  reinitialize?(request: { force: boolean; fromLeader?: boolean }): Promise<HandlerResult>;
  /** `GET /config`, and the base of `PATCH /config`; undefined = no configuration in etcd (502/503). */
  getConfig?(): Promise<ConfigSnapshot | undefined>;
  /** Write `merged` if the stored version is still `version` (answer 409 otherwise). */
  patchConfig?(request: {
    patch: Record<string, unknown>;
    merged: Record<string, unknown>;
    version?: string | number;
    changed: boolean;
  }): Promise<HandlerResult>;
  /** Write `config` unconditionally. */
  putConfig?(request: { config: Record<string, unknown> }): Promise<HandlerResult>;
  /** `POST /failsafe`: the primary, cut off from etcd, asks whether it may go on (failsafe mode). */
  failsafe?(request: Record<string, unknown>): Promise<HandlerResult>;
  /** `GET /failsafe`: the members of the `failsafe` key as this node knows them. */
  getFailsafe?(): Promise<HandlerResult>;
}

/** Events for the agent's log or tests; bodies and credentials are never included. */
export type HealthApiEvent =
  { type: 'request'; method: string; path: string; status: number; client: string } | { type: 'handler_error'; method: string; path: string; message: string };

export interface HealthApiOptions {
  /** `host:port` (`restapi.listen`); port 0 picks a free port. */
  listen: string;
  getState: () => NodeState | Promise<NodeState>;
  getCluster?: (() => ClusterInfo | Promise<ClusterInfo>) | undefined;
  handlers?: HealthApiHandlers | undefined;
  /** `restapi.authentication`, required for POST/PUT/PATCH/DELETE. */
  auth?: BasicAuth;
  /** `restapi.allowlist`: IPs, CIDRs, host names allowed to use unsafe methods. */
  allowlist?: string[];
  /**
   * `restapi.allowlist_include_members`: the hosts of the cluster members' REST APIs, read per
   * request (members come and go); they may use unsafe methods too. With it, an empty allowlist
   * allows the members only.
   */
  allowlistMembers?: () => readonly string[];
  tls?: HealthApiTls;
  /** Largest accepted request body, bytes. Default 64 kB. */
  maxBodyBytes?: number;
  /** Default `master` (Patroni 3.0.2). */
  primaryRoleName?: PrimaryRoleName;
  /** The clock, ms since epoch (tests). */
  now?: () => number;
  logger?: Logger;
  onEvent?: (event: HealthApiEvent) => void;
}

export interface HealthApi {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound address once started. */
  readonly address: { host: string; port: number } | undefined;
  /** `http(s)://host:port`, once started. */
  readonly url: string | undefined;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Splits `restapi.listen` (`host:port`, `[v6]:port`, `:port`).
 *
 * @example
 * ```ts
 * import { parseListen } from '@pgtools/health-api';
 * parseListen('127.0.0.1:8008'); // { host: '127.0.0.1', port: 8008 }
 * ```
 */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim());
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new PgToolsError('invalid_listen_address', `restapi.listen must be host:port, got "${listen}"`);
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Creates Patroni's REST API over Node's `http`/`https` (no framework): role checks for HAProxy
 * (`OPTIONS /primary`, `/replica?lag=10MB`), `/patroni`, `/cluster`, `/history`, `/config`,
 * `/metrics`, and the unsafe actions delegated to `handlers`, behind allowlist, client certificates
 * and basic auth.
 *
 * @example
 * ```ts
 * import { createHealthApi } from '@pgtools/health-api';
 * const api = createHealthApi({
 *   listen: '127.0.0.1:8008',
 *   getState: () => ({ name: 'node1', scope: 'demo', isLeader: true, dcsAvailable: true,
 *     postgres: { state: 'running', role: 'primary', xlog: { location: 0 } } }),
 * });
 * await api.start();
 * // curl -X OPTIONS http://127.0.0.1:8008/primary  -> 200
 * await api.stop();
 * ```
 */
export function createHealthApi(options: HealthApiOptions): HealthApi {
  const logger = options.logger ?? silentLogger;
  const emit = options.onEvent ?? (() => {});
  const now = options.now ?? Date.now;
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  const handlers = options.handlers ?? {};
  const roleName = options.primaryRoleName ?? 'master';
  const { host, port } = parseListen(options.listen);
  let server: Server | undefined;
  let bound: { host: string; port: number } | undefined;
  let allowed: ((address: string) => boolean) | undefined;
  const memberHosts = new HostAddresses();

  const send = (res: ServerResponse, status: number, body: unknown, bodyless: boolean, headers: Record<string, string> = {}): void => {
    if (res.headersSent) return;
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="Patroni"');
    if (bodyless || body === undefined) {
      res.end();
      return;
    }
    if (typeof body === 'string') {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(body);
    } else {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(body));
    }
  };

  const readJson = async (req: IncomingMessage, required: boolean): Promise<Record<string, unknown>> => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > maxBody) throw new HttpError(413, `request body larger than ${maxBody} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBody) throw new HttpError(413, `request body larger than ${maxBody} bytes`);
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8').trim();
    if (text === '') {
      if (required) throw new HttpError(400, 'a JSON object body is required');
      return {};
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'malformed JSON body');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'the body must be a JSON object');
    if (required && Object.keys(parsed).length === 0) throw new HttpError(400, 'a JSON object body is required');
    return parsed as Record<string, unknown>;
  };

  /**
   * allowlist (403), client certificate (403), basic auth (401): Patroni's order. `checkMembers`
   * false (Patroni's `allowlist_check_members=False`, for `POST /failsafe`, sent while etcd and so
   * the member list may be unknown): `allowlist_include_members` does not restrict.
   */
  const accessDenied = async (req: IncomingMessage, checkMembers = true): Promise<HandlerResult | undefined> => {
    const client = normalizeAddress(req.socket.remoteAddress);
    const members = checkMembers ? options.allowlistMembers : undefined;
    const restricted = allowed !== undefined || members !== undefined;
    if (restricted && !allowed?.(client) && !(members && (await memberHosts.allows(members(), client)))) {
      return { status: 403, body: 'Access is denied' };
    }
    if (options.tls?.verifyClient === 'optional' && !(req.socket as TLSSocket).authorized) {
      return { status: 403, body: 'client certificate required' };
    }
    if (options.auth && !checkBasicAuth(req.headers.authorization, options.auth)) return { status: 401, body: 'no auth header received' };
    return undefined;
  };

  const call = async (handler: (() => Promise<HandlerResult>) | undefined, what: string): Promise<HandlerResult> => {
    if (!handler) return { status: 501, body: `${what} is not supported by this node` };
    return handler();
  };

  const getRoute = async (path: string, query: URLSearchParams): Promise<HandlerResult> => {
    const state = await options.getState();
    const t = now();
    const check = healthCheckStatus(path, query, state, t);
    if (check !== undefined) {
      // Kubernetes-style probes answer with the status only, like Patroni.
      if (path === '/liveness' || path === '/readiness') return { status: check };
      return { status: check, body: statusBody(state, { now: t, primaryRoleName: roleName }) };
    }
    switch (path) {
      case '/patroni':
        return { status: 200, body: statusBody(state, { now: t, primaryRoleName: roleName }) };
      case '/cluster': {
        if (!options.getCluster) return { status: 503, body: 'cluster view not available' };
        const cluster = await options.getCluster();
        const body: Record<string, unknown> = { members: cluster.members };
        if (cluster.pause) body.pause = true;
        if (cluster.scheduled_switchover) body.scheduled_switchover = cluster.scheduled_switchover;
        body.scope = state.scope;
        return { status: 200, body };
      }
      case '/history': {
        const cluster = options.getCluster ? await options.getCluster() : undefined;
        return { status: 200, body: cluster?.history ?? [] };
      }
      case '/config': {
        const snapshot = handlers.getConfig ? await handlers.getConfig() : undefined;
        return snapshot ? { status: 200, body: snapshot.config } : { status: 502, body: 'no configuration in the DCS' };
      }
      case '/metrics':
        return { status: 200, body: renderMetrics(state, t) };
      case '/failsafe':
        return call(handlers.getFailsafe, 'failsafe mode');
      default:
        return { status: 503, body: statusBody(state, { now: t, primaryRoleName: roleName }) };
    }
  };

  const unsafeRoute = async (method: string, path: string, req: IncomingMessage): Promise<HandlerResult> => {
    const key = `${method} ${path}`;
    switch (key) {
      case 'POST /switchover':
      case 'POST /failover': {
        const action = path === '/switchover' ? 'switchover' : 'failover';
        const body = await readJson(req, true);
        const state = await options.getState();
        const request = validateSwitchover(action, body, { paused: Boolean(state.paused), now: now() });
        if ('status' in request) return { status: request.status, body: request.message };
        const handler = action === 'switchover' ? handlers.switchover : handlers.failover;
        return call(handler && (() => handler(request)), action);
      }
      case 'DELETE /switchover':
        return call(handlers.cancelSwitchover, 'cancelling a switchover');
      case 'POST /restart': {
        const body = await readJson(req, false);
        const request = validateRestart(body, now());
        if ('status' in request) return { status: request.status, body: request.message };
        const handler = handlers.restart;
        return call(handler && (() => handler(request)), 'restart');
      }
      case 'DELETE /restart':
        return call(handlers.cancelRestart, 'cancelling a restart');
      case 'POST /reload':
        await readJson(req, false);
        return call(handlers.reload, 'reload');
      case 'POST /reinitialize': {
        const body = await readJson(req, false);
        const state = await options.getState();
        if (holdsLeaderLock(state, now())) return { status: 503, body: 'I am the leader, can not reinitialize' };
        const force = body.force === true || body.force === 'true';
        const fromLeader = body.from_leader === true || body.from_leader === 'true';
        const handler = handlers.reinitialize;
        return call(handler && (() => handler({ force, fromLeader })), 'reinitialize');
      }
      case 'PATCH /config': {
        const patch = await readJson(req, true);
        const snapshot = handlers.getConfig ? await handlers.getConfig() : undefined;
        if (!snapshot) return { status: 503, body: 'no configuration in the DCS' };
        const merged = mergeConfigPatch(snapshot.config, patch);
        const handler = handlers.patchConfig;
        const request = {
          patch,
          merged,
          changed: !jsonEqual(merged, snapshot.config),
          ...(snapshot.version !== undefined ? { version: snapshot.version } : {}),
        };
        return call(handler && (() => handler(request)), 'changing the configuration');
      }
      case 'PUT /config': {
        const config = await readJson(req, true);
        const handler = handlers.putConfig;
        return call(handler && (() => handler({ config })), 'replacing the configuration');
      }
      case 'POST /failsafe': {
        const body = await readJson(req, true);
        const handler = handlers.failsafe;
        return call(handler && (() => handler(body)), 'failsafe mode');
      }
      default:
        // Drain so that keep-alive connections stay usable.
        await readJson(req, false).catch(debugFailure(logger, `draining the body of ${method} ${path}`));
        return { status: 503, body: `${method} ${path} is not supported` };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      send(res, 400, 'bad request', false);
      return;
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const client = normalizeAddress(req.socket.remoteAddress);
    let result: HandlerResult;
    const bodyless = method === 'HEAD' || method === 'OPTIONS';
    try {
      if (method === 'GET' || bodyless) {
        result = await getRoute(path, url.searchParams);
      } else if (UNSAFE.has(method)) {
        result = (await accessDenied(req, `${method} ${path}` !== 'POST /failsafe')) ?? (await unsafeRoute(method, path, req));
      } else {
        result = { status: 501, body: `Unsupported method (${method})` };
      }
    } catch (err) {
      if (err instanceof HttpError) {
        result = { status: err.status, body: err.message };
        // An oversized body is not read: close instead of draining it.
        if (err.status === 413) res.setHeader('Connection', 'close');
      } else {
        const message = err instanceof Error ? err.message : String(err);
        logger.error(`REST API ${method} ${path} failed: ${message}`);
        emit({ type: 'handler_error', method, path, message });
        result = { status: 500, body: 'internal error' };
      }
    }
    send(res, result.status, result.body, bodyless, result.headers);
    if (UNSAFE.has(method)) logger.info(`API ${method} ${path} from ${client}: ${result.status}`);
    else logger.debug(`API ${method} ${path} from ${client}: ${result.status}`);
    emit({ type: 'request', method, path, status: result.status, client });
  };

  return {
    get address() {
      return bound;
    },
    get url() {
      if (!bound) return undefined;
      const h = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
      return `${options.tls ? 'https' : 'http'}://${h}:${bound.port}`;
    },
    async start() {
      if (server) return;
      allowed = options.allowlist && options.allowlist.length > 0 ? await buildAllowlist(options.allowlist) : undefined;
      const listener = (req: IncomingMessage, res: ServerResponse): void => {
        handle(req, res).catch((err: unknown) => {
          logger.error(`REST API request failed: ${err instanceof Error ? err.message : String(err)}`);
          if (!res.headersSent) send(res, 500, 'internal error', false);
        });
      };
      const s: Server = options.tls ? createTlsServer(options.tls, listener) : createHttpServer(listener);
      // Bounded request lifetimes: a slow client must not pin a socket forever.
      s.requestTimeout = 30_000;
      s.headersTimeout = 10_000;
      s.keepAliveTimeout = 5_000;
      s.on('clientError', (_err, socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        else socket.destroy();
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void =>
          reject(new PgToolsError('listen_failed', `REST API cannot listen on ${options.listen}: ${err.message}`, { cause: err }));
        s.once('error', onError);
        s.listen(port, host, () => {
          s.off('error', onError);
          resolve();
        });
      });
      s.on('error', (err) => logger.error(`REST API server error: ${err.message}`));
      const addr = s.address() as AddressInfo;
      bound = { host: addr.address, port: addr.port };
      server = s;
      logger.info(`REST API listening on ${addr.address}:${addr.port}`);
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
      bound = undefined;
    },
  };
}

import { Etcd3, type IOptions } from 'etcd3';
import type { TlsSetup } from './dcs-errors.js';
import { deadlineFaultHandling } from './fault-handling.js';

/** What `connectEtcd` needs of EtcdDcsOptions. */
export interface EtcdConnectOptions {
  auth?: { username: string; password: string } | undefined;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer } | undefined;
}

/** `hosts` as given, with comma-separated entries split and blanks dropped. */
export function splitHosts(hosts: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of hosts) for (const h of entry.split(',')) if (h.trim() !== '') out.push(h.trim());
  return out;
}

/**
 * The etcd3 client EtcdDcs talks through: our deadline on every unary call, fault handling that
 * fails over between `hosts`, gRPC keepalives, auth and TLS. `tlsSetup` says which TLS is in use,
 * for the error messages of dcs-errors.ts.
 */
export function connectEtcd(hosts: readonly string[], callTimeoutMs: number, options: EtcdConnectOptions): { client: Etcd3; tlsSetup: TlsSetup } {
  let tlsSetup: TlsSetup = 'none';
  const etcdOptions: IOptions = {
    hosts: [...hosts],
    // Unary calls get our deadline explicitly; this default only guards calls we forgot.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: deadlineFaultHandling(hosts.length, {
      cooldownMs: Math.min(2000, callTimeoutMs),
      maxWatchBackoffMs: 2000,
    }),
    grpcOptions: {
      // Detect a silently dead connection (the watch stream would otherwise wait forever).
      // etcd refuses pings more often than every 5 s by default.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': Math.max(1000, callTimeoutMs),
    },
  };
  if (options.auth) {
    etcdOptions.auth = {
      username: options.auth.username,
      password: options.auth.password,
      callOptions: () => ({ deadline: Date.now() + callTimeoutMs }),
    };
  }
  if (hosts.some((h) => /^https:\/\//i.test(h))) tlsSetup = 'server';
  if (options.tls) {
    if ((options.tls.cert === undefined) !== (options.tls.key === undefined)) {
      throw new RangeError('tls.cert and tls.key go together: give both (client certificate authentication) or neither');
    }
    tlsSetup = options.tls.cert !== undefined ? 'mutual' : 'server';
    const buf = (v: string | Buffer | undefined): Buffer | undefined => (v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v));
    const credentials: NonNullable<IOptions['credentials']> = { rootCertificate: buf(options.tls.ca) as Buffer };
    const key = buf(options.tls.key);
    const cert = buf(options.tls.cert);
    if (key) credentials.privateKey = key;
    if (cert) credentials.certChain = cert;
    etcdOptions.credentials = credentials;
  }
  return { client: new Etcd3(etcdOptions), tlsSetup };
}

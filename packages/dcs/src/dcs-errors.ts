import { PgToolsError } from '@pgtools/core';
import { EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError, EtcdPermissionDeniedError, GRPCUnauthenticatedError, isRecoverableError } from 'etcd3';

/**
 * Error codes thrown by `EtcdDcs`.
 *
 * @example
 * ```ts
 * import { DCS_ERROR } from '@pgtools/dcs';
 * if (err instanceof PgToolsError && err.code === DCS_ERROR.unavailable) stayReadOnly();
 * ```
 */
export const DCS_ERROR = {
  /** etcd did not answer within the deadline (down, partitioned, no quorum). */
  unavailable: 'dcs_unavailable',
  /** etcd refused our credentials or permissions. */
  authFailed: 'dcs_auth_failed',
  /** The TLS handshake failed: etcd's certificate is not trusted, or etcd refused ours. */
  tlsFailed: 'dcs_tls_failed',
  /** etcd answered with an error we do not expect (a bug or an incompatible server). */
  failed: 'dcs_error',
  /** The EtcdDcs was closed. */
  closed: 'dcs_closed',
} as const;

/** How the client was set up for TLS, to tell the user what to check when a call fails. */
export type TlsSetup = 'none' | 'server' | 'mutual';

/** etcd's own words for a cluster that is between leaders or has lost quorum: transient, worth another member. */
const ETCD_TRANSIENT =
  /etcdserver: (leader changed|no leader|not leader|request timed out|request cancelled|too many requests|server stopped|unhealthy cluster)/i;

/**
 * The call or its stream broke below etcd (a member stopping or cut off mid-call, a reset
 * connection): nothing says etcd refused it, so it is unavailability, worth another member.
 */
const TRANSPORT_FAILURE = /\b(CANCELLED|INTERNAL)\b|Stream removed|RST_STREAM|Connection dropped|ECONNRESET|EPIPE|socket hang up/;

/** The call may succeed on another member or a moment later: etcd did not refuse it. */
export function isTransientFailure(err: unknown): boolean {
  return err instanceof Error && (isRecoverableError(err) || ETCD_TRANSIENT.test(err.message) || TRANSPORT_FAILURE.test(err.message));
}

// gRPC reports TLS failures as UNAVAILABLE with OpenSSL's words in the message.
export const TLS_FAILURE = /certificate|ssl|tls|handshake|wrong version number|self.signed|unable to (verify|get local issuer)/i;

/** Maps anything the etcd3 client throws to a PgToolsError naming the hosts and the operation. */
export function toDcsError(err: unknown, operation: string, hosts: readonly string[], tls: TlsSetup = 'none'): PgToolsError {
  if (err instanceof PgToolsError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  const where = `etcd ${hosts.join(', ')}`;
  if (err instanceof EtcdAuthenticationFailedError) {
    return new PgToolsError(DCS_ERROR.authFailed, `${operation}: ${where} refused access: ${reason}`, {
      cause: err,
      hint: 'check etcd3.username and etcd3.password',
    });
  }
  if (
    err instanceof EtcdPermissionDeniedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof GRPCUnauthenticatedError ||
    // etcd's answer to a request without credentials while auth is on (etcd3 has no class for it).
    /etcdserver: (user name is empty|user name not found|permission denied)/i.test(reason)
  ) {
    return new PgToolsError(DCS_ERROR.authFailed, `${operation}: ${where} refused access: ${reason}`, {
      cause: err,
      hint: 'etcd has authentication enabled: set etcd3.username and etcd3.password of a user with readwrite on the namespace',
    });
  }
  if (err instanceof Error && TLS_FAILURE.test(reason)) {
    // An "alert" is etcd refusing our side of the handshake; otherwise we refused etcd's certificate.
    const refusedByEtcd = /alert/i.test(reason);
    return new PgToolsError(DCS_ERROR.tlsFailed, `${operation}: ${where}: TLS handshake failed: ${reason}`, {
      cause: err,
      hint: refusedByEtcd
        ? 'etcd refused the client certificate: set etcd3.cert and etcd3.key to a certificate signed by a CA etcd trusts (--trusted-ca-file)'
        : tls === 'none'
          ? 'etcd speaks TLS: set etcd3.protocol to https and etcd3.cacert to the CA that signed its certificate'
          : "set etcd3.cacert to the CA that signed etcd's certificate (the certificate must name the host or IP you connect to)",
    });
  }
  if (isTransientFailure(err) || /unavailable|deadline|ECONNREFUSED|No connection|connect/i.test(reason)) {
    // etcd with --client-cert-auth closes the handshake of a client without certificate, and
    // gRPC reports only "no connection established".
    const hint = tls === 'server' ? { hint: 'if etcd runs with --client-cert-auth, set etcd3.cert and etcd3.key' } : {};
    return new PgToolsError(DCS_ERROR.unavailable, `${operation}: ${where} unreachable: ${reason}`, { cause: err, ...hint });
  }
  return new PgToolsError(DCS_ERROR.failed, `${operation}: ${where} failed: ${reason}`, { cause: err });
}

/** The error for a call that hit our own deadline before etcd3/gRPC gave up. */
export function deadlineError(operation: string, hosts: readonly string[], timeoutMs: number): PgToolsError {
  return new PgToolsError(DCS_ERROR.unavailable, `${operation}: etcd ${hosts.join(', ')} did not answer within ${timeoutMs} ms`);
}

/**
 * Runs `body` under one deadline covering all its etcd calls. gRPC's own deadline normally fires
 * first and carries the cause; the timer here is the backstop for anything in etcd3 that does not
 * honour it.
 */
export async function withinDeadline<T>(operation: string, timeoutMs: number, hosts: readonly string[], body: (deadline: number) => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const work = body(deadline);
  // Lost the race: its rejection, if any, is already reported as the deadline error.
  work.catch(() => undefined);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(deadlineError(operation, hosts, timeoutMs)), timeoutMs + 25);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

import { PgToolsError } from '@pgtools/core';
import {
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  GRPCUnauthenticatedError,
  isRecoverableError,
} from 'etcd3';

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
  /** etcd answered with an error we do not expect (a bug or an incompatible server). */
  failed: 'dcs_error',
  /** The EtcdDcs was closed. */
  closed: 'dcs_closed',
} as const;

/** Maps anything the etcd3 client throws to a PgToolsError naming the hosts and the operation. */
export function toDcsError(err: unknown, operation: string, hosts: readonly string[]): PgToolsError {
  if (err instanceof PgToolsError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  const where = `etcd ${hosts.join(', ')}`;
  if (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof GRPCUnauthenticatedError
  ) {
    return new PgToolsError(DCS_ERROR.authFailed, `${operation}: ${where} refused access: ${reason}`, { cause: err });
  }
  if (err instanceof Error && (isRecoverableError(err) || /unavailable|deadline|ECONNREFUSED|No connection|connect/i.test(reason))) {
    return new PgToolsError(DCS_ERROR.unavailable, `${operation}: ${where} unreachable: ${reason}`, { cause: err });
  }
  return new PgToolsError(DCS_ERROR.failed, `${operation}: ${where} failed: ${reason}`, { cause: err });
}

/** The error for a call that hit our own deadline before etcd3/gRPC gave up. */
export function deadlineError(operation: string, hosts: readonly string[], timeoutMs: number): PgToolsError {
  return new PgToolsError(DCS_ERROR.unavailable, `${operation}: etcd ${hosts.join(', ')} did not answer within ${timeoutMs} ms`);
}

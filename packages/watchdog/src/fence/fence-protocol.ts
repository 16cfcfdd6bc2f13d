/** Why the fence acted: no keepalive within the timeout, or the agent's pipe closed while armed. */
export type FenceReason = 'timeout' | 'agent_gone';

/** What the fence process reports (one stdout line each), as typed events. */
export type FenceEvent =
  | { type: 'ready'; pid: number }
  | { type: 'armed'; postmasterPid: number; startTime: number }
  | { type: 'disarmed' }
  | { type: 'fencing'; postmasterPid: number; reason: FenceReason; sinceKeepaliveMs: number }
  | { type: 'fenced'; postmasterPid: number; signal: 'SIGQUIT' | 'SIGKILL'; tookMs: number; sinceKeepaliveMs: number }
  | { type: 'fence_failed'; postmasterPid: number; survivors: number[] }
  | { type: 'skipped'; postmasterPid: number; reason: 'pid_reused' | 'postmaster_gone' }
  /** The leader's lease was revoked after a proven stop (`endpoint` is `gone` when etcd no longer knew it). */
  | { type: 'revoked'; lease: string; endpoint: string; tookMs: number }
  /** `reason`: no_curl, no_endpoint, unreachable, auth_failed, refused or bad_answer. */
  | { type: 'revoke_failed'; lease: string; reason: string }
  /** etcd access was given but the fence cannot revoke (no curl): failover waits for the lease. */
  | { type: 'revoke_unavailable'; reason: string }
  | { type: 'error'; message: string }
  | { type: 'pong' }
  | { type: 'bye'; reason: string }
  | { type: 'exited'; code: number | null; signal: NodeJS.Signals | null };

/**
 * Parses one line the fence script writes; undefined for a line it does not know.
 *
 * @example
 * ```ts
 * parseFenceLine('fenced 4242 SIGQUIT 120 2030');
 * // { type: 'fenced', postmasterPid: 4242, signal: 'SIGQUIT', tookMs: 120, sinceKeepaliveMs: 2030 }
 * ```
 */
export function parseFenceLine(line: string, fencePid = 0): FenceEvent | undefined {
  const [word, ...args] = line.trim().split(/\s+/);
  const n = (i: number): number => Number(args[i]);
  switch (word) {
    case 'ready':
      return { type: 'ready', pid: fencePid };
    case 'armed':
      return { type: 'armed', postmasterPid: n(0), startTime: n(1) };
    case 'disarmed':
      return { type: 'disarmed' };
    case 'pong':
      return { type: 'pong' };
    case 'fencing':
      if (args[1] !== 'timeout' && args[1] !== 'agent_gone') return undefined;
      return { type: 'fencing', postmasterPid: n(0), reason: args[1], sinceKeepaliveMs: n(2) };
    case 'fenced':
      if (args[1] !== 'SIGQUIT' && args[1] !== 'SIGKILL') return undefined;
      return { type: 'fenced', postmasterPid: n(0), signal: args[1], tookMs: n(2), sinceKeepaliveMs: n(3) };
    case 'failed':
      return { type: 'fence_failed', postmasterPid: n(0), survivors: args.slice(1).map(Number) };
    case 'skip':
      if (args[1] !== 'pid_reused' && args[1] !== 'postmaster_gone') return undefined;
      return { type: 'skipped', postmasterPid: n(0), reason: args[1] };
    case 'revoked':
      return { type: 'revoked', lease: args[0] ?? '', endpoint: args[1] ?? '', tookMs: n(2) };
    case 'revoke_failed':
      return { type: 'revoke_failed', lease: args[0] ?? '', reason: args[1] ?? '' };
    case 'norevoke':
      return { type: 'revoke_unavailable', reason: args[0] ?? '' };
    case 'error':
      return { type: 'error', message: args.join(' ') };
    case 'bye':
      return { type: 'bye', reason: args[0] ?? '' };
    default:
      return undefined;
  }
}

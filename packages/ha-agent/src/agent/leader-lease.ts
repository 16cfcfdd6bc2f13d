import { FENCE_MARGIN_MS } from './agent-fence.js';

/** Milliseconds since epoch; injected so that lease arithmetic is testable without waiting. */
export type Clock = () => number;

/**
 * The lease guard stops a primary this long before its lease can expire: more than the software
 * fence's own margin, so the agent (when alive) acts first and the fence only backs it up.
 */
export const LEASE_GUARD_MARGIN_MS = FENCE_MARGIN_MS + 400;

/** The lease guard checks the lease this often; `LEASE_GUARD_MARGIN_MS` covers one period. */
export const LEASE_GUARD_PERIOD_MS = 250;

/**
 * This node's hold on the leader key, as the agent knows it: held or not, and when the lease can
 * expire at the earliest, counted from the moment the last successful refresh (or acquisition) was
 * sent. No I/O: the agent tells it what etcd answered.
 *
 * @example
 * ```ts
 * import { LeaderLease } from '@pgtools/ha-agent/internals';
 * const lease = new LeaderLease(() => 1_000);
 * lease.granted(1_000, 30);
 * lease.validForMs(0);   // 30_000
 * lease.guardDue(2_000); // false
 * ```
 */
export class LeaderLease {
  private heldNow = false;
  private expires: number | undefined;

  constructor(private readonly clock: Clock = Date.now) {}

  /** The time now on the injected clock: take it just before sending a refresh or acquisition. */
  now(): number {
    return this.clock();
  }

  /** This node holds the leader key (as of its last refresh). */
  get held(): boolean {
    return this.heldNow;
  }

  /** When the lease can expire at the earliest (ms since epoch); undefined when not held. */
  get expiresAt(): number | undefined {
    return this.heldNow ? this.expires : undefined;
  }

  /** etcd granted (or refreshed) the key for `ttlSeconds`; the request was sent at `sentAt`. */
  granted(sentAt: number, ttlSeconds: number): void {
    this.heldNow = true;
    this.expires = sentAt + ttlSeconds * 1000;
  }

  /** The key is not (or no longer) this node's. */
  lost(): void {
    this.heldNow = false;
  }

  /** Demoted: neither the key nor its lease count any more. */
  dropped(): void {
    this.heldNow = false;
    this.expires = undefined;
  }

  /** How long the lease stays valid beyond `marginMs`, now; undefined when not held. */
  validForMs(marginMs: number): number | undefined {
    const at = this.expiresAt;
    return at === undefined ? undefined : at - marginMs - this.clock();
  }

  /** The lease is held and less than `marginMs` of it is left: the primary must stop now. */
  guardDue(marginMs: number): boolean {
    const left = this.validForMs(marginMs);
    return left !== undefined && left <= 0;
  }
}

import { EtcdLeaseInvalidError, type Etcd3, type Lease } from 'etcd3';
import { attemptsWithinDeadline } from './fault-handling.js';

/**
 * Owns this agent's one etcd lease. Keepalives are sent only when we ask (one per HA loop), never
 * by a background timer: a stalled agent must lose its keys after `ttl`, and etcd3's own
 * `lost` event would fire only after 2 x ttl.
 */
export class LeaseKeeper {
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private lastRefresh = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: Etcd3,
    private ttlSeconds: number,
    /** Keepalives go over a stream, which etcd3 does not retry: we try up to this many hosts. */
    private readonly hostCount: number,
    private readonly onChange: (event: { type: 'granted' | 'lost'; lease: string; ttl: number }) => void,
  ) {}

  get id(): string | undefined {
    return this.leaseId;
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  /** A new TTL only applies to a new lease: the current one is forgotten (not revoked) so its keys expire on their own. */
  setTtl(ttlSeconds: number): boolean {
    if (ttlSeconds === this.ttlSeconds) return false;
    this.ttlSeconds = ttlSeconds;
    this.forget();
    return true;
  }

  /**
   * Returns a live lease id: sends one keepalive if the last one is older than `minIntervalMs`
   * (always when `force`), grants a new lease when there is none or etcd says ours is gone.
   * `created` tells the caller that keys attached to the old lease are gone or going.
   */
  ensure(deadline: number, options: { force: boolean; minIntervalMs: number }): Promise<{ id: string; created: boolean }> {
    // Serialized: two concurrent callers must not both grant a lease and split our keys between them.
    const run = this.queue.then(() => this.ensureNow(deadline, options));
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async ensureNow(deadline: number, options: { force: boolean; minIntervalMs: number }): Promise<{ id: string; created: boolean }> {
    if (this.lease && this.leaseId !== undefined) {
      if (!options.force && Date.now() - this.lastRefresh < options.minIntervalMs) return { id: this.leaseId, created: false };
      const lease = this.lease;
      const started = Date.now();
      try {
        await attemptsWithinDeadline(deadline, this.hostCount, (d) => lease.keepaliveOnce({ deadline: d }));
        this.lastRefresh = started;
        return { id: this.leaseId, created: false };
      } catch (err) {
        if (!(err instanceof EtcdLeaseInvalidError)) throw err;
        this.markGone();
      }
    }
    return { id: await this.grant(deadline), created: true };
  }

  /** Called when etcd reports "requested lease not found" on a write. */
  markGone(): void {
    const id = this.leaseId;
    this.forget();
    if (id !== undefined) this.onChange({ type: 'lost', lease: id, ttl: this.ttlSeconds });
  }

  /** Stops using the lease without revoking it (Patroni leaves keys to expire on shutdown). */
  forget(): void {
    this.lease?.release();
    this.lease = undefined;
    this.leaseId = undefined;
  }

  private async grant(deadline: number): Promise<string> {
    const started = Date.now();
    const { lease, id } = await attemptsWithinDeadline(deadline, this.hostCount, async (d) => {
      const attempt = this.client.lease(this.ttlSeconds, { autoKeepAlive: false, deadline: d });
      // A failed grant emits 'lost' on the Lease; without a listener that is harmless, but keep one
      // so that a future etcd3 turning it into an 'error'-like event cannot crash the process.
      attempt.on('lost', () => {});
      return { lease: attempt, id: await attempt.grant() };
    });
    this.lease = lease;
    this.leaseId = id;
    this.lastRefresh = started;
    this.onChange({ type: 'granted', lease: id, ttl: this.ttlSeconds });
    return id;
  }
}

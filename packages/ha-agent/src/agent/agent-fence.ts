import type { Logger } from '@pgtools/core';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import { etcdEndpoints } from './dcs-options.js';
import { createWatchdog, startFence, type Fence, type FenceEtcdAccess, type FenceEvent, type Watchdog } from '@pgtools/watchdog';

/** Time the fence needs to act after its deadline: one tick, the SIGQUIT grace, and slack for a loaded machine. */
const FENCE_TICK_MS = 100;
const FENCE_QUIT_GRACE_MS = 1000;
export const FENCE_MARGIN_MS = FENCE_TICK_MS + FENCE_QUIT_GRACE_MS + 500;

/** Options of `AgentFence`. */
export interface AgentFenceOptions {
  dataDir: string;
  /** The fence appends its own trace here (the only one left when the agent is gone). */
  logFile?: string | undefined;
  /** etcd access for revoking the leader lease after a proven stop (see `startFence`). */
  etcd?: FenceEtcdAccess | undefined;
  logger: Logger;
  onEvent: (event: FenceEvent) => void;
}

/**
 * The agent's side of the software fence (`@pgtools/watchdog`'s `startFence`): armed while this
 * node runs the primary under the leader key, fed after every lease refresh with the time left on
 * the lease, disarmed on demotion, pause and clean shutdown. When the agent dies (SIGKILL, OOM) or
 * hangs, PostgreSQL is stopped before the lease can expire, so no replica is promoted while the
 * old primary still accepts writes. Once that stop is proven, the fence revokes the lease (with
 * `etcd` access) so a replica takes over at once instead of when the lease expires.
 *
 * @example
 * ```ts
 * import { AgentFence } from '@pgtools/ha-agent/internals';
 * const fence = new AgentFence({ dataDir: '/var/lib/postgresql/15/main', logger: console, onEvent: () => {} });
 * await fence.start();
 * await fence.hold({ postmasterPid: 4242, leaseValidForMs: 28_000, leaseId: '7587' }); // primary with a fresh lease
 * await fence.release();                                               // demoted or paused
 * await fence.stop();
 * ```
 */
export class AgentFence {
  private fence: Fence | undefined;
  private starting: Promise<void> | undefined;
  private readonly options: AgentFenceOptions;

  constructor(options: AgentFenceOptions) {
    this.options = options;
  }

  /** The postmaster the fence is armed for, if any. */
  get armedFor(): number | undefined {
    return this.fence?.armedFor;
  }

  /** The fence process, while it runs (for memory reports). */
  get process(): Fence | undefined {
    return this.fence?.isRunning ? this.fence : undefined;
  }

  /** Starts the fence process (once; again if it died). A fence that cannot start is logged, not fatal. */
  async start(): Promise<void> {
    if (this.fence?.isRunning) return;
    this.starting ??= startFence({
      // Only the initial deadline after `arm`; every keepalive carries the lease's own deadline.
      timeoutMs: 5000,
      quitGraceMs: FENCE_QUIT_GRACE_MS,
      tickMs: FENCE_TICK_MS,
      dataDir: this.options.dataDir,
      ...(this.options.logFile ? { logFile: this.options.logFile } : {}),
      ...(this.options.etcd ? { etcd: this.options.etcd } : {}),
      logger: this.options.logger,
      onEvent: this.options.onEvent,
    })
      .then((fence) => {
        this.fence = fence;
      })
      .catch((err: unknown) => {
        this.options.logger.error(
          `software fence could not start: ${err instanceof Error ? err.message : String(err)}; the primary is not fenced if this agent dies`,
        );
      })
      .finally(() => {
        this.starting = undefined;
      });
    await this.starting;
  }

  /**
   * This node is the primary under a lease valid `leaseValidForMs` more: arm for `postmasterPid`
   * (again when PostgreSQL was restarted under a new PID) and move the deadline to the lease's.
   */
  async hold(target: { postmasterPid: number; leaseValidForMs: number; leaseId: string | undefined }): Promise<void> {
    if (!this.fence?.isRunning) await this.start();
    const fence = this.fence;
    if (!fence?.isRunning) return;
    const validFor = target.leaseValidForMs - FENCE_MARGIN_MS;
    // Named before arming: from the arm on, a stop may be followed by the revocation.
    fence.setLease(target.leaseId);
    if (fence.armedFor !== target.postmasterPid) {
      try {
        await fence.arm(target.postmasterPid);
      } catch (err) {
        this.options.logger.warn(`software fence not armed: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
    }
    fence.keepalive(validFor);
  }

  /** Moves the deadline after a lease refresh (no-op when disarmed); the lease may be a new one. */
  keepalive(leaseValidForMs: number, leaseId: string | undefined): void {
    if (this.fence?.armedFor === undefined) return;
    this.fence.setLease(leaseId);
    this.fence.keepalive(leaseValidForMs - FENCE_MARGIN_MS);
  }

  /** Not (or no longer) the primary under the lease: disarm, and forget the lease. */
  async release(): Promise<void> {
    if (this.fence?.isRunning && this.fence.armedFor !== undefined) {
      this.fence.setLease(undefined);
      await this.fence.disarm().catch((err: unknown) => this.options.logger.warn(`software fence: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  /** Clean shutdown: disarm and stop the fence process; PostgreSQL is left alone. */
  async stop(): Promise<void> {
    await this.starting;
    await this.fence
      ?.stop()
      .catch((err: unknown) => this.options.logger.debug(`stopping the software fence failed: ${err instanceof Error ? err.message : String(err)}`));
    this.fence = undefined;
  }

  /** The agent is given up without a clean stop: the fence acts as on the agent's death. */
  abandon(): void {
    this.fence?.abandon();
    this.fence = undefined;
  }
}

/**
 * The agent's software fence when `watchdog.software_fence` asks for one (Linux only), tracing to
 * `log.dir`, with the `etcd3` section's hosts, certificate files and credentials to revoke the lease.
 */
export function fenceFromConfig(config: HaConfig, logger: Logger, onEvent: (event: FenceEvent) => void): AgentFence | undefined {
  if (!config.watchdog.softwareFence || process.platform !== 'linux') return undefined;
  const logDir = typeof config.log.dir === 'string' ? config.log.dir : undefined;
  const e = config.etcd3;
  const etcd: FenceEtcdAccess = {
    endpoints: etcdEndpoints(config),
    cacertFile: e.cacert,
    certFile: e.cert,
    keyFile: e.key,
    username: e.username,
    password: e.username === undefined ? undefined : (e.password ?? ''),
  };
  return new AgentFence({ dataDir: config.postgresql.dataDir, logFile: logDir ? `${logDir}/pgtools-fence.log` : undefined, etcd, logger, onEvent });
}

/** The watchdog device per `watchdog:` and the dynamic timings (`ttl - safety_margin`). */
export function watchdogFromConfig(config: HaConfig, dynamic: DynamicConfig, logger: Logger): Watchdog {
  const w = config.watchdog;
  return createWatchdog({ mode: w.mode, device: w.device, ttl: dynamic.ttl, loopWait: dynamic.loopWait, safetyMargin: w.safetyMargin, logger });
}

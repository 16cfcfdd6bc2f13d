import type { Logger } from '@pgtools/core';
import type { KeyChange } from './kv-cache.js';
import type { ClusterView, ViewProblem } from './types.js';

/**
 * Options of `EtcdDcs`.
 *
 * @example
 * ```ts
 * import type { EtcdDcsOptions } from '@pgtools/dcs';
 * const options: EtcdDcsOptions = { hosts: ['127.0.0.1:2379'], scope: 'demo', name: 'node1', ttl: 30 };
 * ```
 */
export interface EtcdDcsOptions {
  /** `host:port` (Patroni's `etcd3.hosts`) or `http(s)://host:port` URLs. Comma-separated strings are split. */
  hosts: string[];
  /** Default `service`, like Patroni. */
  namespace?: string;
  scope: string;
  /** This member's name (the value of the leader key while we hold it). */
  name: string;
  /** Lease TTL in seconds (Patroni's `ttl`). etcd enforces a minimum of about 2 s. */
  ttl: number;
  /**
   * Seconds (Patroni's `loop_wait`, default 10). A keepalive is sent by `touchMember` and
   * `attemptToAcquireLeader` only when the last one is older than min(loopWait, ttl / 2);
   * `updateLeader` always sends one.
   */
  loopWait?: number;
  /** Deadline of every public method, in milliseconds (default 5000). Nothing waits longer. */
  callTimeoutMs?: number;
  auth?: { username: string; password: string };
  /** PEM contents (not paths). With only `ca`, the server is verified; with `cert` + `key`, we authenticate too. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  logger?: Logger;
  onEvent?: (event: DcsEvent) => void;
}

/**
 * Typed events `EtcdDcs` reports through `onEvent` (it never prints).
 *
 * @example
 * ```ts
 * import type { DcsEvent } from '@pgtools/dcs';
 * const onEvent = (e: DcsEvent): void => { if (e.type === 'lease_lost') console.error('lease gone', e.lease); };
 * ```
 */
export type DcsEvent =
  | { type: 'lease_granted'; lease: string; ttl: number }
  | { type: 'lease_lost'; lease: string }
  | { type: 'watch_started'; revision: number }
  | { type: 'watch_interrupted'; reason: string }
  | { type: 'view_problem'; problem: ViewProblem };

/**
 * Called by `watch` when a key that matters to the HA loop changes (leader, config, failover, or
 * status while someone else leads): wake up and run a cycle now.
 *
 * @example
 * ```ts
 * import type { WakeListener } from '@pgtools/dcs';
 * const wake: WakeListener = (view, changes) => console.log(changes.map((c) => c.key), view.leader?.name);
 * ```
 */
export type WakeListener = (view: ClusterView, changes: KeyChange[]) => void;

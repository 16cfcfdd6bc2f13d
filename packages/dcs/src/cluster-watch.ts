import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@pgtools/core';
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';
import { toRaw } from './etcd-requests.js';
import type { KeyChange, KvCache } from './kv-cache.js';
import type { RawKeyValue } from './parse-cluster-view.js';

/** The first wait before re-reading after a broken watch, doubled up to the second, in ms. */
const WATCH_RETRY_FIRST_MS = 200;
const WATCH_RETRY_MAX_MS = 2000;

export interface ClusterWatchOptions {
  client: Etcd3;
  prefix: string;
  cache: KvCache;
  /** A linearizable read of the whole prefix, under EtcdDcs's deadline and error mapping. */
  readPrefix: () => Promise<{ kvs: RawKeyValue[]; revision: number }>;
  /** False once the DCS is closed or nobody listens: the loop ends. */
  wanted: () => boolean;
  /** Called with the keys that changed, whenever the cache changed (a rebuild or watch events). */
  onChanges: (changes: KeyChange[]) => void;
  logger: Logger;
  onStarted: (revision: number) => void;
  onInterrupted: (reason: string) => void;
}

/**
 * Keeps `cache` equal to the cluster prefix in etcd: a range read, then a watch from that revision,
 * and a fresh read after any interruption (backing off from 200 ms to 2 s while etcd is away).
 * `ready` is true only while the cache follows a live watch.
 */
export class ClusterWatch {
  ready = false;
  private loop: Promise<void> | undefined;
  private stopFollowing: ((reason: string) => void) | undefined;
  private readonly closing = new AbortController();

  constructor(private readonly options: ClusterWatchOptions) {}

  /** Starts the loop unless it runs. */
  start(): void {
    this.loop ??= this.run().finally(() => {
      this.loop = undefined;
    });
  }

  /** Ends the current watch; the loop reads again and resumes, unless it is no longer wanted. */
  interrupt(reason: string): void {
    this.stopFollowing?.(reason);
  }

  /** Stops for good and waits for the loop to end. */
  async close(): Promise<void> {
    this.ready = false;
    this.closing.abort();
    this.stopFollowing?.('stopped');
    await this.loop?.catch((err: unknown) => this.options.logger.debug('the etcd watch loop ended with an error', { error: String(err) }));
  }

  private async run(): Promise<void> {
    const { cache, logger } = this.options;
    let backoffMs = WATCH_RETRY_FIRST_MS;
    let failing = false;
    while (this.options.wanted()) {
      try {
        const { kvs, revision } = await this.options.readPrefix();
        if (!this.options.wanted()) break;
        const changes = cache.reset(kvs, revision);
        this.ready = true;
        failing = false;
        backoffMs = WATCH_RETRY_FIRST_MS;
        this.options.onStarted(revision);
        this.options.onChanges(changes);
        const reason = await this.follow(revision + 1);
        if (!this.options.wanted()) break;
        logger.warn('etcd watch interrupted; re-reading the cluster', { reason });
        this.options.onInterrupted(reason);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (!failing) logger.warn('cannot (re)start the etcd watch', { error: message });
        failing = true;
      }
      this.ready = false;
      try {
        await sleep(backoffMs, undefined, { signal: this.closing.signal });
      } catch {
        break;
      }
      backoffMs = Math.min(backoffMs * 2, WATCH_RETRY_MAX_MS);
    }
    this.ready = false;
  }

  /** Applies watch events until the watch breaks; resolves with the reason. */
  private follow(startRevision: number): Promise<string> {
    const { client, prefix, cache, logger } = this.options;
    return new Promise((resolve) => {
      const watcher: Watcher = client.watch().prefix(prefix).startRevision(String(startRevision)).watcher();
      let done = false;
      const finish = (reason: string): void => {
        if (done) return;
        done = true;
        this.stopFollowing = undefined;
        this.ready = false;
        watcher.removeAllListeners();
        // A late 'error' emitted with no listener would throw inside etcd3's stream handler.
        watcher.on('error', () => undefined);
        watcher.cancel().catch((err: unknown) => logger.debug('cancelling the etcd watch failed', { error: String(err) }));
        resolve(reason);
      };
      this.stopFollowing = finish;
      watcher.on('data', (res: IWatchResponse) => {
        const changes: KeyChange[] = [];
        for (const event of res.events ?? []) {
          const raw = toRaw(event.kv);
          const change = event.type === 'Delete' ? cache.delete(raw.key, Number(event.kv.mod_revision)) : cache.put(raw);
          if (change) changes.push(change);
        }
        this.options.onChanges(changes);
      });
      watcher.on('disconnected', (err: Error) => finish(`disconnected: ${err.message}`));
      watcher.on('error', (err: Error) => finish(`error: ${err.message}`));
      watcher.on('end', () => finish('ended'));
    });
  }
}

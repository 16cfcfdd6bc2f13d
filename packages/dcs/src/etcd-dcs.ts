import { PgToolsError, silentLogger, type Logger } from '@pgtools/core';
import { EtcdLeaseInvalidError, type Etcd3, type ICompare, type IRequestOp, type ITxnResponse } from 'etcd3';
import { ClusterWatch } from './cluster-watch.js';
import { DCS_ERROR, toDcsError, withinDeadline, type TlsSetup } from './dcs-errors.js';
import { jsonEqual } from './deep-equal.js';
import { connectEtcd, splitHosts } from './etcd-client.js';
import { modCompare, prefixEnd, putOp, toRaw } from './etcd-requests.js';
import { attemptsWithinDeadline } from './fault-handling.js';
import { keyLayout, type KeyLayout } from './key-layout.js';
import { KvCache, type KeyChange } from './kv-cache.js';
import { LeaseKeeper } from './lease-keeper.js';
import { parseClusterView, type RawKeyValue } from './parse-cluster-view.js';
import { OwnMemberKey } from './own-member-key.js';
import { patroniJson } from './patroni-json.js';
import { ProblemLog } from './problem-log.js';
import type { DcsEvent, EtcdDcsOptions, WakeListener } from './etcd-dcs-options.js';
import { isWakeChange } from './wake-changes.js';
import type { ClusterConfig, ClusterView, FailoverValue, FailsafeValue, HistoryEntry, MemberData, StatusValue, SyncState } from './types.js';

const DEFAULT_CALL_TIMEOUT_MS = 5000;

/**
 * The distributed configuration store of the HA agent: etcd v3 with Patroni's key layout, so that
 * patronictl, vip-manager and other Patroni tools see a correct cluster.
 *
 * Every public method has a deadline (`callTimeoutMs`) and throws `PgToolsError` with code
 * `dcs_unavailable` when etcd does not answer in time. Compare-and-swap methods resolve to `false`
 * when someone else changed the key.
 *
 * @example
 * ```ts
 * import { EtcdDcs } from '@pgtools/dcs';
 * const dcs = new EtcdDcs({ hosts: ['127.0.0.1:2379'], scope: 'demo', name: 'node1', ttl: 30 });
 * await dcs.touchMember({ conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'replica' });
 * if (await dcs.attemptToAcquireLeader()) console.log('I am the leader');
 * const view = await dcs.loadCluster();
 * console.log(view.leader?.name, view.members.map((m) => m.name));
 * await dcs.close();
 * ```
 */
export class EtcdDcs {
  readonly name: string;
  readonly layout: KeyLayout;
  readonly hosts: readonly string[];
  private readonly client: Etcd3;
  private readonly logger: Logger;
  private readonly onEvent: ((event: DcsEvent) => void) | undefined;
  private readonly callTimeoutMs: number;
  private loopWaitSeconds: number;
  private readonly lease: LeaseKeeper;
  private readonly cache = new KvCache();
  private readonly listeners = new Set<WakeListener>();
  private readonly watcher: ClusterWatch;
  /** The leader key's mod revision (0: absent) that the watch had not delivered at the last check. */
  private leaderMismatch: number | undefined;
  private closed = false;
  /** Our member key as last seen (read or written), to skip writes that change nothing. */
  private readonly ownMember = new OwnMemberKey();
  private lastStatus: StatusValue | undefined;
  private lastFailsafe: FailsafeValue | undefined;
  private readonly reportedProblems = new ProblemLog();
  private readonly tlsSetup: TlsSetup;

  constructor(options: EtcdDcsOptions) {
    this.layout = keyLayout(options.namespace, options.scope);
    this.layout.member(options.name); // validates the name
    if (!Number.isFinite(options.ttl) || options.ttl < 1) throw new RangeError(`ttl must be at least 1 second, got ${options.ttl}`);
    this.name = options.name;
    this.hosts = splitHosts(options.hosts);
    if (this.hosts.length === 0) throw new RangeError('hosts must list at least one etcd endpoint');
    this.logger = options.logger ?? silentLogger;
    this.onEvent = options.onEvent;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.loopWaitSeconds = options.loopWait ?? 10;

    ({ client: this.client, tlsSetup: this.tlsSetup } = connectEtcd(this.hosts, this.callTimeoutMs, options));
    this.watcher = new ClusterWatch({
      client: this.client,
      prefix: this.layout.prefix,
      cache: this.cache,
      readPrefix: () => this.op('watch: read cluster', (deadline) => this.readPrefix(deadline)),
      wanted: () => !this.closed && this.listeners.size > 0,
      onChanges: (changes) => this.notify(changes),
      logger: this.logger,
      onStarted: (revision) => this.onEvent?.({ type: 'watch_started', revision }),
      onInterrupted: (reason) => this.onEvent?.({ type: 'watch_interrupted', reason }),
    });
    this.lease = new LeaseKeeper(this.client, options.ttl, this.hosts.length, (event) => {
      if (event.type === 'granted') {
        this.logger.debug('etcd lease granted', { lease: event.lease, ttl: event.ttl });
        this.onEvent?.({ type: 'lease_granted', lease: event.lease, ttl: event.ttl });
      } else {
        this.logger.warn('our etcd lease is gone (expired or revoked); a new one will be granted', { lease: event.lease });
        this.onEvent?.({ type: 'lease_lost', lease: event.lease });
      }
    });
  }

  /** The lease our keys are attached to, if one was granted. */
  get leaseId(): string | undefined {
    return this.lease.id;
  }

  /**
   * Changes the TTL (dynamic `ttl` changed). The next write grants a new lease with it; keys are
   * moved to the new lease by the next `touchMember` / `updateLeader`.
   */
  setTtl(ttlSeconds: number): void {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`ttl must be at least 1 second, got ${ttlSeconds}`);
    this.lease.setTtl(ttlSeconds);
  }

  /** Changes loop_wait (seconds), which paces the non-forced keepalives. */
  setLoopWait(seconds: number): void {
    this.loopWaitSeconds = seconds;
  }

  /** One range read of the whole cluster prefix, through the quorum. */
  async loadCluster(): Promise<ClusterView> {
    return this.op('load cluster', async (deadline) => {
      const { kvs, revision } = await this.readPrefix(deadline);
      const mine = kvs.find((kv) => kv.key === this.layout.member(this.name));
      this.ownMember.remember(mine?.value, mine?.lease, revision);
      return this.toView(kvs, revision);
    });
  }

  /** The view kept up to date by `watch`, or undefined when no watch is running or it is resyncing. */
  cachedView(): ClusterView | undefined {
    if (!this.watcher.ready || this.closed) return undefined;
    return this.toView(this.cache.snapshot(), this.cache.revision);
  }

  /**
   * `cachedView()` when the watch is healthy, else a fresh `loadCluster()`. A watch attached to a
   * member cut off from the quorum (dropped packets, no reset) reports nothing, and a leader key
   * that expired would look alive until gRPC's keepalive gives up on it; so the leader key is also
   * read through the quorum, and a cache behind it is not used (and its watch restarted).
   */
  async currentView(): Promise<ClusterView> {
    const cached = this.cachedView();
    if (!cached) return this.loadCluster();
    const cachedLeader = this.cache.get(this.layout.leader);
    const fresh = await this.op('read leader key', (deadline) =>
      attemptsWithinDeadline(deadline, this.hosts.length, (d) => this.client.kv.range({ key: Buffer.from(this.layout.leader) }, { deadline: d })),
    );
    const kv = fresh.kvs[0];
    const freshRevision = kv ? Number(kv.mod_revision) : 0;
    if (freshRevision === (cachedLeader?.modRevision ?? 0)) {
      this.leaderMismatch = undefined;
      return cached;
    }
    // A change the watch has not delivered yet is normal for a few milliseconds; the same one
    // missing at the next loop is not.
    if (this.leaderMismatch === freshRevision) {
      this.logger.warn('the etcd watch is behind the quorum; restarting it');
      this.watcher.interrupt('behind the quorum');
    }
    this.leaderMismatch = freshRevision;
    return this.loadCluster();
  }

  /**
   * Keeps a local cache of the prefix (range read, then a watch from that revision; a fresh read
   * after any interruption) and calls `onChange` at once when leader, config, failover or (while
   * someone else leads) status change. Also called when the cache is (re)built and such a key
   * differs from the previous cache: the first build reports every present one. Returns a function
   * that removes the listener; the watch stops with the last listener or `close()`.
   */
  watch(onChange: WakeListener): () => void {
    if (this.closed) throw new PgToolsError(DCS_ERROR.closed, 'watch: EtcdDcs is closed');
    this.listeners.add(onChange);
    this.watcher.start();
    return () => {
      this.listeners.delete(onChange);
      if (this.listeners.size === 0) this.watcher.interrupt('stopped');
    };
  }

  /** Race for the leader key: creates it with our name and lease only if it does not exist. */
  async attemptToAcquireLeader(): Promise<boolean> {
    return this.op('acquire leader lock', async (deadline) => {
      const key = this.layout.leader;
      // A keepalive first: the agent counts the lease from this call; one last kept alive up to a keepalive
      // interval earlier (a member-key write) expires that much sooner (CI19: a takeover 0.24 s early).
      const res = await this.withLease(deadline, true, (lease) =>
        this.txn(deadline, [{ key: Buffer.from(key), target: 'Create', result: 'Equal', create_revision: 0 }], [putOp(key, this.name, lease)]),
      );
      if (res.txn.succeeded) {
        this.cache.put({ key, value: this.name, modRevision: Number(res.txn.header.revision), lease: res.lease });
        this.logger.info('acquired the leader lock', { name: this.name });
      } else this.logger.info('could not take the leader lock: it exists');
      return res.txn.succeeded;
    });
  }

  /**
   * Puts the leader key unconditionally (bootstrap only, like Patroni's take_leader: the node that
   * won the `initialize` race owns the cluster).
   */
  async takeLeader(): Promise<boolean> {
    return this.op('take leader lock', async (deadline) => {
      const key = this.layout.leader;
      // Kept alive first, as in attemptToAcquireLeader: the agent counts the lease from this call.
      const res = await this.withLease(deadline, true, (lease) => this.txn(deadline, [], [putOp(key, this.name, lease)]));
      this.cache.put({ key, value: this.name, modRevision: Number(res.txn.header.revision), lease: res.lease });
      return true;
    });
  }

  /**
   * Refreshes our lease (always sends a keepalive) and checks that the leader key still holds our
   * name. If it does but sits on another lease (TTL changed, lease re-granted), it is moved to ours
   * by a compare-and-swap on its value. Resolves to false when the key is gone or someone else's.
   *
   * Why compare the value and not the mod revision (Patroni 3.0.2): the mod revision we know comes
   * from a view that may be a few events old, so a revision CAS can fail although we still hold the
   * lock, and a leader that fails to update demotes itself. The value is only ever our name while
   * we hold the lock, because the key can be created only while absent. Patroni 4.x made the same
   * change.
   */
  async updateLeader(): Promise<boolean> {
    return this.op('update leader lock', async (deadline) => {
      const key = this.layout.leader;
      const { id: lease } = await this.lease.ensure(deadline, { force: true, minIntervalMs: 0 });
      const isMine: ICompare = { key: Buffer.from(key), target: 'Value', result: 'Equal', value: Buffer.from(this.name) };
      const onMyLease: ICompare = { key: Buffer.from(key), target: 'Lease', result: 'Equal', lease };
      // The range op matters: etcd serves a txn without ops (or with serializable ranges only)
      // from the local member without consensus, which could confirm a lock we lost.
      const check = await this.txn(deadline, [isMine, onMyLease], [{ request_range: { key: Buffer.from(key) } }]);
      if (check.succeeded) return true;
      const moved = await this.withLease(deadline, false, (id) => this.txn(deadline, [isMine], [putOp(key, this.name, id)]));
      if (moved.txn.succeeded) {
        this.cache.put({ key, value: this.name, modRevision: Number(moved.txn.header.revision), lease: moved.lease });
        return true;
      }
      this.logger.warn('the leader lock is no longer ours', { name: this.name });
      return false;
    });
  }

  /** Deletes the leader key only if it holds our name. */
  async deleteLeader(): Promise<boolean> {
    return this.op('delete leader lock', async (deadline) => {
      const key = this.layout.leader;
      const res = await this.txn(
        deadline,
        [{ key: Buffer.from(key), target: 'Value', result: 'Equal', value: Buffer.from(this.name) }],
        [{ request_delete_range: { key: Buffer.from(key) } }],
      );
      if (res.succeeded) this.cache.delete(key, Number(res.header.revision));
      return res.succeeded;
    });
  }

  /**
   * Writes `members/<name>` (compact JSON, with our lease) when the data or the lease changed since
   * what etcd holds (the watched view) or, without a watch, since our last write.
   * Returns true when the key is up to date.
   */
  async touchMember(data: MemberData): Promise<boolean> {
    return this.op('touch member', async (deadline) => {
      const key = this.layout.member(this.name);
      const json = patroniJson(data);
      const { id: current } = await this.lease.ensure(deadline, { force: false, minIntervalMs: this.keepaliveIntervalMs() });
      const watched = this.watcher.ready ? { entry: this.cache.get(key), revision: this.cache.revision } : undefined;
      if (this.ownMember.upToDate(json, current, watched)) return true;
      const res = await this.withLease(deadline, false, (lease) => this.txn(deadline, [], [putOp(key, json, lease)]));
      const revision = Number(res.txn.header.revision);
      this.cache.put({ key, value: json, modRevision: revision, lease: res.lease });
      this.ownMember.remember(json, res.lease, revision);
      return true;
    });
  }

  /**
   * The bootstrap race on `initialize`. `create: true`: create-if-absent (returns false when another
   * node won); `create: false`: plain put (writing the system identifier after initdb).
   */
  async initialize(create: boolean, sysid = ''): Promise<boolean> {
    return this.op('initialize', async (deadline) => {
      const compare: ICompare[] = create ? [{ key: Buffer.from(this.layout.initialize), target: 'Create', result: 'Equal', create_revision: 0 }] : [];
      return this.putKey(deadline, this.layout.initialize, sysid, compare);
    });
  }

  /** Deletes `initialize` (a failed bootstrap), so another node may try. */
  async cancelInitialization(): Promise<boolean> {
    return this.op('cancel initialization', (deadline) => this.deleteKey(deadline, this.layout.initialize, []));
  }

  /** Writes `config`; with `expectedModRevision`, only if nobody changed it since (false otherwise). */
  async setConfig(value: ClusterConfig, expectedModRevision?: number): Promise<boolean> {
    return this.putJson('set config', this.layout.config, value, expectedModRevision);
  }

  /** Writes `failover` (a requested switchover / failover); CAS on the mod revision when given. */
  async setFailover(value: FailoverValue, expectedModRevision?: number): Promise<boolean> {
    return this.putJson('set failover', this.layout.failover, value, expectedModRevision);
  }

  /** Clears `failover` the way Patroni does: writes `{}`. */
  async clearFailover(expectedModRevision?: number): Promise<boolean> {
    return this.setFailover({}, expectedModRevision);
  }

  /** Writes `sync` (synchronous mode); CAS on the mod revision when given. */
  async setSync(value: SyncState, expectedModRevision?: number): Promise<boolean> {
    return this.putJson('set sync state', this.layout.sync, value, expectedModRevision);
  }

  /** Deletes `sync`; CAS on the mod revision when given. */
  async deleteSync(expectedModRevision?: number): Promise<boolean> {
    return this.op('delete sync state', (deadline) => this.deleteKey(deadline, this.layout.sync, modCompare(this.layout.sync, expectedModRevision)));
  }

  /** Writes `history` (after a promotion). */
  async setHistory(lines: HistoryEntry[]): Promise<boolean> {
    return this.putJson('set history', this.layout.history, lines, undefined);
  }

  /** Writes `status` (no lease) when it differs from what we last wrote. */
  async setStatus(value: StatusValue): Promise<boolean> {
    return this.op('set status', async (deadline) => {
      if (this.lastStatus && jsonEqual(this.lastStatus, value)) return true;
      const written = await this.putKey(deadline, this.layout.status, patroniJson(value), []);
      this.lastStatus = structuredClone(value);
      return written;
    });
  }

  /** Writes `failsafe` (failsafe_mode) when it differs from what we last wrote. */
  async setFailsafe(value: FailsafeValue): Promise<boolean> {
    return this.op('set failsafe', async (deadline) => {
      if (this.lastFailsafe && jsonEqual(this.lastFailsafe, value)) return true;
      const written = await this.putKey(deadline, this.layout.failsafe, patroniJson(value), []);
      this.lastFailsafe = { ...value };
      return written;
    });
  }

  /** Deletes every key of the cluster (`patronictl remove`). */
  async deleteCluster(): Promise<boolean> {
    return this.op('delete cluster', async (deadline) => {
      const res = await this.txn(deadline, [], [{ request_delete_range: { key: Buffer.from(this.layout.prefix), range_end: prefixEnd(this.layout.prefix) } }]);
      for (const kv of this.cache.snapshot()) this.cache.delete(kv.key, Number(res.header.revision));
      return true;
    });
  }

  /** Stops the watch and closes the connections. The lease is not revoked: our keys expire after ttl. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.watcher.close();
    this.lease.forget();
    this.client.close();
  }

  // ---- internals ----

  private keepaliveIntervalMs(): number {
    return Math.min(this.loopWaitSeconds, this.lease.ttl / 2) * 1000;
  }

  /** Runs `body` under one deadline covering all its etcd calls; maps failures to PgToolsError. */
  private async op<T>(operation: string, body: (deadline: number) => Promise<T>): Promise<T> {
    if (this.closed) throw new PgToolsError(DCS_ERROR.closed, `${operation}: EtcdDcs is closed`);
    try {
      return await withinDeadline(operation, this.callTimeoutMs, this.hosts, body);
    } catch (err) {
      const error = toDcsError(err, operation, this.hosts, this.tlsSetup);
      this.logger.debug('etcd operation failed', { operation, code: error.code, error: error.message });
      throw error;
    }
  }

  /**
   * Runs a write that attaches our lease; when etcd says the lease does not exist (expired while we
   * were away), grants a new one and retries once.
   */
  private async withLease<T>(deadline: number, force: boolean, write: (lease: string) => Promise<T>): Promise<{ txn: T; lease: string }> {
    const { id } = await this.lease.ensure(deadline, { force, minIntervalMs: this.keepaliveIntervalMs() });
    try {
      return { txn: await write(id), lease: id };
    } catch (err) {
      if (!(err instanceof EtcdLeaseInvalidError)) throw err;
      this.lease.markGone();
      const { id: fresh } = await this.lease.ensure(deadline, { force: true, minIntervalMs: 0 });
      return { txn: await write(fresh), lease: fresh };
    }
  }

  private async txn(deadline: number, compare: ICompare[], success: IRequestOp[]): Promise<ITxnResponse> {
    return attemptsWithinDeadline(deadline, this.hosts.length, (d) => this.client.kv.txn({ compare, success, failure: [] }, { deadline: d }));
  }

  /** Writes `value` as Patroni's JSON; with `expectedModRevision`, only if nobody changed the key since. */
  private putJson(operation: string, key: string, value: unknown, expectedModRevision: number | undefined): Promise<boolean> {
    return this.op(operation, (deadline) => this.putKey(deadline, key, patroniJson(value), modCompare(key, expectedModRevision)));
  }

  private async putKey(deadline: number, key: string, value: string, compare: ICompare[]): Promise<boolean> {
    const res = await this.txn(deadline, compare, [putOp(key, value)]);
    if (res.succeeded) this.cache.put({ key, value, modRevision: Number(res.header.revision) });
    return res.succeeded;
  }

  private async deleteKey(deadline: number, key: string, compare: ICompare[]): Promise<boolean> {
    const res = await this.txn(deadline, compare, [{ request_delete_range: { key: Buffer.from(key) } }]);
    if (res.succeeded) this.cache.delete(key, Number(res.header.revision));
    return res.succeeded;
  }

  private async readPrefix(deadline: number): Promise<{ kvs: RawKeyValue[]; revision: number }> {
    const res = await attemptsWithinDeadline(deadline, this.hosts.length, (d) =>
      // Linearizable: a member cut off from the quorum must not serve an old leader key.
      this.client.kv.range({ key: Buffer.from(this.layout.prefix), range_end: prefixEnd(this.layout.prefix) }, { deadline: d }),
    );
    return { kvs: res.kvs.map(toRaw), revision: Number(res.header.revision) };
  }

  private toView(kvs: RawKeyValue[], revision: number): ClusterView {
    const view = parseClusterView(this.layout, kvs, revision);
    for (const problem of this.reportedProblems.unseen(view.problems)) {
      this.logger.warn('ignoring an unreadable value in etcd', { key: problem.key, reason: problem.reason });
      this.onEvent?.({ type: 'view_problem', problem });
    }
    if (view.leader?.name === this.name && view.leader.lease !== undefined && this.lease.id !== undefined && view.leader.lease !== this.lease.id) {
      this.logger.warn('I am the leader but not owner of the lease', { lease: view.leader.lease });
    }
    return view;
  }

  private notify(changes: KeyChange[]): void {
    if (changes.length === 0 || this.listeners.size === 0) return;
    const leaderName = this.cache.get(this.layout.leader)?.value;
    const relevant = changes.filter((c) => isWakeChange(this.layout, this.name, c, leaderName));
    if (relevant.length === 0) return;
    const view = this.toView(this.cache.snapshot(), this.cache.revision);
    for (const listener of [...this.listeners]) {
      try {
        listener(view, relevant);
      } catch (err) {
        this.logger.error('watch listener threw', { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
}

import { readdir, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PgToolsError, silentLogger, type Logger } from '@pgtools/core';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import { DEFAULT_REPLICA_METHODS } from '../config/replica-config.js';
import { standbyClusterMethods } from '../config/standby-cluster-config.js';
import { effectiveAuthFiles, writeAuthFiles } from './auth-files.js';
import { createBootstrapUsers, initdb, prepareDataDir, setSuperuserPassword } from './bootstrap-cluster.js';
import { emptyDir, rewind } from './clone-and-rewind.js';
import { createReplicaFor, usableMethods, type ReplicaCreationEvent } from './create-replica.js';
import { runBeforeStop } from './bootstrap-scripts.js';
import { readControlData, type ControlData } from './controldata.js';
import { singleUserRecovery } from './single-user-recovery.js';
import { standbyClusterRecovery } from './standby-source.js';
import { localEndpoint } from './local-address.js';
import { ensureInclude, writeManagedConf, type ManagedRole, type StandbySource } from './managed-conf.js';
import { conninfo, withConnection, type PgEndpoint } from './pg-connection.js';
import { identifyTimeline, queryStatus, type PgStatus } from './pg-status.js';
import { Postmaster, readPidFile, type StopMode } from './postmaster.js';
import { reapLeftovers } from './postmaster-leftovers.js';
import { dropSlots, ensureSlots, slotNameFor } from './replication-slots.js';
import { checkPgBinaries, DEFAULT_BIN_DIR, type RunAs } from './run-binary.js';
import { fileParameters, forcedSettings } from './server-settings.js';
import { checkListenAddress } from './listen-check.js';
import { isAlive } from './process-alive.js';

/** Options of `PostgresControl`. */
export interface PostgresControlOptions {
  config: HaConfig;
  /** The effective dynamic configuration (etcd `config` key, else `bootstrap.dcs`). */
  dynamic?: DynamicConfig;
  /** Run PostgreSQL binaries as this OS user (when the embedding process is root, e.g. tests). */
  runAs?: RunAs | undefined;
  /** Append the server's output here; default: debug lines on the logger. */
  logFile?: string | undefined;
  logger?: Logger;
  /** The postmaster exited without being asked to (crash, SIGKILL, OOM killer). */
  onUnexpectedExit?: (info: { pid: number; code: number | null; signal: string | null }) => void;
  /** A postmaster was started or adopted (its PID, for the embedding process's bookkeeping). */
  onStarted?: (info: { pid: number; adopted: boolean }) => void;
  /** A running postmaster was told to re-read its configuration (`reload()`: Patroni's `on_reload`). */
  onReloaded?: () => void;
  /** `postgresql.before_stop` ended (its exit code does not change the stop). */
  onScriptExit?: (info: { script: 'before_stop'; code: number | null; signal: string | null }) => void;
}

/** A member's PostgreSQL as seen from another node: host and port from its `conn_url`. */
export interface RemoteServer {
  host: string;
  port: number;
}

/**
 * Controls the node's PostgreSQL: initdb and users, start/stop of the postmaster as a tracked
 * child process, status, promote, demote, clone, follow (standby configuration), slots and pg_rewind.
 *
 * @example
 * ```ts
 * import { PostgresControl, loadConfig } from '@pgtools/ha-agent';
 * const { config } = await loadConfig('/etc/patroni.yml');
 * const pg = new PostgresControl({ config });
 * if (await pg.dataDirEmpty()) { await pg.initdb(); await pg.start({ standby: false }); await pg.createUsers(); }
 * console.log(await pg.status());
 * await pg.stop('fast');
 * ```
 */
export class PostgresControl {
  private config: HaConfig;
  private dynamic: DynamicConfig;
  readonly runAs: RunAs | undefined;
  private readonly logger: Logger;
  private readonly options: PostgresControlOptions;
  private pm: Postmaster | undefined;
  private stopping = false;
  private syncNames: string | undefined;
  private bootstrapHba: string[] | undefined;
  /** The pg_hba / pg_ident lines of the configuration last applied (JSON). */
  private authFilesApplied: string;

  constructor(options: PostgresControlOptions) {
    this.options = options;
    this.config = options.config;
    this.dynamic = options.dynamic ?? options.config.bootstrap.dcs;
    this.runAs = options.runAs;
    this.logger = options.logger ?? silentLogger;
    this.authFilesApplied = JSON.stringify(effectiveAuthFiles(this.config, this.dynamic));
  }

  /** `pg_ctl_timeout` (Patroni's default 60 s): how long a stop may take before it is forced. */
  get ctlTimeoutMs(): number {
    return (this.config.postgresql.pgCtlTimeout ?? this.dynamic.postgresql.pgCtlTimeout ?? 60) * 1000;
  }

  get binDir(): string {
    return this.config.postgresql.binDir ?? DEFAULT_BIN_DIR;
  }

  get dataDir(): string {
    return this.config.postgresql.dataDir;
  }

  /** The current postmaster, if one runs (or ran and has not been replaced). */
  get postmaster(): Postmaster | undefined {
    return this.pm;
  }

  get isRunning(): boolean {
    return this.pm?.isRunning ?? false;
  }

  setConfig(config: HaConfig, dynamic: DynamicConfig): void {
    this.config = config;
    this.dynamic = dynamic;
  }

  /** How the agent connects to its own server: as the superuser, or the replication user (`use_unix_socket[_repl]`). */
  localEndpoint(as: 'superuser' | 'replication' = 'superuser'): PgEndpoint {
    return localEndpoint(this.config, this.dynamic, as);
  }

  /** The timeline replay has reached (`IDENTIFY_SYSTEM` as the replication user); undefined when it cannot be asked. */
  async replayTimeline(): Promise<number | undefined> {
    return identifyTimeline(this.localEndpoint('replication'));
  }

  /** No data directory, or one without PG_VERSION. */
  async dataDirEmpty(): Promise<boolean> {
    return !(await readdir(this.dataDir).catch(() => [] as string[])).includes('PG_VERSION');
  }

  async controlData(): Promise<ControlData | undefined> {
    if (!existsSync(join(this.dataDir, 'global', 'pg_control'))) return undefined;
    return readControlData(this.dataDir, { binDir: this.binDir, runAs: undefined });
  }

  /** Where the WAL ends after a clean shutdown as primary (the shutdown checkpoint), else undefined. */
  async cleanShutdownLsn(): Promise<number | undefined> {
    if (this.isRunning) return undefined;
    const cd = await this.controlData();
    return cd?.clusterState === 'shut down' ? cd.checkpointLsn : undefined;
  }

  /** True when a changed setting waits for a restart (`pg_settings.pending_restart`). */
  async pendingRestart(): Promise<boolean> {
    const sql = 'SELECT count(*) > 0 AS p FROM pg_settings WHERE pending_restart';
    return withConnection(this.localEndpoint(), async (c) => (await c.query<{ p: boolean }>(sql)).rows[0]?.p === true);
  }

  /** Adopts a postmaster left running by a previous agent process; true if one was found. */
  adoptRunning(): boolean {
    if (this.pm?.isRunning) return true;
    const pm = Postmaster.adopt(this.dataDir);
    if (!pm) return false;
    this.track(pm, true);
    return true;
  }

  /** initdb with `bootstrap.initdb`, pg_hba / pg_ident lines. */
  async initdb(): Promise<void> {
    await initdb(this.config, this.dynamic, { binDir: this.binDir, runAs: this.runAs });
    await ensureInclude(this.dataDir, this.runAs);
  }

  /** During a custom bootstrap pg_hba.conf holds only these lines (the restored passwords are unknown); undefined ends it. */
  setBootstrapHba(lines: string[] | undefined): void {
    this.bootstrapHba = lines;
  }

  /** Sets the configured superuser password (first thing after a new cluster starts). */
  async setSuperuserPassword(): Promise<void> {
    await withConnection(this.localEndpoint(), (c) => setSuperuserPassword(c, this.config));
  }

  /** Superuser password, replication/rewind users, `bootstrap.users` (on the fresh primary). */
  async createUsers(): Promise<void> {
    await withConnection(this.localEndpoint(), (c) => createBootstrapUsers(c, this.config));
  }

  /** Renames a failed bootstrap's data dir to `<data_dir>.failed` (Patroni's behaviour). */
  async moveAsideFailed(): Promise<void> {
    const target = `${this.dataDir}.failed`;
    await emptyDir(target);
    await rename(this.dataDir, target).catch((err: unknown) =>
      this.logger.debug(`moving ${this.dataDir} aside failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /** The conninfo a replica uses to stream from `leader`. */
  replicationConninfo(leader: RemoteServer): string {
    const { username: user, password } = this.config.postgresql.authentication.replication;
    return conninfo({ host: leader.host, port: leader.port, user, password, application_name: this.config.name });
  }

  /** Where this node streams from, with its slot when `use_slots`. */
  standbySource(leader: RemoteServer | undefined): StandbySource | undefined {
    if (!leader) return undefined;
    return { conninfo: this.replicationConninfo(leader), slotName: this.dynamic.postgresql.useSlots ? slotNameFor(this.config.name) : undefined };
  }

  /** Writes pg_hba / pg_ident (when managed) and the managed conf for `role`. True when the conf changed. */
  async configure(role: ManagedRole): Promise<boolean> {
    await ensureInclude(this.dataDir, this.runAs);
    await writeAuthFiles(this.dataDir, effectiveAuthFiles(this.config, this.dynamic), this.runAs, this.bootstrapHba);
    const parameters = fileParameters(this.config, this.dynamic);
    if (this.syncNames !== undefined) parameters.synchronous_standby_names = this.syncNames;
    const recoveryConf = this.config.postgresql.recoveryConf ?? this.dynamic.postgresql.recoveryConf;
    const standbyRecovery = { ...recoveryConf, ...standbyClusterRecovery(this.dynamic.standbyCluster, role.source?.remote === true) };
    return writeManagedConf(this.dataDir, parameters, { ...role, standbyRecovery }, this.runAs);
  }

  /** The `synchronous_standby_names` the agent manages (synchronous mode); undefined = the configured value. */
  get synchronousStandbyNames(): string | undefined {
    return this.syncNames;
  }

  /**
   * Sets (or with undefined, hands back to the configuration) `synchronous_standby_names`; with
   * `role`, rewrites the managed conf and reloads a running server when it changed (true then).
   */
  async setSynchronousStandbyNames(value: string | undefined, role?: { standby: boolean; source?: StandbySource | undefined }): Promise<boolean> {
    this.syncNames = value;
    // Not running (or no role given): the next start or configure writes it.
    if (!role || !this.isRunning) return false;
    const changed = await this.configure(role);
    if (changed) this.reload();
    return changed;
  }

  /**
   * Throws `pg_binaries_not_found` (naming `postgresql.bin_dir`, the path tried and the server
   * directories found on this machine) when postgres/initdb/pg_controldata are missing; returns the
   * missing replica-only binaries (pg_basebackup, pg_rewind).
   */
  checkBinaries(): string[] {
    return checkPgBinaries(this.binDir, this.config.postgresql.binDir !== undefined);
  }

  /**
   * Checks that PostgreSQL can take its address (`postgresql.listen`) before it is started: throws
   * `postgres_port_in_use` when another process listens on the port (TCP, or the unix socket lock in
   * a configured `unix_socket_directories`) and `postgres_listen_address_unavailable` when the host
   * is not an address of this machine. A postmaster of our own data directory is not a conflict.
   */
  async checkListen(): Promise<void> {
    await checkListenAddress(this.config, this.dataDir);
  }

  /**
   * Starts the postmaster as primary or standby and waits up to `waitMs` for it to accept
   * connections. Resolves false when it is still starting (crash recovery) or exited.
   */
  async start(role: ManagedRole, waitMs = 60_000): Promise<boolean> {
    if (this.pm?.isRunning) throw new PgToolsError('postgres_already_running', `PostgreSQL is already running (pid ${this.pm.pid})`);
    this.checkBinaries();
    await this.reapLeftovers();
    // PostgreSQL would exit with "could not bind ... Address already in use", seen only in its own log: say it here.
    await this.checkListen().catch((err: unknown) => this.logger.error(err instanceof Error ? err.message : String(err)));
    await this.configure(role);
    const pm = Postmaster.start({
      binDir: this.binDir,
      dataDir: this.dataDir,
      settings: forcedSettings(this.config, this.dynamic),
      runAs: this.runAs,
      logFile: this.options.logFile,
      logger: this.logger,
    });
    this.track(pm, false);
    return pm.waitReady(waitMs);
  }

  /**
   * A postmaster that was SIGKILLed leaves its backends running until they notice; a new one must
   * not start (nor recover the WAL) before every one of them is gone. Skipped while a live
   * postmaster owns the data directory (starting then fails on its own, with PostgreSQL's message).
   */
  private async reapLeftovers(): Promise<void> {
    const own = readPidFile(this.dataDir);
    if (own && isAlive(own.pid)) return;
    const found = await reapLeftovers(this.dataDir);
    if (found.length > 0)
      this.logger.warn(
        `stopped ${found.length} server process(es) left in ${this.dataDir} by a dead postmaster before starting a new one: ${found.map((p) => p.pid).join(', ')}`,
      );
  }

  private track(pm: Postmaster, adopted: boolean): void {
    this.pm = pm;
    this.stopping = false;
    pm.on('exit', (code, signal) => {
      if (this.stopping || this.pm !== pm) return;
      this.options.onUnexpectedExit?.({ pid: pm.pid, code, signal });
    });
    this.options.onStarted?.({ pid: pm.pid, adopted });
  }

  /**
   * Stops the postmaster (`fast` by default) and waits for it to exit; false when none was running.
   * After `timeoutMs` the stop is forced (immediate, then SIGKILL) and `onForced` is told.
   */
  async stop(mode: StopMode = 'fast', timeoutMs = this.ctlTimeoutMs, onForced?: () => void): Promise<boolean> {
    const pm = this.pm;
    if (!pm?.isRunning) return false;
    // Never before an immediate stop (a lost lease, a fence): a script must not keep a second primary running.
    if (mode !== 'immediate') await runBeforeStop(this.config, this.runAs, this.logger, this.options.onScriptExit);
    this.stopping = true;
    if (!(await pm.stop(mode, timeoutMs))) onForced?.();
    return true;
  }

  /** Role, timeline, WAL positions...; undefined when not running or not answering. */
  async status(timeoutMs = 3000): Promise<PgStatus | undefined> {
    if (!this.pm?.isRunning) return undefined;
    try {
      return await withConnection(this.localEndpoint(), queryStatus, timeoutMs);
    } catch (err) {
      this.logger.debug('status query failed', { error: (err as Error).message });
      return undefined;
    }
  }

  /** `SELECT pg_promote()` (waits up to 60 s for the end of recovery). */
  async promote(): Promise<void> {
    // standby.signal must still exist here: the end of recovery unlinks it and dies (FATAL) if it is gone.
    const ok = await withConnection(
      this.localEndpoint(),
      async (c) => (await c.query<{ ok: boolean }>('SELECT pg_promote(true, 60) AS ok')).rows[0]?.ok === true,
      65_000,
    );
    if (!ok) throw new PgToolsError('promote_failed', 'pg_promote() did not finish within 60 s');
    // Settings a primary needs at once (synchronous_standby_names in strict mode) come with a reload
    // (part of the promotion, not a configuration reload of its own: no `onReloaded`).
    if (await this.configure({ standby: false })) this.pm?.signal('SIGHUP');
  }

  async checkpoint(timeoutMs = 60_000): Promise<void> {
    await withConnection(this.localEndpoint(), (c) => c.query('CHECKPOINT'), timeoutMs);
  }

  /** Re-reads the configuration files (SIGHUP to the postmaster). */
  reload(): void {
    if (!this.pm?.isRunning) return;
    this.pm.signal('SIGHUP');
    this.options.onReloaded?.();
  }

  /**
   * When the configuration's pg_hba / pg_ident lines changed (the dynamic ones, say), rewrites
   * pg_hba.conf / pg_ident.conf and reloads a running server, as Patroni does; the managed conf
   * and the signal files are left alone. A stopped server gets them when it starts; a failed write
   * is retried at the next call. True when it reloaded.
   */
  async syncAuthFiles(): Promise<boolean> {
    const lines = JSON.stringify(effectiveAuthFiles(this.config, this.dynamic));
    if (lines === this.authFilesApplied) return false;
    if (this.isRunning) {
      await writeAuthFiles(this.dataDir, effectiveAuthFiles(this.config, this.dynamic), this.runAs, this.bootstrapHba);
      this.reload();
    }
    this.authFilesApplied = lines;
    return this.isRunning;
  }

  /** SIGHUP only to wake the startup process out of its retry wait: not a configuration reload. */
  wakeStartup(): void {
    this.pm?.signal('SIGHUP');
  }

  /**
   * Points a running standby at `leader`: rewrites the managed conf and reloads when
   * primary_conninfo changed (PostgreSQL 13+ restarts the WAL receiver on reload).
   */
  async follow(leader: RemoteServer | StandbySource | undefined): Promise<boolean> {
    const source = leader && 'host' in leader ? this.standbySource(leader) : leader;
    const changed = await this.configure({ standby: true, source });
    if (changed) this.reload();
    return changed;
  }

  /** On the leader: a physical slot for every other member. */
  ensureSlots(members: string[]): Promise<string[]> {
    return this.otherMembersSlots(members, ensureSlots);
  }

  /** On the leader: drops the unused slots of members gone for good (never this node's own). */
  dropSlots(members: string[]): Promise<string[]> {
    return this.otherMembersSlots(members, dropSlots);
  }

  private async otherMembersSlots(members: string[], act: typeof ensureSlots): Promise<string[]> {
    if (!this.dynamic.postgresql.useSlots) return [];
    const me = slotNameFor(this.config.name);
    return withConnection(this.localEndpoint(), (c) =>
      act(
        c,
        members.filter((m) => slotNameFor(m) !== me),
      ),
    );
  }

  /**
   * Makes the data dir a replica of `source` with `postgresql.create_replica_methods` (default
   * pg_basebackup; in a standby cluster `standby_cluster.create_replica_methods`); without a source only `no_leader` methods run. Resolves with the method that
   * worked; see `createReplica` for the fallback, cleanup and cancellation. `basebackupOnly`: `reinit --from-leader`, pg_basebackup whatever the methods say.
   */
  async clone(
    source: RemoteServer | undefined,
    options: { signal: AbortSignal; basebackupOnly: boolean; onEvent?: (e: ReplicaCreationEvent) => void },
  ): Promise<string> {
    await prepareDataDir(this.dataDir, this.runAs);
    const { dataDir, binDir, runAs, logger } = this;
    return createReplicaFor(this.config, source, { dataDir, binDir, runAs, logger, ...options, methods: standbyClusterMethods(this.dynamic, this.config) });
  }

  /** A `no_leader` method is configured: a replica can be made without a leader (from a backup). */
  get canCloneWithoutLeader(): boolean {
    return (
      usableMethods(standbyClusterMethods(this.dynamic, this.config) ?? this.config.postgresql.replica?.methods ?? DEFAULT_REPLICA_METHODS, false).length > 0
    );
  }

  /**
   * A data dir left by a crash (or SIGKILL, power loss) is first recovered in single-user mode with
   * the forced settings: pg_rewind would otherwise run that recovery itself from postgresql.conf
   * alone, which lacks `wal_log_hints = on` (we pass it on the command line), record it as off in
   * pg_control and then refuse to rewind. Recovery signal files are set aside meanwhile because a
   * single-user server cannot run as a standby. True when recovery ran.
   */
  async finishCrashRecovery(): Promise<boolean> {
    // Single-user mode would refuse (shared memory still attached) or race the old backends.
    await this.reapLeftovers();
    const cd = await this.controlData();
    if (!cd || cd.clusterState === 'shut down' || cd.clusterState === 'shut down in recovery') return false;
    this.logger.info(`running crash recovery in single-user mode (cluster state: ${cd.clusterState})`);
    await singleUserRecovery(this.dataDir, forcedSettings(this.config, this.dynamic), { binDir: this.binDir, runAs: this.runAs, logger: this.logger });
    return true;
  }

  /** pg_rewind from `source` (PostgreSQL must be stopped). True when something was rewound. */
  async rewind(source: RemoteServer): Promise<boolean> {
    await this.finishCrashRecovery();
    const a = this.config.postgresql.authentication;
    const user = a.rewind ?? a.superuser;
    return rewind({ host: source.host, port: source.port, user: user.username, password: user.password }, this.dataDir, {
      binDir: this.binDir,
      runAs: this.runAs,
    });
  }
}

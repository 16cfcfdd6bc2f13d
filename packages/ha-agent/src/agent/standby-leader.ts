import { PgToolsError, type Logger } from '@pgtools/core';
import type { EtcdDcs, MemberData } from '@pgtools/dcs';
import type { Watchdog } from '@pgtools/watchdog';
import { emptyDataDir } from '../postgres/clone-and-rewind.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import { remoteServer, remoteSource } from '../postgres/standby-source.js';
import type { AgentFence } from './agent-fence.js';
import type { AgentRole, HaAgentEvent } from './agent-events.js';
import { debugFailure, errMessage } from './agent-errors.js';
import type { AgentRunState } from './agent-state.js';
import { stopPrimary } from './bounded-stop.js';
import type { PostgresCallbacks } from './postgres-callbacks.js';

/** What the standby leader's actions use (a subset of the executor's parts). */
export interface StandbyLeaderDeps {
  state: AgentRunState;
  pg: PostgresControl;
  dcs: EtcdDcs;
  watchdog: Watchdog;
  fence: AgentFence | undefined;
  callbacks: PostgresCallbacks;
  logger: Logger;
  emit(event: HaAgentEvent): void;
  setRole(role: AgentRole, reason: string): void;
  memberData(): MemberData;
}

/**
 * How long the standby leader's start may take before the loop looks again: a copy just made
 * (or a stopped standby) is consistent within seconds; a longer recovery goes on in the
 * background and the next cycle sees it running.
 */
const STANDBY_START_MS = 30_000;

/** Starts the stopped PostgreSQL as the standby leader, following the remote primary. True when it answers. */
async function startStandbyLeader(d: StandbyLeaderDeps, reason: string): Promise<boolean> {
  const { state, pg } = d;
  // A crashed primary (demote-cluster interrupted) first ends its crash recovery, as startReplica does.
  if (state.mayHaveDiverged) await pg.finishCrashRecovery();
  state.lastStartAttempt = Date.now();
  state.pgState = 'starting';
  const ready = await pg.start({ standby: true, source: remoteSource(state.config, state.dynamic) }, STANDBY_START_MS);
  d.callbacks.started('standby_leader', ready);
  if (!ready) return false;
  state.postgresDownSince = undefined;
  state.rewindFailedAt = undefined;
  d.setRole('standby_leader', reason);
  return true;
}

/**
 * The bootstrap winner of a standby cluster (Patroni's `bootstrap_standby_leader`): instead of
 * initdb, the data dir is cloned from the remote primary (`standby_cluster.host`/`port`) with
 * `standby_cluster.create_replica_methods` (default pg_basebackup; without host and port only
 * `no_leader` methods, e.g. a restore from the archive), started as a standby of the remote, and
 * then the `initialize` key gets the system identifier, the `config` key `bootstrap.dcs` and this
 * node the leader key. A failure empties the data dir, gives `initialize` back and is fatal, as a
 * failed bootstrap is.
 *
 * @example
 * ```ts
 * await bootstrapStandbyLeader(deps, () => dcs.takeLeader());
 * ```
 */
export async function bootstrapStandbyLeader(d: StandbyLeaderDeps, takeLeader: () => Promise<boolean>): Promise<void> {
  const { state, dcs, pg, logger } = d;
  if (!(await dcs.initialize(true, ''))) {
    logger.info('another member is bootstrapping the cluster');
    return;
  }
  const server = remoteServer(state.dynamic.standbyCluster);
  const what = server ? `clone from remote member ${server.host}:${server.port}` : 'bootstrap (without leader)';
  state.pgState = 'creating replica';
  await dcs.touchMember(d.memberData()).catch(debugFailure(logger, 'publishing the member key before cloning'));
  try {
    const method = await pg.clone(server, { signal: new AbortController().signal, basebackupOnly: false, onEvent: (e) => d.emit(e) });
    logger.info(`bootstrapped ${what} using ${method}`);
    d.emit({ type: 'cloned', from: server ? `${server.host}:${server.port}` : '', method });
    if (!(await startStandbyLeader(d, 'bootstrapped a standby cluster'))) {
      throw new PgToolsError('postgres_start_failed', 'PostgreSQL did not start as the standby leader after the clone');
    }
    const sysid = (await pg.controlData())?.systemId ?? '';
    await dcs.initialize(false, sysid);
    await dcs.setConfig(state.config.bootstrap.dcsDocument, 0);
    await takeLeader();
    state.systemId = sysid;
    state.mayHaveDiverged = false;
    d.emit({ type: 'bootstrapped', systemId: sysid });
  } catch (err) {
    logger.error(`failed to bootstrap ${what}: ${errMessage(err)}`);
    await pg.stop('immediate').catch(debugFailure(logger, 'stopping PostgreSQL after the failed bootstrap'));
    await emptyDataDir(pg.dataDir).catch(debugFailure(logger, 'removing the data directory after the failed bootstrap'));
    await dcs.cancelInitialization().catch(debugFailure(logger, 'removing the initialize key after the failed bootstrap'));
    state.pgState = 'stopped';
    throw new PgToolsError('ha_fatal', `bootstrap of the standby leader failed: ${errMessage(err)}`, { cause: err });
  }
}

/**
 * `lead_standby`: this node holds the leader key of a standby cluster (`acquire`: takes it first,
 * after winning the race). PostgreSQL runs, or is started, as a standby of the remote primary; a
 * changed `standby_cluster` (another host, slot, restore_command...) is applied with a reload.
 *
 * @example
 * ```ts
 * await leadStandby(deps, { acquire: true, clearFailoverKey: false }, () => dcs.attemptToAcquireLeader());
 * ```
 */
export async function leadStandby(
  d: StandbyLeaderDeps,
  action: { acquire: boolean; clearFailoverKey: boolean },
  takeLeader: () => Promise<boolean>,
): Promise<void> {
  const { state, dcs, pg, logger } = d;
  if (action.acquire && !(await takeLeader())) {
    logger.info('lost the leader race');
    return;
  }
  if (action.clearFailoverKey) await dcs.clearFailover().catch(debugFailure(logger, 'clearing the failover key'));
  if (!pg.isRunning) {
    await startStandbyLeader(d, 'started as the standby leader');
    return;
  }
  if (await pg.follow(remoteSource(state.config, state.dynamic))) logger.info('following the remote primary of standby_cluster');
  d.callbacks.roleChanged('standby_leader');
  d.setRole('standby_leader', action.acquire ? 'acquired the leader key of the standby cluster' : 'holding the leader key of the standby cluster');
}

/**
 * `demote_cluster` (Patroni's `demote('demote-cluster')`): `standby_cluster` was added to a
 * running cluster, so its primary checkpoints, stops (fast, bounded like a switchover), keeps
 * the leader key, is rewound from the remote primary when `use_pg_rewind` is on (nothing changes
 * when it did not diverge), and starts as the standby leader. After a failed pg_rewind it stays
 * stopped this cycle.
 *
 * @example
 * ```ts
 * await demoteCluster(deps);
 * ```
 */
export async function demoteCluster(d: StandbyLeaderDeps): Promise<void> {
  const { state, pg, logger } = d;
  const reason = 'demoting to a standby cluster';
  logger.warn(`demoting: ${reason}`);
  state.pgState = 'stopping';
  await pg.checkpoint().catch((err) => logger.warn(`checkpoint before demote failed: ${errMessage(err)}`));
  await d.fence?.release();
  const stop = await stopPrimary(d, reason, true);
  if (stop.stopped) d.callbacks.stopped();
  d.watchdog.disable();
  await pg.setSynchronousStandbyNames(undefined);
  d.emit({ type: 'demoted', reason, mode: 'graceful' });
  d.setRole('replica', reason);
  const server = remoteServer(state.dynamic.standbyCluster);
  if (state.dynamic.postgresql.usePgRewind && server) {
    logger.info(`running pg_rewind from the remote primary ${server.host}:${server.port}`);
    try {
      const changed = await pg.rewind(server);
      d.emit({ type: 'rewound', from: `${server.host}:${server.port}`, changed });
    } catch (err) {
      logger.error(`pg_rewind failed: ${errMessage(err)}`);
      d.emit({ type: 'rewind_failed', message: errMessage(err) });
      state.rewindFailedAt = Date.now();
      state.pgState = 'stopped';
      return;
    }
  }
  await startStandbyLeader(d, reason);
}

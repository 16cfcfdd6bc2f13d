import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PgToolsError, type Logger } from '@pgtools/core';
import type { CustomBootstrap } from '../config/bootstrap-config.js';
import { writeBootstrapAuthFiles } from '../postgres/auth-files.js';
import { prepareDataDir } from '../postgres/bootstrap-cluster.js';
import { customBootstrapArgv, runPostBootstrap, runScript, tidyRestoredDataDir, type ScriptExit } from '../postgres/bootstrap-scripts.js';
import type { BootstrapRecovery } from '../postgres/managed-conf.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { HaAgentEvent } from './agent-events.js';
import type { AgentRunState } from './agent-state.js';

/** What creating the new cluster needs (a subset of the executor's parts). */
export interface ClusterBootstrapDeps {
  state: AgentRunState;
  pg: PostgresControl;
  logger: Logger;
  emit(event: HaAgentEvent): void;
}

/** How long the first start after initdb may take (a fresh cluster starts in about a second). */
const INITDB_START_MS = 120_000;

/** While a restored cluster is still recovering, the agent says so this often. */
const RECOVERY_LOG_EVERY_MS = 30_000;

function exitText(exit: ScriptExit): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

// Patroni's `replace_pg_hba` while `running_custom_bootstrap`: only the superuser and the
// replication user, only locally, without a password (the restored cluster's passwords are unknown).
function localTrust(pg: PostgresControl, superuser: string, replication: string): string[] {
  const { host } = pg.localEndpoint();
  const mask = host.includes(':') ? '128' : '32';
  return [
    `local all ${superuser} trust`,
    `local replication ${replication} trust`,
    `host all ${superuser} ${host}/${mask} trust`,
    `host replication ${replication} ${host}/${mask} trust`,
  ];
}

/** Runs the custom method's command into the (empty) data dir; throws when it fails. */
async function runMethod(d: ClusterBootstrapDeps, method: CustomBootstrap): Promise<void> {
  const { state, pg, logger } = d;
  await prepareDataDir(pg.dataDir, pg.runAs);
  const argv = customBootstrapArgv(method, state.config.scope, pg.dataDir);
  logger.info(`running custom bootstrap method ${method.name}: ${argv.join(' ')}`);
  const exit = await runScript(argv, { runAs: pg.runAs, logger, label: method.name });
  d.emit({ type: 'script_exited', script: 'method', name: method.name, code: exit.code, signal: exit.signal });
  if (exit.code !== 0) {
    throw new PgToolsError('bootstrap_method_failed', `bootstrap method ${method.name} (${method.command}) ${exitText(exit)}`);
  }
  if (await pg.dataDirEmpty()) throw new PgToolsError('bootstrap_method_failed', `bootstrap method ${method.name} left no cluster in ${pg.dataDir}`);
  await tidyRestoredDataDir(pg.dataDir, method.keepExistingRecoveryConf);
}

/**
 * A restored cluster may start in archive recovery (`recovery_conf`, or the recovery settings the
 * command kept): like Patroni ("waiting for end of recovery after bootstrap"), the agent waits,
 * without a time limit, until PostgreSQL ends it itself. It fails when the postmaster exits.
 */
async function waitForEndOfRecovery(d: ClusterBootstrapDeps): Promise<void> {
  const { state, pg, logger } = d;
  let lastLog = Date.now();
  for (;;) {
    if (!pg.isRunning) throw new PgToolsError('postgres_start_failed', 'PostgreSQL exited during the recovery of the bootstrapped cluster');
    if (state.stopping) throw new PgToolsError('bootstrap_interrupted', 'the agent was stopped while the bootstrapped cluster was recovering');
    const status = await pg.status();
    if (status && !status.inRecovery) return;
    if (Date.now() - lastLog >= RECOVERY_LOG_EVERY_MS) {
      lastLog = Date.now();
      const where = status?.replayedLsn !== undefined ? ` (replayed ${status.replayedLsn} bytes of WAL)` : '';
      if (status?.replayPaused)
        logger.warn(`recovery after bootstrap is paused${where}: end it with pg_wal_replay_resume() or set recovery_target_action: promote`);
      else logger.info(`waiting for end of recovery after bootstrap${where}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Creates and starts the new cluster of the bootstrap winner: initdb, or the custom
 * `bootstrap.method` (its command, then a start in archive recovery when configured, waiting for
 * its end, with local trust in pg_hba.conf meanwhile); then the superuser password,
 * `post_bootstrap`, the other users. Throws when a step fails (the caller cleans up).
 *
 * @example
 * ```ts
 * await createNewCluster({ state, pg, logger, emit });
 * ```
 */
export async function createNewCluster(d: ClusterBootstrapDeps): Promise<void> {
  const { state, pg, logger } = d;
  const { method, postBootstrap } = state.config.bootstrap;
  let finalHba: string | undefined;
  if (method) {
    await runMethod(d, method);
    await writeBootstrapAuthFiles(state.config, state.dynamic, pg.runAs);
    finalHba = await readFile(join(pg.dataDir, 'pg_hba.conf'), 'utf8').catch(() => undefined);
    const auth = state.config.postgresql.authentication;
    pg.setBootstrapHba(localTrust(pg, auth.superuser.username, auth.replication.username));
    const recovery: BootstrapRecovery | undefined = method.recoveryConf
      ? { settings: method.recoveryConf }
      : method.keepExistingRecoveryConf
        ? 'keep'
        : undefined;
    // A restore may spend long in recovery before it accepts connections: only an exit fails it.
    await pg.start({ standby: false, recovery }, INITDB_START_MS);
    await waitForEndOfRecovery(d);
  } else {
    await pg.initdb();
    if (!(await pg.start({ standby: false }, INITDB_START_MS))) throw new PgToolsError('postgres_start_failed', 'PostgreSQL did not start after initdb');
  }
  await pg.setSuperuserPassword();
  if (postBootstrap) {
    const exit = await runPostBootstrap(postBootstrap, pg.localEndpoint(), { runAs: pg.runAs, pgpass: state.config.postgresql.pgpass, logger });
    d.emit({ type: 'script_exited', script: 'post_bootstrap', name: 'post_bootstrap', code: exit.code, signal: exit.signal });
    if (exit.code !== 0) throw new PgToolsError('post_bootstrap_failed', `post_bootstrap script ${postBootstrap} ${exitText(exit)}`);
  }
  await pg.createUsers();
  if (method) {
    // The configured pg_hba (or the restored file with bootstrap.pg_hba) replaces the local trust,
    // and the recovery settings leave the managed conf.
    pg.setBootstrapHba(undefined);
    if (finalHba !== undefined) await writeFile(join(pg.dataDir, 'pg_hba.conf'), finalHba);
    await pg.configure({ standby: false });
    pg.reload();
  }
}

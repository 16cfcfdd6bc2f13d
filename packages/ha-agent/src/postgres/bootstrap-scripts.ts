import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@pgtools/core';
import type { CustomBootstrap } from '../config/bootstrap-config.js';
import { commandWords } from '../config/command-config.js';
import type { HaConfig } from '../config/config-types.js';
import { shlexSplit } from '../config/shlex-split.js';
import type { PgEndpoint } from './pg-connection.js';
import type { RunAs } from './run-binary.js';
import { runCancellable } from './cancellable-process.js';
import { writePgpass } from './pgpass.js';

/**
 * The argv of a custom bootstrap method (Patroni's `_custom_bootstrap`): the command, then
 * `--scope=` and `--datadir=` unless `no_params`, then the section's other keys as `--key=value`.
 *
 * @example
 * ```ts
 * import { customBootstrapArgv } from '@pgtools/ha-agent/internals';
 * customBootstrapArgv(method, 'batman', '/data'); // ['/usr/local/bin/restore.sh', '--scope=batman', '--datadir=/data', '--target=nightly']
 * ```
 */
export function customBootstrapArgv(method: CustomBootstrap, scope: string, dataDir: string): string[] {
  return [...shlexSplit(method.command), ...(method.noParams ? [] : [`--scope=${scope}`, `--datadir=${dataDir}`]), ...method.extraArgs];
}

/**
 * The URL `post_bootstrap` receives: the local server, as the superuser, without the password
 * (that comes through `PGPASSFILE`).
 *
 * @example
 * ```ts
 * import { localSuperuserUrl } from '@pgtools/ha-agent/internals';
 * localSuperuserUrl({ host: '127.0.0.1', port: 5432, user: 'postgres' }); // 'postgres://postgres@127.0.0.1:5432/postgres'
 * ```
 */
export function localSuperuserUrl(endpoint: PgEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `postgres://${encodeURIComponent(endpoint.user)}@${host}:${endpoint.port}/${encodeURIComponent(endpoint.database ?? 'postgres')}`;
}

/** How a script ended. */
export interface ScriptExit {
  code: number | null;
  signal: string | null;
}

/**
 * Runs a bootstrap script to completion as `runAs` (the PostgreSQL OS user), its output logged
 * line by line. A program that cannot be started ends with code 127, like a shell.
 *
 * @example
 * ```ts
 * import { runScript } from '@pgtools/ha-agent/internals';
 * const { code } = await runScript(['/usr/local/bin/restore.sh', '--datadir=/data'], { logger, label: 'restore' });
 * ```
 */
export async function runScript(
  argv: readonly string[],
  options: { runAs?: RunAs | undefined; env?: NodeJS.ProcessEnv; logger: Logger; label: string; signal?: AbortSignal },
): Promise<ScriptExit> {
  const { logger, label } = options;
  const r = await runCancellable(argv, {
    runAs: options.runAs,
    ...(options.env ? { env: options.env } : {}),
    signal: options.signal ?? new AbortController().signal,
    onLine: (line) => {
      if (line.trim() !== '') logger.info(`${label}: ${line}`);
    },
  });
  if (r.code === 127 && r.tail.length === 0) logger.error(`${label}: could not start ${argv[0] ?? '(nothing)'}`);
  return { code: r.code, signal: r.signal };
}

/**
 * Runs `post_bootstrap` as Patroni's `call_post_bootstrap` does: one argument, the local URL;
 * the password in a .pgpass file named by `PGPASSFILE` (`postgresql.pgpass` when configured, else
 * a private temporary one), and `PGOPTIONS` that keep the script's writes from waiting for a
 * synchronous standby that does not exist yet.
 *
 * @example
 * ```ts
 * import { runPostBootstrap } from '@pgtools/ha-agent/internals';
 * const { code } = await runPostBootstrap('/usr/local/bin/setup.sh', local, { logger });
 * ```
 */
export async function runPostBootstrap(
  command: string,
  endpoint: PgEndpoint,
  options: { runAs?: RunAs | undefined; pgpass?: string | undefined; logger: Logger },
): Promise<ScriptExit> {
  const tempDir = options.pgpass === undefined ? await mkdtemp(join(tmpdir(), 'pgtools-post-bootstrap-')) : undefined;
  const pgpass = options.pgpass ?? join(tempDir ?? '', 'pgpass');
  try {
    if (tempDir && options.runAs) await chown(tempDir, options.runAs.uid, options.runAs.gid);
    await writePgpass(pgpass, endpoint, options.runAs);
    const argv = [...shlexSplit(command), localSuperuserUrl(endpoint)];
    options.logger.info(`running post_bootstrap: ${argv.join(' ')}`);
    return await runScript(argv, {
      runAs: options.runAs,
      env: { PGPASSFILE: pgpass, PGOPTIONS: '-c synchronous_commit=local -c statement_timeout=0' },
      logger: options.logger,
      label: 'post_bootstrap',
    });
  } finally {
    // A configured postgresql.pgpass stays, as Patroni leaves it.
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

/**
 * PostgreSQL's recovery settings (the docs' "Archive Recovery", "Recovery Target" and "Standby
 * Server" sections, plus the pre-12 `standby_mode`): what Patroni's `_sanitize_auto_conf` drops
 * from postgresql.auto.conf after a custom bootstrap.
 */
const RECOVERY_SETTINGS = new Set([
  'restore_command',
  'archive_cleanup_command',
  'recovery_end_command',
  'recovery_target',
  'recovery_target_name',
  'recovery_target_time',
  'recovery_target_xid',
  'recovery_target_lsn',
  'recovery_target_inclusive',
  'recovery_target_timeline',
  'recovery_target_action',
  'primary_conninfo',
  'primary_slot_name',
  'promote_trigger_file',
  'recovery_min_apply_delay',
  'standby_mode',
]);

/**
 * After a custom bootstrap command (Patroni's `_post_restore` and `remove_recovery_conf`): removes
 * a `promote` trigger file, and unless the method keeps the recovery configuration it left, the
 * signal files, recovery.conf and the recovery settings in postgresql.auto.conf.
 *
 * @example
 * ```ts
 * import { tidyRestoredDataDir } from '@pgtools/ha-agent/internals';
 * await tidyRestoredDataDir('/data', false);
 * ```
 */
export async function tidyRestoredDataDir(dataDir: string, keepExistingRecoveryConf: boolean): Promise<void> {
  await rm(join(dataDir, 'promote'), { force: true });
  if (keepExistingRecoveryConf) return;
  for (const f of ['recovery.signal', 'standby.signal', 'recovery.conf']) await rm(join(dataDir, f), { force: true });
  const auto = join(dataDir, 'postgresql.auto.conf');
  let text: string;
  try {
    text = await readFile(auto, 'utf8');
  } catch {
    return;
  }
  const lines = text.split('\n');
  const kept = lines.filter((line) => !RECOVERY_SETTINGS.has(/^\s*([a-z_]+)\s*=/i.exec(line)?.[1]?.toLowerCase() ?? ''));
  // writeFile keeps the file's owner and mode.
  if (kept.length !== lines.length) await writeFile(auto, kept.join('\n'));
}

/**
 * Patroni's `before_stop`: run, and waited for, before PostgreSQL is stopped; its exit code does
 * not change the stop (Patroni logs it).
 *
 * @example
 * ```ts
 * import { runBeforeStop } from '@pgtools/ha-agent/internals';
 * await runBeforeStop(config, undefined, logger);
 * ```
 */
export async function runBeforeStop(
  config: HaConfig,
  runAs: RunAs | undefined,
  logger: Logger,
  onExit?: (info: { script: 'before_stop'; code: number | null; signal: string | null }) => void,
): Promise<void> {
  const command = config.postgresql.beforeStop;
  if (!command) return;
  const exit = await runScript(commandWords('postgresql.before_stop', command), { runAs, logger, label: 'before_stop' });
  logger.info(`before_stop script \`${command}\` exited with ${exit.code ?? exit.signal}`);
  onExit?.({ script: 'before_stop', code: exit.code, signal: exit.signal });
}

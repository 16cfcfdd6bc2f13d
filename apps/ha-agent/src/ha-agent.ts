import { PgToolsError, createStreamLogger, type LogLevel, type Logger } from '@pgtools/core';
import { HaAgent, loadConfig, type HaConfig } from '@pgtools/ha-agent';
import pkg from '../package.json' with { type: 'json' };

const HELP = `ha-agent keeps a PostgreSQL primary/replica cluster available (Patroni-compatible).

Usage:
  ha-agent [OPTIONS] CONFIG_FILE

  CONFIG_FILE is Patroni's YAML (scope, name, restapi, etcd3, bootstrap, postgresql, watchdog, tags);
  PATRONI_* environment variables override it. Run as the PostgreSQL OS user, never root.

Options:
  --validate-config   check the configuration file and exit
  --version           print the version and exit
  --help              show this help and exit

Signals: SIGTERM stops PostgreSQL cleanly and releases the leader key; SIGHUP reloads the configuration.
Exit codes: 0 done, 1 failed, 2 bad usage or configuration.
`;

/** What `main` takes from its environment; tests replace parts of it. */
export interface AgentCliDeps {
  env?: NodeJS.ProcessEnv;
  /** Effective uid (default `process.geteuid()`). */
  uid?: number;
  stdout?: { write(chunk: string): unknown };
  stderr?: { write(chunk: string): unknown };
  /** Where SIGTERM/SIGINT/SIGHUP come from (default `process`). */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
}

function logLevel(config: HaConfig): LogLevel {
  const level = String(config.log.level ?? 'INFO').toLowerCase();
  if (level === 'debug') return 'debug';
  if (level === 'warning' || level === 'warn') return 'warn';
  if (level === 'error' || level === 'critical') return 'error';
  return 'info';
}

async function readConfig(path: string, env: NodeJS.ProcessEnv, err: { write(chunk: string): unknown }): Promise<HaConfig | undefined> {
  try {
    const { config, warnings } = await loadConfig(path, env);
    for (const w of warnings) err.write(`WARNING: ${w}\n`);
    return config;
  } catch (e) {
    if (e instanceof PgToolsError) {
      err.write(`ha-agent: ${e.message}${e.hint ? `\nHINT: ${e.hint}` : ''}\n`);
      return undefined;
    }
    throw e;
  }
}

/**
 * Runs ha-agent with `argv` (without node and script) and resolves with the exit code:
 * 0 after a clean stop (SIGTERM), 1 after a fatal error, 2 for bad usage, configuration or root.
 */
export async function main(argv: readonly string[], deps: AgentCliDeps = {}): Promise<number> {
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
  const env = deps.env ?? process.env;
  if (argv.includes('--help') || argv.includes('-h')) {
    out.write(HELP);
    return 0;
  }
  if (argv.includes('--version')) {
    out.write(`ha-agent ${pkg.version}\n`);
    return 0;
  }
  const validateOnly = argv.includes('--validate-config');
  const unknown = argv.filter((a) => a.startsWith('-') && a !== '--validate-config');
  const positional = argv.filter((a) => !a.startsWith('-'));
  if (unknown.length > 0 || positional.length !== 1) {
    err.write(`ha-agent: ${unknown.length > 0 ? `unknown option ${unknown[0]}` : 'expected exactly one CONFIG_FILE'}\nUsage: ha-agent [--validate-config] CONFIG_FILE\n`);
    return 2;
  }
  const path = positional[0]!;
  if (validateOnly) return (await readConfig(path, env, err)) ? 0 : 2;

  const uid = deps.uid ?? (typeof process.geteuid === 'function' ? process.geteuid() : -1);
  if (uid === 0) {
    err.write('ha-agent: refusing to run as root. Run it as the PostgreSQL OS user, e.g. `sudo -u postgres ha-agent CONFIG_FILE`.\n');
    return 2;
  }
  const config = await readConfig(path, env, err);
  if (!config) return 2;

  const logger: Logger = createStreamLogger(err, { level: logLevel(config) });
  const agent = new HaAgent(config, { logger });
  const signals = deps.signals ?? process;
  const onStop = (): void => {
    logger.info('received a stop signal: stopping PostgreSQL and releasing the leader key');
    void agent.stop();
  };
  const onHup = (): void => {
    void readConfig(path, env, err).then((fresh) => {
      if (!fresh) {
        logger.error('configuration reload refused; keeping the running configuration');
        return;
      }
      if (fresh.name !== config.name || fresh.scope !== config.scope) {
        logger.error('configuration reload refused: name and scope cannot change while running');
        return;
      }
      agent.reload(fresh);
      logger.info('configuration reloaded');
    });
  };
  signals.on('SIGTERM', onStop);
  signals.on('SIGINT', onStop);
  signals.on('SIGHUP', onHup);
  try {
    await agent.start();
    await agent.done;
    return 0;
  } catch (e) {
    err.write(`ha-agent: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof PgToolsError && (e.code === 'invalid_listen_address' || e.code === 'listen_failed')) return 2;
    await agent.stop().catch(() => undefined);
    return 1;
  } finally {
    signals.off('SIGTERM', onStop);
    signals.off('SIGINT', onStop);
    signals.off('SIGHUP', onHup);
  }
}

import { PgToolsError, createStreamLogger, type Logger } from '@pgtools/core';
import { DCS_ERROR, EtcdDcs } from '@pgtools/dcs';
import { HaAgent, PostgresControl, loadConfig, type HaConfig } from '@pgtools/ha-agent';
import pkg from '../package.json' with { type: 'json' };
import { agentLogSettings, type AgentLogSettings } from './agent-log-settings.js';
import { createAgentLogger } from './agent-logger.js';

const HELP = `ha-agent keeps a PostgreSQL primary/replica cluster available (Patroni-compatible).

Usage:
  ha-agent [OPTIONS] CONFIG_FILE

  CONFIG_FILE is Patroni's YAML (scope, name, restapi, etcd3, bootstrap, postgresql, watchdog, tags, log);
  PATRONI_* environment variables override it. Run as the PostgreSQL OS user, never root.

Options:
  --validate-config       check the configuration file and exit
  --log-format plain|json log lines as text or one JSON object per line (overrides log.type)
  --version               print the version and exit
  --help                  show this help and exit

Logs: Patroni's log section (level, type: plain|json, format, dateformat, static_fields, dir, file_size,
file_num); with log.dir, lines go to DIR/patroni.log (rotated) instead of stderr.
Signals: SIGTERM stops PostgreSQL cleanly and releases the leader key; SIGHUP reloads the configuration.
Exit codes: 0 done, 1 failed, 2 bad usage, configuration or environment (binaries missing, port in use).
`;

const USAGE = 'Usage: ha-agent [--validate-config] [--log-format plain|json] CONFIG_FILE';

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

type Sink = { write(chunk: string): unknown };

/** Says a fatal problem where the user looks: JSON logs get a JSON line, a terminal gets text and the hint. */
interface Reporter {
  fail(message: string, extra?: { code?: string | undefined; hint?: string | undefined }): void;
}

function reporter(err: Sink, json: boolean, logger?: Logger, toFile = false): Reporter {
  const jsonLogger = logger ?? createStreamLogger(err, { json: true });
  return {
    fail(message, extra = {}) {
      const fields = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined));
      if (json || toFile) jsonLogger.error(message, fields);
      // With log.dir, the file has the line but whoever started the agent is looking at stderr.
      if (!json || toFile) err.write(`ha-agent: ${message}${extra.hint && !message.includes(extra.hint) ? `\nHINT: ${extra.hint}` : ''}\n`);
    },
  };
}

async function readConfig(path: string, env: NodeJS.ProcessEnv, report: Reporter): Promise<{ config: HaConfig; warnings: string[] } | undefined> {
  try {
    return await loadConfig(path, env);
  } catch (e) {
    if (e instanceof PgToolsError) {
      report.fail(e.message, { code: e.code, hint: e.hint });
      return undefined;
    }
    throw e;
  }
}

function logSettings(config: HaConfig, env: NodeJS.ProcessEnv, flag: string | undefined, report: Reporter): AgentLogSettings | undefined {
  try {
    return agentLogSettings(config.log, env, flag);
  } catch (e) {
    if (e instanceof PgToolsError) {
      report.fail(e.message, { code: e.code, hint: e.hint });
      return undefined;
    }
    throw e;
  }
}

/** Parsed command line; `error` is a usage error. */
interface CliArgs {
  help: boolean;
  version: boolean;
  validateOnly: boolean;
  logFormat?: string;
  positional: string[];
  error?: string;
}

function parseArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = { help: false, version: false, validateOnly: false, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--version') out.version = true;
    else if (a === '--validate-config') out.validateOnly = true;
    else if (a === '--log-format' || a.startsWith('--log-format=')) {
      const value = a === '--log-format' ? argv[++i] : a.slice('--log-format='.length);
      if (value !== 'plain' && value !== 'json')
        out.error ??= `--log-format expects plain or json, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`;
      else out.logFormat = value;
    } else if (a.startsWith('-') && a !== '-') out.error ??= `unknown option ${a}`;
    else out.positional.push(a);
  }
  if (!out.error && !out.help && !out.version && out.positional.length !== 1) out.error = 'expected exactly one CONFIG_FILE';
  return out;
}

/** The REST API's listen error in words a newcomer can act on (health-api reports `listen_failed` with the OS cause). */
function restApiListenMessage(e: PgToolsError, config: HaConfig): { message: string; hint?: string } {
  const cause = (e.cause as NodeJS.ErrnoException | undefined)?.code;
  const listen = config.restapi.listen;
  if (cause === 'EADDRINUSE') {
    return {
      message: `REST API port is already in use: restapi.listen is ${listen} and another process listens there (another ha-agent or Patroni on this host?); stop it, or choose another port in restapi.listen and restapi.connect_address`,
      hint: `see who listens there: ss -ltnp 'sport = :${listen.split(':').pop() ?? ''}'`,
    };
  }
  if (cause === 'EACCES') return { message: `REST API cannot listen on ${listen} (restapi.listen): ports below 1024 need root; use a port such as 8008` };
  if (cause === 'EADDRNOTAVAIL' || cause === 'ENOTFOUND')
    return {
      message: `REST API cannot listen on ${listen}: the host of restapi.listen is not an address of this machine; use one of its addresses, or 0.0.0.0`,
    };
  return { message: e.message };
}

/** etcd not answering at start is said once, in words, naming the hosts tried; the agent keeps retrying. */
function startEtcdProbe(config: HaConfig, logger: Logger): { stop(): Promise<void> } {
  const e = config.etcd3;
  const hosts = e.hosts.map((h) => (h.includes('://') ? h : `${e.protocol}://${h}`));
  const timeoutMs = Math.min(config.bootstrap.dcs.retryTimeout, 10) * 1000;
  let stopped = false;
  const dcs = new EtcdDcs({
    hosts,
    namespace: config.namespace,
    scope: config.scope,
    name: config.name,
    ttl: config.bootstrap.dcs.ttl,
    callTimeoutMs: timeoutMs,
    ...(e.username && e.password !== undefined ? { auth: { username: e.username, password: e.password } } : {}),
  });
  const done = dcs.loadCluster().then(
    () => undefined,
    (err: unknown) => {
      if (!stopped) explainEtcdFailure(err, hosts, timeoutMs, logger);
    },
  );
  return {
    async stop() {
      stopped = true;
      await dcs.close().catch(() => undefined);
      await done;
    },
  };
}

function unreachableReason(message: string, timeoutMs: number): string {
  if (/ECONNREFUSED/.test(message)) return 'connection refused (nothing listens on that port)';
  if (/ENOTFOUND|EAI_AGAIN/.test(message)) return 'host name not found';
  if (/EHOSTUNREACH|ENETUNREACH/.test(message)) return 'no route to the host';
  return `no answer within ${timeoutMs / 1000} s`;
}

function explainEtcdFailure(err: unknown, hosts: string[], timeoutMs: number, logger: Logger): void {
  const pe = err instanceof PgToolsError ? err : undefined;
  const extra = { code: pe?.code, hosts, ...(pe?.hint ? { hint: pe.hint } : {}) };
  if (pe?.code === DCS_ERROR.unavailable) {
    logger.error(
      `etcd is unreachable: tried ${hosts.join(', ')} (etcd3.hosts): ${unreachableReason(pe.message, timeoutMs)}. ` +
        `Check that etcd runs and listens there (etcdctl --endpoints=${hosts.join(',')} endpoint health) and that this host can reach it. ` +
        'ha-agent keeps retrying every loop_wait; without etcd no node takes the leader key.',
      extra,
    );
  } else {
    logger.error(`etcd at ${hosts.join(', ')} (etcd3.hosts) answered but the request failed: ${pe?.message ?? String(err)}`, extra);
  }
}

/**
 * Runs ha-agent with `argv` (without node and script) and resolves with the exit code:
 * 0 after a clean stop (SIGTERM), 1 after a fatal error, 2 for bad usage, configuration, root, or an
 * environment it cannot start in (PostgreSQL binaries missing, PostgreSQL or REST API port in use).
 */
export async function main(argv: readonly string[], deps: AgentCliDeps = {}): Promise<number> {
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
  const env = deps.env ?? process.env;
  const args = parseArgs(argv);
  if (args.help) {
    out.write(HELP);
    return 0;
  }
  if (args.version) {
    out.write(`ha-agent ${pkg.version}\n`);
    return 0;
  }
  // Before the configuration is read, only the flag (or PATRONI_LOG_TYPE) can ask for JSON.
  const earlyJson = (args.logFormat ?? env.PATRONI_LOG_TYPE)?.toLowerCase() === 'json';
  const early = reporter(err, earlyJson);
  if (args.error) {
    early.fail(args.error, { code: 'usage', ...(earlyJson ? { hint: USAGE } : {}) });
    if (!earlyJson) err.write(`${USAGE}\n`);
    return 2;
  }
  const path = args.positional[0]!;
  if (args.validateOnly) {
    const loaded = await readConfig(path, env, early);
    if (!loaded) return 2;
    const settings = logSettings(loaded.config, env, args.logFormat, early);
    if (!settings) return 2;
    const logger = createStreamLogger(err, { json: settings.type === 'json' });
    for (const w of loaded.warnings) logger.warn(w);
    return 0;
  }

  const uid = deps.uid ?? (typeof process.geteuid === 'function' ? process.geteuid() : -1);
  if (uid === 0) {
    early.fail('refusing to run as root. Run it as the PostgreSQL OS user, e.g. `sudo -u postgres ha-agent CONFIG_FILE`.', { code: 'running_as_root' });
    return 2;
  }
  const loaded = await readConfig(path, env, early);
  if (!loaded) return 2;
  const config = loaded.config;
  const settings = logSettings(config, env, args.logFormat, early);
  if (!settings) return 2;
  let agentLog: ReturnType<typeof createAgentLogger>;
  try {
    agentLog = createAgentLogger(settings, err);
  } catch (e) {
    early.fail(`cannot open the log file in log.dir ${settings.dir ?? ''}: ${(e as Error).message}`, {
      code: 'log_dir_unusable',
      hint: 'create the directory and give it to the PostgreSQL OS user, or remove log.dir to log to stderr',
    });
    return 2;
  }
  const { logger } = agentLog;
  const report = reporter(err, settings.type === 'json', logger, agentLog.file !== undefined);
  try {
    for (const w of [...loaded.warnings, ...agentLog.warnings]) logger.warn(w);
    if (agentLog.file) err.write(`ha-agent: logging to ${agentLog.file}\n`);

    // First contact: say what is wrong with this machine before anything starts, in words that say what to do.
    const control = new PostgresControl({ config });
    try {
      const missing = control.checkBinaries();
      if (missing.length > 0)
        logger.warn(
          `${missing.join(' and ')} not found in ${control.binDir} (postgresql.bin_dir): this node cannot become a replica or rejoin after a failover until ${missing.length === 1 ? 'it is' : 'they are'} installed`,
        );
      await control.checkListen();
    } catch (e) {
      if (e instanceof PgToolsError) {
        report.fail(e.message, { code: e.code, hint: e.hint });
        return 2;
      }
      throw e;
    }
    return await runAgent(config, path, env, deps, logger, report);
  } finally {
    agentLog.close();
  }
}

async function runAgent(config: HaConfig, path: string, env: NodeJS.ProcessEnv, deps: AgentCliDeps, logger: Logger, report: Reporter): Promise<number> {
  const agent = new HaAgent(config, { logger });
  const signals = deps.signals ?? process;
  let probe: { stop(): Promise<void> } | undefined;
  const onStop = (): void => {
    void probe?.stop();
    logger.info('received a stop signal: stopping PostgreSQL and releasing the leader key');
    void agent.stop();
  };
  const onHup = (): void => {
    void readConfig(path, env, report).then((fresh) => {
      if (!fresh) {
        logger.error('configuration reload refused; keeping the running configuration');
        return;
      }
      for (const w of fresh.warnings) logger.warn(w);
      if (fresh.config.name !== config.name || fresh.config.scope !== config.scope) {
        logger.error('configuration reload refused: name and scope cannot change while running');
        return;
      }
      agent.reload(fresh.config);
      logger.info('configuration reloaded');
    });
  };
  signals.on('SIGTERM', onStop);
  signals.on('SIGINT', onStop);
  signals.on('SIGHUP', onHup);
  try {
    try {
      await agent.start();
    } catch (e) {
      if (e instanceof PgToolsError && (e.code === 'invalid_listen_address' || e.code === 'listen_failed')) {
        const { message, hint } = e.code === 'listen_failed' ? restApiListenMessage(e, config) : { message: e.message, hint: e.hint };
        report.fail(message, { code: e.code, hint });
        // Nothing ran yet: close the etcd client without writing a member key.
        await agent.abandon().catch(() => undefined);
        return 2;
      }
      throw e;
    }
    probe = startEtcdProbe(config, logger);
    await agent.done;
    return 0;
  } catch (e) {
    report.fail(e instanceof Error ? e.message : String(e), {
      code: e instanceof PgToolsError ? e.code : undefined,
      hint: e instanceof PgToolsError ? e.hint : undefined,
    });
    await agent.stop().catch(() => undefined);
    return 1;
  } finally {
    await probe?.stop();
    signals.off('SIGTERM', onStop);
    signals.off('SIGINT', onStop);
    signals.off('SIGHUP', onHup);
  }
}

import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgToolsError } from '@pgtools/core';
import { EtcdDcs } from '@pgtools/dcs';
import pkg from '../package.json' with { type: 'json' };
import { parseCommandLine, usageError, VERBS, type ParsedCommand } from './hactl-args.js';
import { historyCommand, listCommand, showConfigCommand, versionCommand } from './hactl-cmd-list.js';
import { editConfigCommand, pauseCommand, runEditor } from './hactl-cmd-config.js';
import { reinitCommand, reloadCommand, restartCommand } from './hactl-cmd-members.js';
import { dsnCommand } from './hactl-cmd-dsn.js';
import { demoteClusterCommand, promoteClusterCommand } from './hactl-cmd-cluster-role.js';
import { flushCommand } from './hactl-cmd-flush.js';
import { queryCommand } from './hactl-cmd-query.js';
import { removeCommand } from './hactl-cmd-remove.js';
import { switchoverCommand } from './hactl-cmd-switchover.js';
import { loadCtlConfig, type CtlConfig } from './hactl-config.js';
import { ROLE_CHOICES, type CtlContext, type CtlDcs } from './hactl-context.js';
import { OUTPUT_FORMATS, type OutputFormat } from './hactl-output.js';
import { QUERY_FORMATS } from './hactl-query-output.js';
import { linePrompter, refusingPrompter } from './hactl-prompt.js';
import { RestClient } from './hactl-rest.js';

const HELP = `hactl controls a pgtools/Patroni cluster (patronictl's verbs and flags).

Usage:
  hactl [-c CONFIG_FILE] [-d DCS_URL] [-k] COMMAND [ARGS]...

Commands:
${Object.entries(VERBS)
  .map(([verb, spec]) => `  ${verb.padEnd(12)}  ${spec.help}`)
  .join('\n')}

Options:
  -c, --config-file FILE   Patroni YAML (default ~/.config/patroni/patronictl.yaml, or PATRONICTL_CONFIG_FILE)
  -d, --dcs-url URL        etcd address, e.g. etcd3://127.0.0.1:2379 (or DCS_URL)
  -k, --insecure           do not verify the REST API's TLS certificates
  --help                   show this help (also after a command) and exit

Without --force, switchover, failover, restart, reinit, flush, demote-cluster and promote-cluster
ask before acting, and refuse when stdin is not a terminal. remove always asks (type the cluster
name, "Yes I am aware" and a running leader's name); it reads the answers from stdin when that is
not a terminal.
Exit codes: 0 done, 1 failed, 2 bad usage or configuration.
`;

/**
 * Where hactl reads and writes, and how it reaches etcd (tests replace parts of it).
 *
 * @example
 * ```ts
 * import type { HactlIo } from './hactl.js';
 * const io: Partial<HactlIo> = { env: { ...process.env, PATRONICTL_CONFIG_FILE: '/tmp/cfg.yml' } };
 * ```
 */
export interface HactlIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: Record<string, string | undefined>;
  /** Seconds between polls and watch refreshes are slept through this. */
  sleep(seconds: number): Promise<void>;
  openDcs?(config: CtlConfig, scope: string): CtlDcs;
}

function openEtcd(config: CtlConfig, scope: string): CtlDcs {
  const etcd = config.etcd;
  if (!etcd)
    throw new PgToolsError('invalid_config', 'no etcd configured: add an etcd3: section with hosts to the configuration, or pass -d etcd3://host:port');
  const hosts = etcd.hosts.map((h) => (/^https?:\/\//.test(h) ? h : `${etcd.protocol}://${h}`));
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  try {
    if (etcd.cacert) tls.ca = readFileSync(etcd.cacert);
    if (etcd.cert) tls.cert = readFileSync(etcd.cert);
    if (etcd.key) tls.key = readFileSync(etcd.key);
  } catch (err) {
    throw new PgToolsError('invalid_config', `etcd3: cannot read a certificate file: ${(err as Error).message}`, { cause: err });
  }
  try {
    return new EtcdDcs({
      hosts,
      namespace: config.namespace,
      scope,
      name: scope,
      ttl: 30,
      callTimeoutMs: 5000,
      ...(etcd.username ? { auth: { username: etcd.username, password: etcd.password ?? '' } } : {}),
      ...(tls.ca || tls.cert ? { tls } : {}),
    });
  } catch (err) {
    throw new PgToolsError('invalid_config', (err as Error).message, { cause: err });
  }
}

function str(v: ParsedCommand['values'][string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function list(v: ParsedCommand['values'][string]): string[] {
  return Array.isArray(v) ? v : [];
}

function outputFormat(v: ParsedCommand['values'][string], verb: string): OutputFormat | 'yml' {
  const f = str(v) ?? 'pretty';
  if (!OUTPUT_FORMATS.includes(f)) throw usageError(`Invalid value for '-f' / '--format': '${f}' is not one of 'pretty', 'tsv', 'json', 'yaml'.`, verb);
  return f as OutputFormat | 'yml';
}

function positiveNumber(v: string | undefined, flag: string, verb: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw usageError(`Invalid value for '${flag}': '${v}' is not a valid number.`, verb);
  return n;
}

async function dispatch(cmd: ParsedCommand, ctx: CtlContext, io: HactlIo): Promise<number> {
  const verb = cmd.verb as string;
  const v = cmd.values;
  const scope = ctx.config.scope;
  const clusterArg = (): string => {
    const name = cmd.positionals[0] ?? scope;
    if (!name) throw usageError('no cluster name: pass CLUSTER_NAME or set scope in the configuration file', verb);
    return name;
  };
  const requiredCluster = (): string => {
    const name = cmd.positionals[0];
    if (!name) throw usageError("Missing argument 'CLUSTER_NAME'.", verb);
    return name;
  };
  const spec = VERBS[verb];
  if (spec && (spec.positionals === 'cluster' || spec.positionals === 'none') && cmd.positionals.length > (spec.positionals === 'cluster' ? 1 : 0)) {
    throw usageError(`Got unexpected extra argument (${cmd.positionals.slice(spec.positionals === 'cluster' ? 1 : 0).join(' ')})`, verb);
  }
  const role = (fallback: string): string => {
    const r = str(v.role) ?? fallback;
    if (!ROLE_CHOICES.includes(r))
      throw usageError(`Invalid value for '-r' / '--role': '${r}' is not one of ${ROLE_CHOICES.map((c) => `'${c}'`).join(', ')}.`, verb);
    return r;
  };

  switch (verb) {
    case 'list':
    case 'topology': {
      const clusters = cmd.positionals.length > 0 ? cmd.positionals : scope ? [scope] : [];
      if (clusters.length === 0) throw usageError('Listing members: No cluster names were provided', verb);
      const every = positiveNumber(str(v.watch), '-w', verb) ?? (v.W ? 2 : undefined);
      const count = positiveNumber(str(v.count), '--count', verb);
      return listCommand(ctx, {
        clusters,
        fmt: verb === 'topology' ? 'topology' : outputFormat(v.format, verb),
        extended: v.extended === true,
        timestamp: v.timestamp === true,
        ...(every !== undefined ? { watch: every } : {}),
        ...(count !== undefined ? { count: Math.floor(count) } : {}),
      });
    }
    case 'switchover':
    case 'failover': {
      const leaders = [str(v.leader), str(v.primary), str(v.master)].filter((x): x is string => x !== undefined);
      const leader = leaders[leaders.length - 1];
      return switchoverCommand(ctx, {
        action: verb === 'failover' && leader === undefined ? 'failover' : 'switchover',
        cluster: clusterArg(),
        force: v.force === true,
        ...(leader !== undefined ? { leader } : {}),
        ...(str(v.candidate) !== undefined ? { candidate: str(v.candidate) as string } : {}),
        ...(str(v.scheduled) !== undefined ? { scheduled: str(v.scheduled) as string } : {}),
      });
    }
    case 'restart':
      return restartCommand(ctx, {
        cluster: requiredCluster(),
        members: cmd.positionals.slice(1),
        role: role('any'),
        any: v.any === true,
        pending: v.pending === true,
        force: v.force === true,
        ...(str(v.scheduled) !== undefined ? { scheduled: str(v.scheduled) as string } : {}),
        ...(str(v['pg-version']) !== undefined ? { pgVersion: str(v['pg-version']) as string } : {}),
        ...(str(v.timeout) !== undefined ? { timeout: str(v.timeout) as string } : {}),
      });
    case 'reinit':
      return reinitCommand(ctx, {
        cluster: requiredCluster(),
        members: cmd.positionals.slice(1),
        force: v.force === true,
        wait: v.wait === true,
        fromLeader: v['from-leader'] === true,
      });
    case 'flush': {
      const target = cmd.positionals.length > 1 ? cmd.positionals[cmd.positionals.length - 1] : undefined;
      if (target === undefined) throw usageError("Missing argument '{restart|switchover}'.", verb);
      if (target !== 'restart' && target !== 'switchover')
        throw usageError(`Invalid value for '{restart|switchover}': '${target}' is not one of 'restart', 'switchover'.`, verb);
      return flushCommand(ctx, { cluster: requiredCluster(), members: cmd.positionals.slice(1, -1), target, role: role('any'), force: v.force === true });
    }
    case 'query': {
      const fmt = str(v.format) ?? 'tsv';
      if (!QUERY_FORMATS.includes(fmt)) throw usageError(`Invalid value for '--format': '${fmt}' is not one of 'pretty', 'tsv', 'json', 'yaml'.`, verb);
      const every = positiveNumber(str(v.watch), '-w', verb) ?? (v.W ? 2 : undefined);
      return queryCommand(
        ctx,
        {
          cluster: clusterArg(),
          role: v.role === undefined ? undefined : role('leader'),
          member: str(v.member),
          username: str(v.username),
          dbname: str(v.dbname),
          command: str(v.command),
          file: str(v.file),
          askPassword: v.password === true,
          fmt,
          delimiter: str(v.delimiter) ?? '\t',
          ...(every !== undefined ? { watch: every } : {}),
        },
        io.stdout,
      );
    }
    case 'remove':
      return removeCommand(ctx, { cluster: requiredCluster(), fmt: outputFormat(v.format, verb) });
    case 'reload':
      return reloadCommand(ctx, { cluster: requiredCluster(), members: cmd.positionals.slice(1), role: role('any'), force: v.force === true });
    case 'pause':
    case 'resume':
      return pauseCommand(ctx, { cluster: clusterArg(), paused: verb === 'pause', wait: v.wait === true });
    case 'show-config':
      return showConfigCommand(ctx, clusterArg());
    case 'edit-config': {
      const name = clusterArg();
      const interactive = io.stdin.isTTY === true && io.stdout.isTTY === true;
      return editConfigCommand(ctx, {
        cluster: name,
        set: list(v.set),
        pg: list(v.pg),
        quiet: v.quiet === true,
        force: v.force === true,
        ...(str(v.apply) !== undefined ? { apply: str(v.apply) as string } : {}),
        ...(str(v.replace) !== undefined ? { replace: str(v.replace) as string } : {}),
        readStdin: () => readFileSync(0, 'utf8'),
        ...(interactive ? { runEditor: (before: string) => runEditor(before, name, io.env) } : {}),
      });
    }
    case 'demote-cluster': {
      const port = str(v.port);
      if (port !== undefined && !/^\s*[-+]?\d+\s*$/.test(port)) throw usageError(`Invalid value for '--port': '${port}' is not a valid integer.`, verb);
      // click takes any integer; a port outside 1-65535 would only be refused later, by the agents' config check.
      if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535))
        throw usageError(`Invalid value for '--port': ${Number(port)} is not in the range 1<=x<=65535.`, verb);
      return demoteClusterCommand(ctx, {
        cluster: clusterArg(),
        force: v.force === true,
        host: str(v.host),
        port: port === undefined ? undefined : Number(port),
        restoreCommand: str(v['restore-command']),
        primarySlotName: str(v['primary-slot-name']),
      });
    }
    case 'promote-cluster':
      return promoteClusterCommand(ctx, { cluster: clusterArg(), force: v.force === true });
    case 'dsn':
      return dsnCommand(ctx, { cluster: clusterArg(), role: v.role === undefined ? undefined : role('leader'), member: str(v.member) });
    case 'history':
      return historyCommand(ctx, clusterArg(), outputFormat(v.format, verb));
    case 'version':
      return versionCommand(ctx, cmd.positionals[0], cmd.positionals.slice(1));
    default:
      throw usageError(`No such command '${verb}'.`);
  }
}

const UNATTENDED: Record<string, string> = {
  switchover: '--force with --candidate (and --leader)',
  failover: '--force with --candidate',
  restart: '--force',
  reinit: '--force',
  reload: '--force',
  flush: '--force',
  'edit-config': '--force',
  'demote-cluster': '--force',
  'promote-cluster': '--force',
};

/**
 * Runs hactl with explicit streams and environment; resolves with the exit code
 * (0 done, 1 failed, 2 bad usage or configuration).
 *
 * @example
 * ```ts
 * const code = await runHactl(['-c', 'cfg.yml', 'list', '-f', 'json'], { stdout: process.stdout });
 * ```
 */
export async function runHactl(argv: readonly string[], partialIo: Partial<HactlIo> = {}): Promise<number> {
  const io: HactlIo = {
    stdin: partialIo.stdin ?? process.stdin,
    stdout: partialIo.stdout ?? process.stdout,
    stderr: partialIo.stderr ?? process.stderr,
    env: partialIo.env ?? process.env,
    sleep: partialIo.sleep ?? ((s) => sleep(s * 1000)),
    ...(partialIo.openDcs ? { openDcs: partialIo.openDcs } : {}),
  };
  const out = (t: string): void => void io.stdout.write(t);
  const err = (t: string): void => void io.stderr.write(t);
  let cmd: ParsedCommand | undefined;
  let prompter: CtlContext['prompter'] | undefined;
  try {
    cmd = parseCommandLine(argv);
    if (cmd.global.help || cmd.verb === undefined) {
      const spec = cmd.verb ? VERBS[cmd.verb] : undefined;
      out(spec ? `Usage: ${spec.usage}\n\n  ${spec.help}\n` : HELP);
      return cmd.verb === undefined && !cmd.global.help ? 2 : 0;
    }
    if (cmd.verb === 'version' && cmd.positionals.length === 0) {
      out(`hactl version ${pkg.version}\n`);
      return 0;
    }
    const config = await loadCtlConfig({
      ...(cmd.global.configFile !== undefined ? { configFile: cmd.global.configFile } : {}),
      ...(cmd.global.dcsUrl !== undefined ? { dcsUrl: cmd.global.dcsUrl } : {}),
      insecure: cmd.global.insecure,
      env: io.env,
    });
    let rest: RestClient;
    try {
      rest = new RestClient(config.rest, `hactl/${pkg.version}`);
    } catch (e) {
      throw new PgToolsError('invalid_config', `restapi/ctl: cannot read a certificate file: ${(e as Error).message}`, { cause: e });
    }
    prompter = io.stdin.isTTY
      ? linePrompter(io.stdin, io.stdout, true)
      : // remove has no --force (as in patronictl): its exact answers may be piped in.
        cmd.verb === 'remove'
        ? linePrompter(io.stdin, io.stdout, false)
        : refusingPrompter(cmd.verb, UNATTENDED[cmd.verb] ?? '--force');
    const ctx: CtlContext = {
      config,
      out,
      err,
      prompter,
      rest,
      openDcs: (scope) => (io.openDcs ?? openEtcd)(config, scope),
      now: () => new Date(),
      version: pkg.version,
      sleep: io.sleep,
      clear: () => {
        if (io.stdout.isTTY) out('\x1b[2J\x1b[1;1H');
      },
    };
    return await dispatch(cmd, ctx, io);
  } catch (e) {
    if (e instanceof PgToolsError) {
      if (e.code === 'usage') {
        const verb = (e as PgToolsError & { verb?: string }).verb ?? cmd?.verb;
        const spec = verb ? VERBS[verb] : undefined;
        err(
          `Usage: ${spec ? spec.usage : 'hactl [OPTIONS] COMMAND [ARGS]...'}\nTry 'hactl${spec ? ` ${verb}` : ''} --help' for help.\n\nError: ${e.message}\n`,
        );
        return 2;
      }
      err(`Error: ${e.message}\n`);
      return e.code === 'invalid_config' || e.code === 'invalid_argument' ? 2 : 1;
    }
    err(`Error: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  } finally {
    prompter?.close();
  }
}

/** Runs hactl with `argv` (without node and script) and resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  return runHactl(argv);
}

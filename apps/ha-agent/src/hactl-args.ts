import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PgToolsError } from '@pgtools/core';

type Options = NonNullable<ParseArgsConfig['options']>;

const force = { force: { type: 'boolean' } } as const satisfies Options;
const watch = { W: { type: 'boolean', short: 'W' }, watch: { type: 'string', short: 'w' }, count: { type: 'string' } } as const satisfies Options;
const leaderNames = {
  leader: { type: 'string' },
  primary: { type: 'string' },
  master: { type: 'string' },
  candidate: { type: 'string' },
} as const satisfies Options;

/**
 * Options and usage line of every verb, as patronictl 3.0.2 spells them (4.1 for `reinit --from-leader`; `--count` on list/topology is ours).
 *
 * @example
 * ```ts
 * VERBS.switchover?.usage; // 'hactl switchover [OPTIONS] [CLUSTER_NAME]'
 * ```
 */
export const VERBS: Record<
  string,
  { usage: string; help: string; options: Options; positionals: 'none' | 'cluster' | 'clusters' | 'cluster+members' | 'optional-cluster+members' }
> = {
  list: {
    usage: 'hactl list [OPTIONS] [CLUSTER_NAMES]...',
    help: 'List the members of a cluster: Member | Host | Role | State | TL | Lag in MB',
    options: { extended: { type: 'boolean', short: 'e' }, timestamp: { type: 'boolean', short: 't' }, format: { type: 'string', short: 'f' }, ...watch },
    positionals: 'clusters',
  },
  topology: {
    usage: 'hactl topology [OPTIONS] [CLUSTER_NAMES]...',
    help: 'Print the members as a replication tree',
    options: { ...watch },
    positionals: 'clusters',
  },
  switchover: {
    usage: 'hactl switchover [OPTIONS] [CLUSTER_NAME]',
    help: 'Switchover to a replica (--leader/--primary/--master NAME --candidate NAME --scheduled TIME --force)',
    options: { ...leaderNames, scheduled: { type: 'string' }, ...force },
    positionals: 'cluster',
  },
  failover: {
    usage: 'hactl failover [OPTIONS] [CLUSTER_NAME]',
    help: 'Failover to a replica (--candidate NAME --force)',
    options: { ...leaderNames, ...force },
    positionals: 'cluster',
  },
  restart: {
    usage: 'hactl restart [OPTIONS] CLUSTER_NAME [MEMBER_NAMES]...',
    help: 'Restart PostgreSQL on members (-r ROLE, --any, --scheduled TIME, --pg-version V, --pending, --timeout S, --force)',
    options: {
      role: { type: 'string', short: 'r' },
      any: { type: 'boolean' },
      scheduled: { type: 'string' },
      'pg-version': { type: 'string' },
      pending: { type: 'boolean' },
      timeout: { type: 'string' },
      ...force,
    },
    positionals: 'cluster+members',
  },
  reinit: {
    usage: 'hactl reinit [OPTIONS] CLUSTER_NAME [MEMBER_NAMES]...',
    help: 'Re-create a replica (--from-leader: pg_basebackup from the leader, not a clonefrom member or another method; --force, --wait)',
    options: { ...force, 'from-leader': { type: 'boolean' }, wait: { type: 'boolean' } },
    positionals: 'cluster+members',
  },
  flush: {
    usage: 'hactl flush [OPTIONS] CLUSTER_NAME [MEMBER_NAMES]... {restart|switchover}',
    help: 'Discard a scheduled restart (-r ROLE, --force) or a scheduled switchover',
    options: { role: { type: 'string', short: 'r' }, ...force },
    positionals: 'cluster+members',
  },
  remove: {
    usage: 'hactl remove [OPTIONS] CLUSTER_NAME',
    help: 'Remove the cluster\'s keys from etcd (asks for the cluster name, "Yes I am aware" and a running leader\'s name; -f FORMAT)',
    options: { format: { type: 'string', short: 'f' } },
    positionals: 'cluster',
  },
  query: {
    usage: 'hactl query [OPTIONS] [CLUSTER_NAME]',
    help: 'Run SQL on a member and stream the rows (-c SQL | -f FILE, -r ROLE | -m MEMBER, -U USER, --password, -d DBNAME, --format, --delimiter, -W, -w S)',
    options: {
      command: { type: 'string', short: 'c' },
      file: { type: 'string', short: 'f' },
      role: { type: 'string', short: 'r' },
      member: { type: 'string', short: 'm' },
      username: { type: 'string', short: 'U' },
      password: { type: 'boolean' },
      dbname: { type: 'string', short: 'd' },
      format: { type: 'string' },
      delimiter: { type: 'string' },
      W: { type: 'boolean', short: 'W' },
      watch: { type: 'string', short: 'w' },
    },
    positionals: 'cluster',
  },
  reload: {
    usage: 'hactl reload [OPTIONS] CLUSTER_NAME [MEMBER_NAMES]...',
    help: 'Reload the configuration of members (-r ROLE, --force)',
    options: { role: { type: 'string', short: 'r' }, ...force },
    positionals: 'cluster+members',
  },
  pause: {
    usage: 'hactl pause [OPTIONS] [CLUSTER_NAME]',
    help: 'Stop managing PostgreSQL (maintenance mode; --wait)',
    options: { wait: { type: 'boolean' } },
    positionals: 'cluster',
  },
  resume: {
    usage: 'hactl resume [OPTIONS] [CLUSTER_NAME]',
    help: 'Resume managing PostgreSQL (--wait)',
    options: { wait: { type: 'boolean' } },
    positionals: 'cluster',
  },
  'show-config': { usage: 'hactl show-config [OPTIONS] [CLUSTER_NAME]', help: 'Show the dynamic configuration', options: {}, positionals: 'cluster' },
  'edit-config': {
    usage: 'hactl edit-config [OPTIONS] [CLUSTER_NAME]',
    help: 'Edit the dynamic configuration (-s key=value, -p pgparam=value, --apply FILE, --replace FILE, -q, --force)',
    options: {
      set: { type: 'string', short: 's', multiple: true },
      pg: { type: 'string', short: 'p', multiple: true },
      apply: { type: 'string' },
      replace: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      ...force,
    },
    positionals: 'cluster',
  },
  'demote-cluster': {
    usage: 'hactl demote-cluster [OPTIONS] [CLUSTER_NAME]',
    help: 'Demote cluster to a standby cluster (--host, --port, --restore-command, --primary-slot-name, --force)',
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'restore-command': { type: 'string' },
      'primary-slot-name': { type: 'string' },
      ...force,
    },
    positionals: 'cluster',
  },
  'promote-cluster': {
    usage: 'hactl promote-cluster [OPTIONS] [CLUSTER_NAME]',
    help: 'Promote cluster, make it run standalone (--force)',
    options: { ...force },
    positionals: 'cluster',
  },
  dsn: {
    usage: 'hactl dsn [OPTIONS] [CLUSTER_NAME]',
    help: 'Print host=... port=... of a member, the leader by default (-r ROLE or -m MEMBER)',
    options: { role: { type: 'string', short: 'r' }, member: { type: 'string', short: 'm' } },
    positionals: 'cluster',
  },
  history: {
    usage: 'hactl history [OPTIONS] [CLUSTER_NAME]',
    help: 'Show the history of failovers/switchovers: TL, LSN, Reason, Timestamp, New Leader',
    options: { format: { type: 'string', short: 'f' } },
    positionals: 'cluster',
  },
  version: {
    usage: 'hactl version [CLUSTER_NAME] [MEMBER_NAMES]...',
    help: 'Print the version of hactl and of the running members',
    options: {},
    positionals: 'optional-cluster+members',
  },
};

/**
 * Global options and the verb with its own arguments.
 *
 * @example
 * ```ts
 * import type { ParsedCommand } from './hactl-args.js';
 * const p: ParsedCommand = { global: { configFile: 'cfg.yml', insecure: false, help: false }, verb: 'list', values: {}, positionals: [] };
 * ```
 */
export interface ParsedCommand {
  global: { configFile?: string; dcsUrl?: string; insecure: boolean; help: boolean };
  verb?: string;
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * A usage error: printed with the verb's usage line, exit code 2.
 *
 * @example
 * ```ts
 * throw usageError('No such command: frobnicate');
 * ```
 */
export function usageError(message: string, verb?: string): PgToolsError {
  const err = new PgToolsError('usage', message);
  if (verb) (err as PgToolsError & { verb?: string }).verb = verb;
  return err;
}

/**
 * Parses `hactl [-c FILE] [-d URL] [-k] VERB [ARGS]...` (global options before the verb, as
 * patronictl requires). Throws `usage` errors for unknown verbs and options.
 *
 * @example
 * ```ts
 * parseCommandLine(['-c', 'cfg.yml', 'switchover', '--master', 'pg1', '--candidate', 'pg2', '--force']);
 * ```
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommand {
  const global: ParsedCommand['global'] = { insecure: false, help: false };
  let i = 0;
  const value = (name: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw usageError(`Option '${name}' requires an argument.`);
    i += 1;
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-') || a === '-') break;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    if (flag === '-c' || flag === '--config-file') global.configFile = inline ?? value(flag);
    else if (flag === '-d' || flag === '--dcs-url' || flag === '--dcs') global.dcsUrl = inline ?? value(flag);
    else if (flag === '-k' || flag === '--insecure') global.insecure = true;
    else if (flag === '--help' || flag === '-h') global.help = true;
    else if (flag === '--version') return { global, verb: 'version', values: {}, positionals: [] };
    else if (/^-[cd]./.test(flag)) {
      if (flag[1] === 'c') global.configFile = flag.slice(2);
      else global.dcsUrl = flag.slice(2);
    } else throw usageError(`No such option: ${flag}`);
  }
  const verb = argv[i];
  if (verb === undefined) return { global, values: {}, positionals: [] };
  const spec = VERBS[verb];
  if (!spec) throw usageError(`No such command '${verb}'.`);
  const rest = argv.slice(i + 1);
  if (rest.includes('--help')) return { global: { ...global, help: true }, verb, values: {}, positionals: [] };
  let parsed;
  try {
    parsed = parseArgs({ args: [...rest], options: spec.options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message.replace(/^Unknown option '([^']+)'.*$/s, 'No such option: $1');
    throw usageError(msg, verb);
  }
  return { global, verb, values: parsed.values as ParsedCommand['values'], positionals: parsed.positionals };
}

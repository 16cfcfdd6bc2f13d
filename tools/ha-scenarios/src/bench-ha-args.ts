import type { AgentKind } from './agent-kind.js';
import { HA_BENCH_SCENARIOS, type HaBenchScenario } from './bench-ha-scenarios.js';
import type { HaBenchMode } from './bench-ha-sequences.js';

/** What the `bench:ha` command line asks for. */
export interface HaBenchArgs {
  help: boolean;
  runs: number;
  agents: AgentKind[];
  scenarios: HaBenchScenario[];
  /** Modes of the fault sequences (`--sequences async,sync` or `none`). */
  sequenceModes: HaBenchMode[];
  /** Write the markdown here too (default: print only). */
  out?: string;
  /** Keep the agents' logs here. */
  keepLogs?: string;
  /** Run the memory soak for this many minutes instead of the scenarios (issue 20). */
  soakMinutes?: number;
}

/** `pnpm bench:ha --help`. */
export const HA_BENCH_USAGE = `Usage: pnpm bench:ha [--runs N] [--only ha-agent|patroni] [--scenarios ${HA_BENCH_SCENARIOS.join(',')}] [--sequences async,sync|none] [--out FILE] [--keep-logs DIR]
       pnpm bench:ha --soak MINUTES [--out FILE]

The side-by-side of pgtools' HA agent and Patroni 3.0.2 (issue 6): one 3-node cluster per agent
(network namespaces, 3-member etcd, HAProxy inter 3s fall 3 rise 2, ttl 10 / loop_wait 2 /
retry_timeout 4), each scenario run in turn under a writer through HAProxy, then the fault sequences
(postmaster kill followed by power loss or agent kill; switchover, kill, power loss) asynchronous on the
same cluster and with synchronous_mode on a cluster of their own; prints markdown tables.
Needs root, iproute2, etcd, HAProxy, PostgreSQL 15 and (for Patroni) /usr/bin/patroni or PATRONI_BIN.

  --runs N          each scenario N times per agent (default 1; times become median and range)
  --only AGENT      ha-agent or patroni (default both)
  --scenarios LIST  comma-separated subset of ${HA_BENCH_SCENARIOS.join(', ')} (default all, in that order)
  --sequences MODES async, sync, both (default async,sync) or none
  --out FILE        also write the markdown to FILE
  --keep-logs DIR   keep every agent's log under DIR
  --soak MINUTES    instead: three ha-agent nodes at loop_wait 1 for MINUTES (after 2 min of
                    warm-up), a switchover every 5 min, agent RSS and heap sampled every 30 s;
                    prints the first and last 10 min (a third of a shorter run) side by side
`;

/**
 * Parses the `bench:ha` arguments (`--name value` or `--name=value`); throws an `Error` whose
 * message says what is wrong (the CLI prints it with the usage and exits 2).
 *
 * @example
 * ```ts
 * import { parseHaBenchArgs } from '@pgtools/ha-scenarios';
 * parseHaBenchArgs(['--only', 'patroni', '--scenarios', 'switchover']);
 * // { help: false, runs: 1, agents: ['patroni'], scenarios: ['switchover'] }
 * ```
 */
export function parseHaBenchArgs(argv: readonly string[]): HaBenchArgs {
  const args: HaBenchArgs = { help: false, runs: 1, agents: ['ha-agent', 'patroni'], scenarios: [...HA_BENCH_SCENARIOS], sequenceModes: ['async', 'sync'] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      args.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--runs': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > 20) throw new Error(`--runs must be an integer from 1 to 20, got ${v}`);
        args.runs = n;
        break;
      }
      case '--only': {
        const v = value();
        if (v !== 'ha-agent' && v !== 'patroni') throw new Error(`--only must be ha-agent or patroni, got ${v}`);
        args.agents = [v];
        break;
      }
      case '--scenarios': {
        const list = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const unknown = list.filter((s) => !(HA_BENCH_SCENARIOS as readonly string[]).includes(s));
        if (unknown.length || list.length === 0)
          throw new Error(`--scenarios: unknown ${unknown.join(', ') || '(empty list)'}; choose from ${HA_BENCH_SCENARIOS.join(', ')}`);
        // Run order stays the bench's own, whatever order the list names them in.
        args.scenarios = HA_BENCH_SCENARIOS.filter((s) => list.includes(s));
        break;
      }
      case '--sequences': {
        const v = value();
        const list = v === 'none' ? [] : v.split(',').map((s) => s.trim());
        if (list.some((m) => m !== 'async' && m !== 'sync') || (v !== 'none' && list.length === 0))
          throw new Error(`--sequences must be async, sync, async,sync or none, got ${v}`);
        args.sequenceModes = (['async', 'sync'] as const).filter((m) => list.includes(m));
        break;
      }
      case '--out':
        args.out = value();
        break;
      case '--keep-logs':
        args.keepLogs = value();
        break;
      case '--soak': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 3 || n > 600) throw new Error(`--soak must be a number of minutes from 3 to 600, got ${v}`);
        args.soakMinutes = n;
        break;
      }
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  return args;
}

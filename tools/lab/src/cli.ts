#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { chaos, SCENARIOS, type Scenario } from './chaos.js';
import { hactlInteractive } from './hactl.js';
import { down, reinit, up } from './lifecycle.js';
import { loadStart, loadStop } from './load.js';
import { sleep } from './proc.js';
import { labDir, readState } from './state.js';
import { statusReport, statusText } from './status.js';
import pkg from '../package.json' with { type: 'json' };

const HELP = `pgtools lab: a local HA cluster to play with (seed article layout), data in ./.lab/

Usage: lab <verb> [options]

  up [--etcd 1|3] [--seed-timings] [--tight-haproxy] [--netns]
        etcd (3 members by default), three ha-agents with PostgreSQL 15, HAProxy writer/reader ports;
        ttl 10 / loop_wait 2 / retry_timeout 4 (--seed-timings: 30/10/10). Idempotent.
        --netns (root): each node and its etcd member on a host of its own (network namespaces),
        so \`chaos partition\` can cut one off; HAProxy still listens on 127.0.0.1.
  status [--json]              the cluster table (hactl list), processes, load success per second
  watch [--count N] [--interval S]   status, refreshed in place (Ctrl-C to stop)
  load start [--max-seconds N] | load stop
                               a writer and a reader through HAProxy, logged in .lab/load/
  chaos <scenario> [args] [--no-restart] [--json] [--settle-timeout S]
        kill-primary | kill-postmaster | kill-agent | switchover [candidate] | cpu-burn [node] [seconds]
        | partition [node] (default the leader; needs up --netns) | heal
  hactl <args>                 hactl on the lab's cluster (e.g. lab hactl list)
  reinit <node>                re-create a replica from the leader (empties its data directory)
  down [--clean]               stop everything the lab started, by PID; --clean removes .lab/

Options: --help, --version. Exit codes: 0 done, 1 failed, 2 bad usage.
`;

// `lab status | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function requireState() {
  const state = readState(labDir());
  if (!state) throw Object.assign(new Error(`no lab in ${labDir()}: run \`lab up\` first`), { exitCode: 2 });
  return state;
}

async function main(argv: string[]): Promise<number> {
  // Everything after `hactl` is hactl's, flags included.
  if (argv[0] === 'hactl') return hactlInteractive(requireState(), argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
      etcd: { type: 'string' },
      'seed-timings': { type: 'boolean' },
      'tight-haproxy': { type: 'boolean' },
      json: { type: 'boolean' },
      count: { type: 'string' },
      interval: { type: 'string' },
      'max-seconds': { type: 'string' },
      'no-restart': { type: 'boolean' },
      'settle-timeout': { type: 'string' },
      clean: { type: 'boolean' },
      netns: { type: 'boolean' },
    },
  });
  const [verb, ...rest] = positionals;
  if (values.version) {
    out(`pgtools-lab ${pkg.version}`);
    return 0;
  }
  if (values.help || !verb) {
    out(HELP);
    return verb || values.help ? 0 : 2;
  }
  switch (verb) {
    case 'up': {
      const members = Number(values.etcd ?? 3);
      if (members !== 1 && members !== 3) throw Object.assign(new Error('--etcd takes 1 or 3'), { exitCode: 2 });
      await up({
        etcdMembers: members,
        timings: values['seed-timings'] ? { ttl: 30, loopWait: 10, retryTimeout: 10 } : { ttl: 10, loopWait: 2, retryTimeout: 4 },
        tightHaproxy: values['tight-haproxy'] ?? false,
        ...(values.netns !== undefined ? { netns: values.netns } : {}),
        out,
      });
      return 0;
    }
    case 'down':
      await down({ clean: values.clean ?? false, out });
      return 0;
    case 'status': {
      const state = requireState();
      if (values.json) out(JSON.stringify(await statusReport(state), null, 2));
      else out(await statusText(state));
      return 0;
    }
    case 'watch': {
      const count = values.count === undefined ? Infinity : Number(values.count);
      const intervalMs = Number(values.interval ?? 1) * 1000;
      let stop = false;
      process.once('SIGINT', () => {
        stop = true;
      });
      for (let i = 0; i < count && !stop; i++) {
        const text = await statusText(requireState());
        // Home + clear below: redraws in place without scrolling.
        process.stdout.write(process.stdout.isTTY ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
        if (i + 1 < count) await sleep(intervalMs);
      }
      return 0;
    }
    case 'load': {
      const state = requireState();
      if (rest[0] === 'start') await loadStart(state, { maxSeconds: Number(values['max-seconds'] ?? 3600), out });
      else if (rest[0] === 'stop') await loadStop(state, out);
      else throw Object.assign(new Error('usage: lab load start|stop'), { exitCode: 2 });
      return 0;
    }
    case 'reinit': {
      if (!rest[0]) throw Object.assign(new Error('usage: lab reinit <node>'), { exitCode: 2 });
      await reinit(requireState(), rest[0], out);
      return 0;
    }
    case 'chaos': {
      const scenario = rest[0] as Scenario | undefined;
      if (!scenario || !SCENARIOS.includes(scenario)) throw Object.assign(new Error(`usage: lab chaos ${SCENARIOS.join('|')}`), { exitCode: 2 });
      const result = await chaos(requireState(), scenario, {
        args: rest.slice(1),
        restart: !values['no-restart'],
        settleTimeoutMs: Number(values['settle-timeout'] ?? 120) * 1000,
        out: values.json ? () => undefined : out,
      });
      if (values.json) out(JSON.stringify(result));
      return result.leaderAfter ? 0 : 1;
    }
    default:
      throw Object.assign(new Error(`unknown verb "${verb}"\n${HELP}`), { exitCode: 2 });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error & { exitCode?: number; code?: string }) => {
    process.stderr.write(`lab: ${err.message}\n`);
    if (process.argv[2] === 'up' && readState(labDir()))
      process.stderr.write('What was started is recorded in .lab/state.json: `lab down` stops it (add --clean to remove .lab/).\n');
    process.exitCode = err.exitCode ?? (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 2 : 1);
  },
);

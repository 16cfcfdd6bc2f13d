#!/usr/bin/env node
// The `pnpm bench:ha` entry point (built as dist/bench-ha.js): arguments, progress on stderr,
// the table on stdout (and in --out), and the cluster destroyed on Ctrl-C or SIGTERM.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseHaBenchArgs, HA_BENCH_USAGE } from './bench-ha-args.js';
import { runHaBench } from './bench-ha.js';
import { formatSoakTable, runHaSoak } from './bench-ha-soak.js';
import { formatHaBenchTable } from './bench-ha-table.js';

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseHaBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`bench:ha: ${(err as Error).message}\n\n${HA_BENCH_USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HA_BENCH_USAGE);
    return 0;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stderr.write('bench:ha: needs root (network namespaces)\n');
    return 2;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) {
      // The kit's reapers stop whatever is left once this process is gone.
      process.stderr.write(`bench:ha: ${sig} again, exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(`bench:ha: ${sig}: destroying the cluster (again to exit at once)\n`);
    controller.abort();
    setTimeout(() => process.exit(130), 90_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const t0 = Date.now();
  const stamp = (): string => `${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s`;
  const command = ['pnpm bench:ha', ...argv].join(' ');
  const output = (markdown: string): void => {
    process.stdout.write(`\n${markdown}`);
    if (!args.out) return;
    const file = resolve(args.out);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, markdown);
    process.stderr.write(`[bench:ha] written to ${file}\n`);
  };
  try {
    if (args.soakMinutes !== undefined) {
      const report = await runHaSoak({
        minutes: args.soakMinutes,
        signal: controller.signal,
        onEvent: (m) => process.stderr.write(`[bench:ha ${stamp()}] soak: ${m}\n`),
      });
      output(formatSoakTable(report, command));
      return report.switchovers.every((s) => s.ok) ? 0 : 1;
    }
    const report = await runHaBench({
      agents: args.agents,
      scenarios: args.scenarios,
      sequenceModes: args.sequenceModes,
      runs: args.runs,
      ...(args.keepLogs ? { keepLogsIn: resolve(args.keepLogs) } : {}),
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type !== 'cluster-event') process.stderr.write(`[bench:ha ${stamp()}] ${e.agent}: ${e.message}\n`);
      },
    });
    output(formatHaBenchTable(report, { command }));
    const failed = report.measurements.filter((m) => !m.ok).length + report.sequences.filter((m) => !m.ok).length + Object.keys(report.clusterErrors).length;
    return failed ? 1 : 0;
  } catch (err) {
    if (controller.signal.aborted) {
      process.stderr.write('bench:ha: interrupted, cluster destroyed\n');
      return 130;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:ha: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

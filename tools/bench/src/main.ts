import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PgToolsError } from '@pgtools/core';
import { runBenchmark } from './bench.js';
import { runFloors } from './floors.js';
import { describeMachine } from './machine.js';
import { DATABASE_SCALE, manyTablesReport, runManyTables } from './many-tables.js';
import { parseBenchArgs, USAGE } from './options.js';

/**
 * The `pnpm bench:repack` command: runs the benchmark, prints the table, writes the report.
 * Returns the exit code: 0 all passes correct, 1 something failed or was skipped, 2 bad options.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['--rows', '100000', '--runs', '1', '--no-out']);
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof PgToolsError) {
      process.stderr.write(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = ['pnpm bench:repack', ...argv].join(' ');
  const write = (text: string): void => {
    if (!options.out) return;
    const path = resolve(options.out);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    process.stderr.write(`report written to ${path}\n`);
  };
  if (options.floors) {
    const floors = await runFloors(options, { command, log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`\n${floors.report}\n`);
    write(floors.report);
    return 0;
  }
  if (options.databaseScale) {
    const many = { ...DATABASE_SCALE, runs: options.runs, tableJobs: options.tableJobs, pgRepack: true, load: options };
    const before = describeMachine();
    const started = new Date().toISOString();
    const rows = await runManyTables(many, (line) => process.stderr.write(`${line}\n`));
    const machine = `${before.nproc} cores (${before.cpuModel}), load average ${before.loadAverage} before and ${describeMachine().loadAverage} after`;
    const report = `\`${command}\`, ${started} to ${new Date().toISOString()}, ${machine}\n\n${manyTablesReport(rows, many)}\n`;
    process.stdout.write(`\n${report}`);
    write(report);
    return 0;
  }
  const result = await runBenchmark(options, { command, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`\n${result.table}\n\n`);
  for (const t of result.targets) {
    process.stdout.write(`${t.met === undefined ? 'n/a ' : t.met ? 'met ' : 'MISS'}  ${t.contender}: ${t.target}: ${t.actual}\n`);
  }
  write(result.report);
  if (options.json) {
    writeFileSync(resolve(options.json), `${JSON.stringify({ summaries: result.summaries, targets: result.targets, passes: result.passes }, null, 2)}\n`);
  }
  return result.allOk ? 0 : 1;
}

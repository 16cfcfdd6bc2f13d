#!/usr/bin/env node
// The one test command: unit tests in parallel, then integration suites one file at a time
// (each starts real servers; on 2 cores parallel clusters compete), then one summary line.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const outDir = join(root, '.test-results');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const extra = process.argv.slice(2);
// `integration` runs every suite on PostgreSQL 15; the repack, cdc, swap, lock and core suites run
// again on each newer major of PGTOOLS_TEST_PG (vitest.config.ts checks the list).
const newerMajors = (process.env.PGTOOLS_TEST_PG ?? '15,16,17,18')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '' && s !== '15');
const runs = [
  { project: 'unit', args: [] },
  { project: 'integration', args: ['--no-file-parallelism'] },
  ...newerMajors.map((major) => ({ project: `integration-pg${major}`, args: ['--no-file-parallelism'] })),
];

let passed = 0;
let failed = 0;
let skipped = 0;
let crashed = false;
// Repeated just above the summary: a CI log that keeps only its tail still names what failed.
const failures = [];
// Where the time goes (the CI budget is 60 minutes): each project's wall time and slowest files.
const timings = [];
for (const { project, args } of runs) {
  const out = join(outDir, `${project}.json`);
  const started = Date.now();
  const result = spawnSync(
    'pnpm',
    ['exec', 'vitest', 'run', '--project', project, ...args, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...extra],
    { cwd: root, stdio: 'inherit' },
  );
  if (result.signal === 'SIGINT' || result.signal === 'SIGTERM') process.exit(130);
  let report;
  try {
    report = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    console.error(`vitest (${project}) produced no report (exit ${result.status})`);
    failures.push(`${project}: vitest produced no report (exit ${result.status})`);
    crashed = true;
    continue;
  }
  const files = (report.testResults ?? []).map((f) => ({
    name: f.name?.startsWith(root) ? f.name.slice(root.length) : f.name,
    seconds: (f.endTime - f.startTime) / 1000,
  }));
  const slowest = files
    .filter((f) => Number.isFinite(f.seconds))
    .sort((x, y) => y.seconds - x.seconds)
    .slice(0, 5);
  timings.push(`${project}: ${Math.round((Date.now() - started) / 1000)} s; slowest: ${slowest.map((f) => `${f.name} ${Math.round(f.seconds)} s`).join(', ')}`);
  for (const file of report.testResults ?? []) {
    const name = file.name?.startsWith(root) ? file.name.slice(root.length) : file.name;
    const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of failedTests) failures.push(`${project} ${name} > ${t.fullName}\n    ${firstLine(t.failureMessages?.[0])}`);
    if (failedTests.length === 0 && file.status === 'failed') failures.push(`${project} ${name}\n    ${firstLine(file.message)}`);
  }
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A file that failed to load or a hook that threw fails the run even with no failed test.
  if (result.status !== 0 && (report.numFailedTests ?? 0) === 0) {
    crashed = true;
    if (!failures.some((f) => f.startsWith(`${project} `))) failures.push(`${project}: vitest exited ${result.status} with no failed test (see above)`);
  }
}
if (crashed && failed === 0) failed = 1;
console.log(`\nTimings:\n${timings.map((t) => `  ${t}`).join('\n')}`);
if (failures.length > 0) console.log(`\nFailed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);

/** The first line of an error message, bounded: enough to tell one failure from another. */
function firstLine(text) {
  const line =
    String(text ?? '')
      .split('\n')
      .find((l) => l.trim() !== '') ?? '';
  return line.trim().slice(0, 300);
}

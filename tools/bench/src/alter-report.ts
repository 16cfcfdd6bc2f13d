import { ALTER_ACTION } from './alter-scenario.js';
import { TABLE_NAME } from './fixture.js';
import type { PassResult } from './pass.js';
import { passesTable, resultsTable, targetsTable, type ReportInput } from './report.js';

/**
 * The type `id` had after each contender's passes, in order of first appearance, with how many
 * passes ended with it: `bigint (3/3)`; `—` when no pass of it verified the type.
 *
 * @example
 * ```ts
 * idTypesAfter(passes, 'plain-alter'); // 'bigint (3/3)'
 * ```
 */
export function idTypesAfter(passes: readonly PassResult[], contender: string): string {
  const mine = passes.filter((p) => p.contender === contender);
  const counts = new Map<string, number>();
  for (const p of mine) {
    const type = p.verification.idType ?? 'not checked';
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  if (counts.size === 0) return '—';
  return [...counts].map(([type, n]) => `${type} (${n}/${mine.length})`).join(', ');
}

/**
 * The alter scenario's section of docs/benchmarks.md (issue 19): setup, the results table (the
 * repack's columns), the type of `id` after each contender, the targets met or missed, every pass.
 *
 * @example
 * ```ts
 * writeFileSync('/tmp/alter.md', renderAlterReport(input));
 * ```
 */
export function renderAlterReport(r: ReportInput): string {
  const o = r.options;
  const out: string[] = [];
  const partitioned = o.partitions > 0 ? `, hash-partitioned into ${o.partitions} partitions` : '';
  out.push(`### Online schema change: int → bigint of the primary key${partitioned} (issue 19)`, '');
  out.push(
    `Produced by \`${r.command}\` on ${r.date}: ${r.machine.cpuModel}, \`nproc\` = ${r.machine.nproc}, load average ${r.machine.loadAverage} at the start; ${r.postgresVersion}; ` +
      "the benchmark's server settings.",
    '',
  );
  out.push(
    `- Table: the benchmark's \`${TABLE_NAME}\` with \`id integer\` ${o.partitions > 0 ? `in its primary key (id, account), hash-partitioned on account into ${o.partitions} partitions` : 'as its primary key'} (instead of bigint): ${o.rows} rows inserted, every second one deleted, VACUUM ANALYZE: ` +
      `${r.table.liveRows} live rows, heap ${r.table.heapMB.toFixed(0)} MB, total ${r.table.totalMB.toFixed(0)} MB. Every pass starts from a FILE_COPY clone of the same template database, then CHECKPOINT.`,
  );
  out.push(
    `- \`pgtools-alter\`: \`repack(config, { table: '${TABLE_NAME}', swap: 'rename', alter: ['${ALTER_ACTION}'] })\` in its own node process, the library call behind ` +
      `\`pgtools-repack -t ${TABLE_NAME} --alter '${ALTER_ACTION}'\`; \`plain-alter\`: \`psql -c 'ALTER TABLE ${TABLE_NAME} ${ALTER_ACTION}'\`; \`no-repack\`: an idle window of the load (the baseline and the load's own WAL).`,
  );
  out.push(
    `- Load: pgbench, ${o.clients} clients, ${o.threads} threads, fixed rate ${o.tps} tps, ${o.warmupS} s of warm-up before the change and ${o.tailS} s after it. Command: \`${r.loadCommand}\`.`,
  );
  out.push(
    `- Runs: ${o.runs}, contenders interleaved (${o.contenders.join(', ')}${o.runs > 1 ? ', then again' : ''}); pg_locks sampled every ${o.lockSampleMs} ms.`,
  );
  out.push(
    "- Correct: `id` has the expected type (bigint after either change, integer after `no-repack`), the checksum of every row equals the one the load's ledger implies (so every row kept its content), " +
      `the three indexes are valid${o.amcheck ? ' and pass `bt_index_check(heapallindexed)`' : ''}, nothing is left over, and no load client failed.`,
  );
  for (const n of r.notes) out.push(`- ${n}`);
  out.push('', `#### Results (median of ${o.runs} run${o.runs === 1 ? '' : 's'}, ${o.tps} tps)`, '', resultsTable(r.summaries), '');
  out.push(`- \`id\` after the passes: ${r.summaries.map((s) => `${s.contender} ${idTypesAfter(r.passes, s.contender)}`).join('; ')}.`);
  out.push('- Columns as in the repack results above; "repack()" is the time inside the library call.');
  if (r.targets.length > 0) {
    out.push('', '#### Targets (issue 19)', '', targetsTable(r.targets));
  }
  out.push('', '<details><summary>every pass</summary>', '', passesTable(r.passes), '', '</details>', '');
  return out.join('\n');
}

// Runs one pgtools repack in its own process, so the benchmark can measure this process's peak
// RSS alone. Input: one JSON argument; output: one JSON line on stdout.
import { repack, type SwapMode } from '@pgtools/repack';

interface ChildSpec {
  config: { host: string; port: number; user: string; database: string };
  table: string;
  swap: SwapMode;
  /** Absent: the library's default. */
  jobs?: number;
  /** The online schema change's actions (issue 19); absent: a plain repack. */
  alter?: string[];
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
const startedAt = Date.now();
const result = await repack(spec.config, {
  table: spec.table,
  swap: spec.swap,
  ...(spec.jobs === undefined ? {} : { jobs: spec.jobs }),
  ...(spec.alter === undefined ? {} : { alter: spec.alter }),
});
const endedAt = Date.now();
process.stdout.write(`${JSON.stringify({ startedAt, endedAt, result })}\n`);
process.exitCode = result.exitCode;

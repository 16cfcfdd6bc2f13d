// The many-small-tables measurement of issue 20 item 3: `pgtools-repack DBNAME` (per --table-jobs)
// against `pg_repack -d DBNAME`, interleaved. Prints a markdown table on stdout, progress on stderr.
// node tools/bench/dist/many-tables-cli.js [--tables 40] [--rows 40000] [--big-tables 2 --big-rows 1600000] [--runs 3]
//   [--table-jobs 1,2,3] [--cli NAME=PATH ...] [--no-pg-repack]
import { parseArgs } from 'node:util';
import { manyTablesReport, runManyTables } from './many-tables.js';

const { values } = parseArgs({
  options: {
    tables: { type: 'string', default: '40' },
    rows: { type: 'string', default: '40000' },
    runs: { type: 'string', default: '3' },
    'table-jobs': { type: 'string', default: '1' },
    'no-pg-repack': { type: 'boolean', default: false },
    cli: { type: 'string', multiple: true },
    'big-tables': { type: 'string', default: '0' },
    'big-rows': { type: 'string', default: '1600000' },
  },
});
const options = {
  tables: Number(values.tables),
  rows: Number(values.rows),
  runs: Number(values.runs),
  tableJobs: (values['table-jobs'] ?? '1').split(',').map(Number),
  pgRepack: !values['no-pg-repack'],
  // --cli NAME=PATH (repeatable): another build of bin/pgtools-repack.js, timed alongside.
  otherClis: (values.cli ?? []).map((c) => ({ name: c.slice(0, c.indexOf('=')), path: c.slice(c.indexOf('=') + 1) })),
  bigTables: Number(values['big-tables']),
  bigRows: Number(values['big-rows']),
};
const started = new Date().toISOString();
const rows = await runManyTables(options, (line) => console.error(line));
console.log(`node tools/bench/dist/many-tables-cli.js ${process.argv.slice(2).join(' ')} (started ${started})\n`);
console.log(manyTablesReport(rows, options));

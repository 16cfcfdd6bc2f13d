// The many-small-tables measurement of issue 20 item 3: `pgtools-repack DBNAME` (per --table-jobs)
// against `pg_repack -d DBNAME`, interleaved. Prints a markdown table on stdout, progress on stderr.
import { parseArgs } from 'node:util';
import { manyTablesReport, runManyTables } from './many-tables.js';

const { values } = parseArgs({
  options: {
    tables: { type: 'string', default: '40' },
    rows: { type: 'string', default: '40000' },
    runs: { type: 'string', default: '3' },
    'table-jobs': { type: 'string', default: '1' },
    'no-pg-repack': { type: 'boolean', default: false },
    'baseline-cli': { type: 'string' },
  },
});
const options = {
  tables: Number(values.tables),
  rows: Number(values.rows),
  runs: Number(values.runs),
  tableJobs: (values['table-jobs'] ?? '1').split(',').map(Number),
  pgRepack: !values['no-pg-repack'],
  baselineCli: values['baseline-cli'],
};
const started = new Date().toISOString();
const rows = await runManyTables(options, (line) => console.error(line));
console.log(`node tools/bench/dist/many-tables-cli.js ${process.argv.slice(2).join(' ')} (started ${started})\n`);
console.log(manyTablesReport(rows, options));

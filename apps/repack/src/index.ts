export { parseCliArgs, applyOptions, HELP, EXIT, UsageError } from './args.js';
export type { CliOptions, SwapMode } from './args.js';
export { connectionConfig } from './connection.js';
export { main, checkCombinations } from './cli.js';
export { parseElevel, verbosityOf, ELEVELS } from './elevel.js';
export type { Elevel, LineKind, Verbosity } from './elevel.js';

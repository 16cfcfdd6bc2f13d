export { parseCliArgs, HELP, EXIT, UsageError } from './args.js';
export type { CliOptions, SwapMode } from './args.js';
export { connectionConfig } from './connection.js';
export { main } from './cli.js';

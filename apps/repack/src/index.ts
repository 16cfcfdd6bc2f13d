export { parseCliArgs, HELP, EXIT, UsageError } from './args.js';
export type { CliOptions, SwapMode } from './args.js';
export { main } from './cli.js';

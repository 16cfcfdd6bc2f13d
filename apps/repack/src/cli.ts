import pkg from '../package.json' with { type: 'json' };
import { EXIT, HELP, parseCliArgs, UsageError } from './args.js';

/** Runs pgtools-repack with `argv` (without node and script) and resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseCliArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`pgtools-repack: ${err.message}\nTry "pgtools-repack --help" for more information.\n`);
      return EXIT.usage;
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (options.version) {
    process.stdout.write(`pgtools-repack ${pkg.version}\n`);
    return EXIT.ok;
  }
  process.stderr.write('pgtools-repack: the repack engine is not wired into this build yet\n');
  return EXIT.failed;
}

import { describe, invalid } from './config-reader.js';
import { shlexSplit } from './shlex-split.js';

/**
 * Checks a configured command line (a callback, `post_bootstrap`, a bootstrap or replica method)
 * and returns its words, split like Patroni splits it (`shlex.split`, no shell). Refuses, naming
 * `key`: a value that is not a non-empty string, one that does not split (an unclosed quote), and
 * one that names no program.
 *
 * @example
 * ```ts
 * import { commandWords } from '@pgtools/ha-agent/internals';
 * commandWords('postgresql.callbacks.on_start', '/usr/bin/cb --verbose'); // ['/usr/bin/cb', '--verbose']
 * ```
 */
export function commandWords(key: string, value: unknown): string[] {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(key, `must be a non-empty command line, got ${describe(value)}`);
  let words: string[];
  try {
    words = shlexSplit(value);
  } catch (err) {
    throw invalid(key, `cannot be split into words: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (words.length === 0 || words[0] === '') throw invalid(key, `names no program: ${JSON.stringify(value)}`);
  return words;
}

/**
 * A YAML scalar as Python's `str()` prints it, which is how Patroni passes `--key=value` to a
 * method: scripts written for Patroni parse `True`/`False`.
 *
 * @example
 * ```ts
 * import { pythonStr } from '@pgtools/ha-agent/internals';
 * pythonStr(true); // 'True'
 * ```
 */
export function pythonStr(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

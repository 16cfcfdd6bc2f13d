import { PgToolsError } from '@pgtools/core';

// Python's shlex whitespace (`shlex.whitespace`).
const WHITESPACE = ' \t\r\n';

/**
 * Splits a command line into words the way Patroni does (Python's `shlex.split`, POSIX mode):
 * whitespace separates words; single quotes keep everything literally; inside double quotes a
 * backslash escapes only `"` and `\`; outside quotes a backslash escapes any character. No
 * comments, no variable or glob expansion (the words are run without a shell). An unclosed quote
 * or a trailing backslash throws `PgToolsError` (`invalid_command`) with Python's message.
 *
 * @example
 * ```ts
 * import { shlexSplit } from '@pgtools/ha-agent/internals';
 * shlexSplit(`/usr/bin/python3 "/opt/my hooks/cb.py" --tag 'a b'`); // ['/usr/bin/python3', '/opt/my hooks/cb.py', '--tag', 'a b']
 * ```
 */
export function shlexSplit(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const fail = (message: string): PgToolsError => new PgToolsError('invalid_command', `${message} in ${JSON.stringify(text)}`);
  while (i < text.length) {
    const c = text.charAt(i);
    if (WHITESPACE.includes(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    // A quoted empty string is a word of its own, as in Python ('' -> '').
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw fail('No closing quotation');
      word += text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw fail('No closing quotation');
        const d = text.charAt(i);
        if (d === '"') break;
        if (d === '\\') {
          if (i + 1 >= text.length) throw fail('No escaped character');
          const next = text.charAt(i + 1);
          if (next === '"' || next === '\\') {
            word += next;
            i += 2;
            continue;
          }
        }
        word += d;
        i++;
      }
      i++;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw fail('No escaped character');
      word += text.charAt(i + 1);
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

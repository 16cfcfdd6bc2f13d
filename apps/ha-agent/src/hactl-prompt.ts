import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { PgToolsError } from '@pgtools/core';

/**
 * The questions hactl asks before acting (click's `prompt` and `confirm`, as patronictl asks them).
 *
 * @example
 * ```ts
 * import type { Prompter } from './hactl-prompt.js';
 * const sure = async (p: Prompter) => p.confirm('Are you sure you want to switchover cluster demo?');
 * ```
 */
export interface Prompter {
  /**
   * Shows `text [default]: ` and returns the answer, or the default for an empty answer.
   * `hidden`: the typed text is not echoed (click's `hide_input`, for a password).
   */
  prompt(text: string, defaultValue?: string, options?: { hidden?: boolean }): Promise<string>;
  /** Shows `text [y/N]: `; asks again on anything but y/yes/n/no/empty. */
  confirm(text: string, defaultValue?: boolean): Promise<boolean>;
  close(): void;
}

/**
 * A prompter for a non-interactive run: the first question fails with `PgToolsError`
 * `needs_confirmation`, before anything was changed, telling which flag makes the run unattended.
 *
 * @example
 * ```ts
 * const p = refusingPrompter('switchover', '--force (with --candidate)');
 * await p.confirm('Are you sure?'); // throws needs_confirmation
 * ```
 */
export function refusingPrompter(verb: string, unattendedFlags: string): Prompter {
  const refuse = (text: string): never => {
    throw new PgToolsError(
      'needs_confirmation',
      `${verb} would ask "${text.trim()}" but stdin is not a terminal; nothing was done. Run it from a terminal, or pass ${unattendedFlags} to act without questions`,
    );
  };
  return { prompt: async (text) => refuse(text), confirm: async (text) => refuse(text), close: () => undefined };
}

/**
 * Asks on a terminal (or any line stream, for tests) the way click does: `Primary [pg1]: `,
 * `Candidate ['pg2', 'pg3'] []: `, `... [y/N]: `. End of input aborts with `PgToolsError` `aborted`.
 *
 * @example
 * ```ts
 * const p = linePrompter(process.stdin, process.stdout, true);
 * const candidate = await p.prompt("Candidate ['pg2', 'pg3']", '');
 * p.close();
 * ```
 */
export function linePrompter(input: Readable, output: Writable, terminal = false): Prompter {
  let rl: Interface | undefined;
  const pending: string[] = [];
  const waiters: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  let ended = false;
  let muted = false;
  const open = (): Interface => {
    if (rl) return rl;
    rl = createInterface({ input, output: terminal ? output : undefined, terminal });
    // readline echoes what is typed through this (undocumented) method: silence it for a password.
    const echo = rl as unknown as { _writeToOutput(text: string): void };
    const write = echo._writeToOutput.bind(rl);
    echo._writeToOutput = (text) => {
      if (!muted) write(text);
    };
    rl.on('line', (line) => {
      if (muted) output.write('\n');
      muted = false;
      const w = waiters.shift();
      if (w) w.resolve(line);
      else pending.push(line);
    });
    rl.on('close', () => {
      ended = true;
      for (const w of waiters.splice(0)) w.reject(new PgToolsError('aborted', 'Aborted!'));
    });
    return rl;
  };
  const ask = (query: string, hidden = false): Promise<string> => {
    const iface = open();
    if (terminal) {
      // readline redraws its own prompt while editing: make the question that prompt.
      iface.setPrompt(query);
      iface.prompt();
      muted = hidden;
    } else {
      output.write(query);
    }
    const line = pending.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (ended) return Promise.reject(new PgToolsError('aborted', 'Aborted!'));
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  };
  return {
    async prompt(text, defaultValue, options) {
      for (;;) {
        const answer = await ask(defaultValue === undefined ? `${text}: ` : `${text} [${defaultValue}]: `, options?.hidden === true);
        if (answer !== '') return answer;
        if (defaultValue !== undefined) return defaultValue;
      }
    },
    async confirm(text, defaultValue = false) {
      for (;;) {
        const answer = (await ask(`${text} [${defaultValue ? 'Y/n' : 'y/N'}]: `)).trim().toLowerCase();
        if (answer === '') return defaultValue;
        if (answer === 'y' || answer === 'yes') return true;
        if (answer === 'n' || answer === 'no') return false;
        output.write('Error: invalid input\n');
      }
    },
    close() {
      rl?.close();
    },
  };
}

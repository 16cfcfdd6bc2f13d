import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@pgtools/core';
import { runBinary, type RunAs } from './run-binary.js';

/**
 * Runs crash recovery in single-user mode with `settings` on the command line. Recovery signal
 * files are set aside meanwhile (a single-user server cannot run as a standby) and put back after.
 *
 * @example
 * ```ts
 * import { singleUserRecovery } from '@pgtools/ha-agent/internals';
 * await singleUserRecovery('/data', { wal_log_hints: 'on' }, { binDir: '/usr/lib/postgresql/15/bin', logger });
 * ```
 */
export async function singleUserRecovery(
  dataDir: string,
  settings: Record<string, string | number | boolean>,
  options: { binDir: string; runAs?: RunAs | undefined; logger: Logger },
): Promise<void> {
  const signals = ['standby.signal', 'recovery.signal'].filter((f) => existsSync(join(dataDir, f)));
  for (const f of signals) await rename(join(dataDir, f), join(dataDir, `${f}.pgtools`));
  try {
    const args = ['--single', '-D', dataDir];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${typeof v === 'string' ? v : String(v)}`);
    args.push('-c', 'archive_mode=off', 'postgres');
    await runBinary('postgres', args, { binDir: options.binDir, runAs: options.runAs, cwd: dataDir, timeoutMs: 3_600_000 });
  } finally {
    for (const f of signals) {
      await rename(join(dataDir, `${f}.pgtools`), join(dataDir, f)).catch((err: unknown) =>
        options.logger.debug(`restoring ${f} after crash recovery failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }
}

import { appendFile, chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DynamicConfig, HaConfig } from '../config/config-types.js';
import type { RunAs } from './run-binary.js';

/** The pg_hba.conf and pg_ident.conf lines the agent manages; undefined = the file is left alone. */
export interface AuthFiles {
  hba: string[] | undefined;
  ident: string[] | undefined;
}

// Patroni (config.py `replace_pg_hba`): a non-default hba_file / ident_file parameter means the
// operator keeps the file elsewhere, and the agent's lines are not written.
function ownsFile(config: HaConfig, dynamic: DynamicConfig, parameter: string, file: string): boolean {
  const value = config.postgresql.parameters[parameter] ?? dynamic.postgresql.parameters[parameter];
  return value === undefined || value === '' || value === join(config.postgresql.dataDir, file);
}

/**
 * The effective `pg_hba` / `pg_ident`: the local `postgresql:` section wins over the dynamic one
 * (Patroni merges the local section over the dynamic one key by key). An empty list manages nothing.
 *
 * @example
 * ```ts
 * import { effectiveAuthFiles } from '@pgtools/ha-agent/internals';
 * effectiveAuthFiles(config, dynamic).hba; // ['local all all peer', ...] or undefined
 * ```
 */
export function effectiveAuthFiles(config: HaConfig, dynamic: DynamicConfig): AuthFiles {
  const hba = config.postgresql.pgHba ?? dynamic.postgresql.pgHba;
  const ident = config.postgresql.pgIdent ?? dynamic.postgresql.pgIdent;
  return {
    hba: hba && hba.length > 0 && ownsFile(config, dynamic, 'hba_file', 'pg_hba.conf') ? hba : undefined,
    ident: ident && ident.length > 0 && ownsFile(config, dynamic, 'ident_file', 'pg_ident.conf') ? ident : undefined,
  };
}

async function writeLines(file: string, lines: string[], runAs: RunAs | undefined): Promise<void> {
  await writeFile(file, `# Written by the pgtools HA agent (pg_hba / pg_ident of its configuration); edits are overwritten\n${lines.join('\n')}\n`, {
    mode: 0o600,
  });
  if (runAs) await chown(file, runAs.uid, runAs.gid);
}

/**
 * Writes the managed pg_hba.conf and pg_ident.conf (every start and reload, like Patroni's
 * `replace_pg_hba` / `replace_pg_ident`). `hbaOverride` replaces the configured pg_hba lines (the
 * custom bootstrap's temporary local trust).
 *
 * @example
 * ```ts
 * import { effectiveAuthFiles, writeAuthFiles } from '@pgtools/ha-agent/internals';
 * await writeAuthFiles('/data', effectiveAuthFiles(config, dynamic));
 * ```
 */
export async function writeAuthFiles(dataDir: string, files: AuthFiles, runAs?: RunAs, hbaOverride?: string[]): Promise<void> {
  const hba = hbaOverride ?? files.hba;
  if (hba) await writeLines(join(dataDir, 'pg_hba.conf'), hba, runAs);
  if (files.ident) await writeLines(join(dataDir, 'pg_ident.conf'), files.ident, runAs);
}

/**
 * After initdb or a custom bootstrap: the managed files, or when pg_hba is not managed,
 * `bootstrap.pg_hba` appended to the file the cluster came with (Patroni's `append_pg_hba`).
 *
 * @example
 * ```ts
 * import { writeBootstrapAuthFiles } from '@pgtools/ha-agent/internals';
 * await writeBootstrapAuthFiles(config, dynamic, runAs);
 * ```
 */
export async function writeBootstrapAuthFiles(config: HaConfig, dynamic: DynamicConfig, runAs: RunAs | undefined): Promise<void> {
  const files = effectiveAuthFiles(config, dynamic);
  await writeAuthFiles(config.postgresql.dataDir, files, runAs);
  if (files.hba || config.bootstrap.pgHba.length === 0 || !ownsFile(config, dynamic, 'hba_file', 'pg_hba.conf')) return;
  const file = join(config.postgresql.dataDir, 'pg_hba.conf');
  await appendFile(file, `\n# bootstrap.pg_hba\n${config.bootstrap.pgHba.join('\n')}\n`);
  if (runAs) await chown(file, runAs.uid, runAs.gid);
}

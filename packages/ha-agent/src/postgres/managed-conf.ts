import { chown, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunAs } from './run-binary.js';
import { confValue } from './server-settings.js';

/** The file the agent owns inside the data dir, included from postgresql.conf. */
export const MANAGED_CONF = 'pgtools.conf';

const INCLUDE_LINE = `include_if_exists = '${MANAGED_CONF}'\t# managed by pgtools ha-agent`;

/**
 * The recovery a primary starts with after a custom bootstrap: `recovery_conf` settings (written
 * with recovery.signal), or `keep` the signal files the bootstrap command left.
 */
export type BootstrapRecovery = { settings: Record<string, string | number | boolean> } | 'keep';

/** The role the managed conf is written for. */
export interface ManagedRole {
  standby: boolean;
  source?: StandbySource | undefined;
  /** `recovery_conf` (local or dynamic): extra settings while running as a standby. */
  standbyRecovery?: Record<string, string | number | boolean> | undefined;
  /** Only for the first start after a custom bootstrap (`standby: false`). */
  recovery?: BootstrapRecovery | undefined;
}

/** Where a replica streams from (written as primary_conninfo / primary_slot_name). */
export interface StandbySource {
  /** libpq connection string of the leader (see `conninfo`); undefined = no streaming (a standby cluster on `restore_command` only). */
  conninfo?: string | undefined;
  slotName?: string | undefined;
  /** The remote primary of a standby cluster: this node is its standby leader (`remoteSource`). */
  remote?: boolean;
}

async function own(path: string, runAs: RunAs | undefined): Promise<void> {
  if (runAs) await chown(path, runAs.uid, runAs.gid);
}

/**
 * Makes postgresql.conf include the managed file (once). pg_basebackup and pg_rewind copy
 * postgresql.conf from the leader, so clones already have the line.
 *
 * @example
 * ```ts
 * import { ensureInclude } from '@pgtools/ha-agent/internals';
 * await ensureInclude('/var/lib/postgresql/15/main');
 * ```
 */
export async function ensureInclude(dataDir: string, runAs?: RunAs): Promise<void> {
  const file = join(dataDir, 'postgresql.conf');
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    // no postgresql.conf (custom layouts): create one that only includes ours
  }
  if (text.includes(`'${MANAGED_CONF}'`)) return;
  await appendFile(file, `\n${INCLUDE_LINE}\n`);
  await own(file, runAs);
}

/**
 * Writes the managed include file: the configured parameters plus, on a replica, the recovery
 * settings (`primary_conninfo`, `primary_slot_name`, `recovery_target_timeline = 'latest'`, and
 * `recovery_conf`), and
 * creates or removes `standby.signal`. A reload applies a changed `primary_conninfo` (PostgreSQL 13+).
 * After a custom bootstrap, `role.recovery` adds its `recovery_conf` settings with recovery.signal,
 * or keeps the signal files the bootstrap command left.
 *
 * @example
 * ```ts
 * import { writeManagedConf } from '@pgtools/ha-agent/internals';
 * await writeManagedConf('/data', { wal_keep_size: '256MB' }, { standby: true,
 *   source: { conninfo: "host='10.0.0.1' port='5432' user='replicator' application_name='node2'", slotName: 'node2' } });
 * ```
 */
export async function writeManagedConf(
  dataDir: string,
  parameters: Record<string, string | number | boolean>,
  role: ManagedRole,
  runAs?: RunAs,
): Promise<boolean> {
  const lines = ['# Written by the pgtools HA agent; edits are overwritten. Change the agent configuration instead.'];
  for (const [k, v] of Object.entries(parameters)) lines.push(`${k} = ${confValue(v)}`);
  if (role.standby) {
    lines.push(`recovery_target_timeline = 'latest'`);
    for (const [k, v] of Object.entries(role.standbyRecovery ?? {})) lines.push(`${k} = ${confValue(v)}`);
    if (role.source?.conninfo) {
      lines.push(`primary_conninfo = ${confValue(role.source.conninfo)}`);
      if (role.source.slotName) lines.push(`primary_slot_name = ${confValue(role.source.slotName)}`);
    }
  } else if (role.recovery && role.recovery !== 'keep') {
    for (const [k, v] of Object.entries(role.recovery.settings)) lines.push(`${k} = ${confValue(v)}`);
  }
  const text = `${lines.join('\n')}\n`;
  const file = join(dataDir, MANAGED_CONF);
  let previous: string | undefined;
  try {
    previous = await readFile(file, 'utf8');
  } catch {
    previous = undefined;
  }
  const changed = previous !== text;
  if (changed) {
    await writeFile(file, text, { mode: 0o600 });
    await own(file, runAs);
  }
  if (role.recovery === 'keep' && !role.standby) return changed;
  const signal = join(dataDir, 'standby.signal');
  if (role.standby) {
    await writeFile(signal, '', { flag: 'a' });
    await own(signal, runAs);
  } else {
    await rm(signal, { force: true });
  }
  if (!role.standby && role.recovery) {
    // Archive recovery, ended by PostgreSQL itself (recovery_target_action or the end of the WAL).
    const recovery = join(dataDir, 'recovery.signal');
    await writeFile(recovery, '', { flag: 'a' });
    await own(recovery, runAs);
  }
  return changed;
}

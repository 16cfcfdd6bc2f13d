import { describe, invalid, type Section } from './config-reader.js';

/** A recovery setting as written to the managed conf. */
export type RecoverySetting = string | number | boolean;

// The agent writes these itself on every replica (Patroni drops them from recovery_conf silently;
// here they are refused so nobody believes theirs is used). recovery_target* would stop a replica
// short of the leader's WAL.
const MANAGED = ['primary_conninfo', 'primary_slot_name', 'standby_mode', 'recovery_target_timeline'];

/**
 * Reads `recovery_conf` (local `postgresql:` or dynamic `postgresql:`): extra recovery settings a
 * replica gets (`restore_command`, `archive_cleanup_command`, `recovery_min_apply_delay`, ...),
 * written to the managed conf only while the node runs as a standby (PostgreSQL 12+ has no
 * recovery.conf).
 *
 * @example
 * ```ts
 * import { parseRecoveryConf } from '@pgtools/ha-agent/internals';
 * parseRecoveryConf(section); // { restore_command: 'cp /archive/%f %p' }
 * ```
 */
export function parseRecoveryConf(section: Section): Record<string, RecoverySetting> | undefined {
  const raw = section.value('recovery_conf');
  if (raw === undefined || raw === null) return undefined;
  const s = section.section('recovery_conf');
  const out: Record<string, RecoverySetting> = {};
  for (const [name, value] of Object.entries(s.raw)) {
    const lower = name.toLowerCase();
    if (MANAGED.includes(lower) || lower.startsWith('recovery_target')) {
      throw invalid(s.key(name), 'is managed by the agent on every replica (it follows the leader to the latest timeline) and may not be set');
    }
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[lower] = value;
    else throw invalid(s.key(name), `must be a string, number or boolean, got ${describe(value)}`);
  }
  return out;
}

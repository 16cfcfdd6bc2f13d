import type { SessionInfo } from './events.js';

/** A session as the lock and DDL guard libraries report it (their field names vary), as our events show it. */
export function toSession(value: unknown): SessionInfo {
  const v = (value ?? {}) as Record<string, unknown>;
  const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  return {
    pid: Number(v.pid),
    user: str(v.user ?? v.usename),
    application: str(v.application ?? v.applicationName ?? v.application_name),
    query: str(v.query),
  };
}

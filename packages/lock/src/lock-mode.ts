import { PgToolsError } from '@pgtools/core';

/**
 * A table lock mode as `LOCK TABLE ... IN <mode> MODE` spells it.
 *
 * @example
 * ```ts
 * import type { LockMode } from '@pgtools/lock';
 * const mode: LockMode = 'SHARE UPDATE EXCLUSIVE';
 * ```
 */
export type LockMode =
  'ACCESS EXCLUSIVE' | 'EXCLUSIVE' | 'SHARE ROW EXCLUSIVE' | 'SHARE' | 'SHARE UPDATE EXCLUSIVE' | 'ROW EXCLUSIVE' | 'ROW SHARE' | 'ACCESS SHARE';

/**
 * Every {@link LockMode}, weakest first (the order of the PostgreSQL documentation).
 *
 * @example
 * ```ts
 * import { LOCK_MODES } from '@pgtools/lock';
 * if (!LOCK_MODES.includes(input as never)) throw new Error('bad mode');
 * ```
 */
export const LOCK_MODES: readonly LockMode[] = Object.freeze([
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
]);

const PG_LOCKS_NAME: Record<LockMode, string> = {
  'ACCESS SHARE': 'AccessShareLock',
  'ROW SHARE': 'RowShareLock',
  'ROW EXCLUSIVE': 'RowExclusiveLock',
  'SHARE UPDATE EXCLUSIVE': 'ShareUpdateExclusiveLock',
  SHARE: 'ShareLock',
  'SHARE ROW EXCLUSIVE': 'ShareRowExclusiveLock',
  EXCLUSIVE: 'ExclusiveLock',
  'ACCESS EXCLUSIVE': 'AccessExclusiveLock',
};

// The table-level conflict matrix of the PostgreSQL manual ("Conflicting Lock Modes").
// It is symmetric; written out in full so each row can be checked against the manual.
const CONFLICTS: Record<LockMode, readonly LockMode[]> = {
  'ACCESS SHARE': ['ACCESS EXCLUSIVE'],
  'ROW SHARE': ['EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'ROW EXCLUSIVE': ['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'SHARE UPDATE EXCLUSIVE': ['SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  SHARE: ['ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'SHARE ROW EXCLUSIVE': ['ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  EXCLUSIVE: ['ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'ACCESS EXCLUSIVE': LOCK_MODES,
};

/**
 * Checks a value is a {@link LockMode}; the mode is pasted into `LOCK TABLE`, so anything else is refused.
 *
 * @example
 * ```ts
 * import { assertLockMode } from '@pgtools/lock';
 * assertLockMode('ACCESS EXCLUSIVE'); // ok
 * assertLockMode('EXCLUSIVE; DROP TABLE t'); // throws PgToolsError code 'invalid_lock_mode'
 * ```
 */
export function assertLockMode(mode: unknown): asserts mode is LockMode {
  if (typeof mode !== 'string' || !(LOCK_MODES as readonly string[]).includes(mode)) {
    throw new PgToolsError('invalid_lock_mode', `unknown lock mode ${JSON.stringify(mode)}; expected one of ${LOCK_MODES.join(', ')}`);
  }
}

/**
 * The name `pg_locks.mode` shows for a lock mode: `'SHARE UPDATE EXCLUSIVE'` → `'ShareUpdateExclusiveLock'`.
 *
 * @example
 * ```ts
 * import { pgLocksModeName } from '@pgtools/lock';
 * await client.query('SELECT pid FROM pg_locks WHERE mode = $1', [pgLocksModeName('ACCESS EXCLUSIVE')]);
 * ```
 */
export function pgLocksModeName(mode: LockMode): string {
  assertLockMode(mode);
  return PG_LOCKS_NAME[mode];
}

/**
 * The modes that conflict with `mode` (a session holding or requesting one of them delays a request for `mode`).
 *
 * @example
 * ```ts
 * import { conflictingLockModes } from '@pgtools/lock';
 * conflictingLockModes('SHARE UPDATE EXCLUSIVE');
 * // => ['SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE']
 * ```
 */
export function conflictingLockModes(mode: LockMode): LockMode[] {
  assertLockMode(mode);
  return [...CONFLICTS[mode]];
}

/**
 * True when two table lock modes conflict.
 *
 * @example
 * ```ts
 * import { lockModesConflict } from '@pgtools/lock';
 * lockModesConflict('ACCESS SHARE', 'SHARE UPDATE EXCLUSIVE'); // => false: readers are no blockers there
 * ```
 */
export function lockModesConflict(a: LockMode, b: LockMode): boolean {
  return conflictingLockModes(a).includes(b);
}

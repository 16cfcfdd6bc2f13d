import { describe, expect, it } from 'vitest';
import { PgToolsError } from '@pgtools/core';
import { LOCK_MODES, assertLockMode, conflictingLockModes, lockModesConflict, pgLocksModeName } from '../src/index.js';

describe('lock modes', () => {
  it('the conflict matrix is symmetric', () => {
    for (const a of LOCK_MODES) for (const b of LOCK_MODES) expect(lockModesConflict(a, b)).toBe(lockModesConflict(b, a));
  });

  it('matches the rows of the PostgreSQL manual that matter for repack', () => {
    expect(conflictingLockModes('ACCESS EXCLUSIVE')).toHaveLength(8);
    expect(conflictingLockModes('ACCESS SHARE')).toEqual(['ACCESS EXCLUSIVE']);
    // Readers and writers do not conflict with SHARE UPDATE EXCLUSIVE; VACUUM, CREATE INDEX and DDL do.
    expect(lockModesConflict('SHARE UPDATE EXCLUSIVE', 'ACCESS SHARE')).toBe(false);
    expect(lockModesConflict('SHARE UPDATE EXCLUSIVE', 'ROW EXCLUSIVE')).toBe(false);
    expect(lockModesConflict('SHARE UPDATE EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE')).toBe(true);
    expect(lockModesConflict('SHARE UPDATE EXCLUSIVE', 'SHARE')).toBe(true);
    expect(lockModesConflict('SHARE', 'SHARE')).toBe(false);
    expect(lockModesConflict('ROW EXCLUSIVE', 'ROW EXCLUSIVE')).toBe(false);
    expect(lockModesConflict('EXCLUSIVE', 'ACCESS SHARE')).toBe(false);
    expect(lockModesConflict('EXCLUSIVE', 'ROW SHARE')).toBe(true);
  });

  it('names modes as pg_locks shows them and refuses anything else', () => {
    expect(pgLocksModeName('SHARE ROW EXCLUSIVE')).toBe('ShareRowExclusiveLock');
    expect(() => assertLockMode('EXCLUSIVE; DROP TABLE t')).toThrow(PgToolsError);
    let caught: unknown;
    try {
      assertLockMode('exclusive');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PgToolsError);
    expect((caught as PgToolsError).code).toBe('invalid_lock_mode');
  });
});

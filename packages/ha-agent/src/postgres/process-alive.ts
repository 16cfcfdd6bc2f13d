import { readFileSync } from 'node:fs';

/**
 * True when `pid` is a live process: it exists (EPERM counts: another user's, such as the
 * `postgres` user's postmaster seen by a root agent) and is not a zombie waiting to be reaped.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    // No /proc entry to read: kill(0) said it exists.
    return true;
  }
}

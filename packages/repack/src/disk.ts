import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';

/** What the disk check could look at, and what it found. */
export interface DiskCheck {
  /**
   * `statfs`: the server's data directory (or the target tablespace) is on this machine, proven by its
   * postmaster.pid naming the same port and directory, and its free space was read;
   * `unchecked`: PostgreSQL exposes no free-space figure over SQL, and the files are not visible from here.
   */
  method: 'statfs' | 'unchecked';
  /** Where free space was read. */
  path?: string;
  freeBytes?: number;
  /**
   * A copy of the heap, TOAST and every index (an upper bound: the copy is smaller by the bloat), plus room for the change log;
   * with tables in parallel, plus what the tables running alongside reserved.
   */
  neededBytes: number;
  ok: boolean;
  note: string;
}

/**
 * Checks free disk for a table's copy before anything starts. PostgreSQL has no SQL function for free
 * space; the check therefore only works when the server's files are visible from this process
 * (same machine or a shared mount), which it verifies with postmaster.pid before trusting the numbers.
 * Reading `data_directory` needs a superuser or pg_read_all_settings. `alongsideBytes`: what tables
 * running at the same time may still write, added to this table's need.
 *
 * @example
 * ```ts
 * import { checkDisk, inspectTable } from '@pgtools/repack';
 * const check = await checkDisk(client, await inspectTable(client, 'public.orders'));
 * console.log(check.method, check.note);
 * ```
 */
export async function checkDisk(
  client: pg.ClientBase,
  info: { totalBytes: number; tablespace: string | null },
  targetTablespace?: string,
  alongsideBytes = 0,
): Promise<DiskCheck> {
  // With tables in parallel, the copies running alongside need their room too.
  const neededBytes = info.totalBytes + alongsideBytes;
  const alongside = alongsideBytes > 0 ? ` (${alongsideBytes} of it for the tables running alongside)` : '';
  const unchecked = (why: string): DiskCheck => ({
    method: 'unchecked',
    neededBytes,
    ok: true,
    note: `free disk not checked: ${why}; the copy needs up to ${neededBytes} bytes${alongside}`,
  });
  let dataDir: string;
  let port: string;
  let location = '';
  try {
    const { rows } = await client.query<{ dir: string; port: string; loc: string | null }>(
      `SELECT current_setting('data_directory') AS dir, current_setting('port') AS port,
              (SELECT pg_tablespace_location(t.oid) FROM pg_tablespace t WHERE t.spcname = $1) AS loc`,
      [targetTablespace ?? info.tablespace ?? ''],
    );
    dataDir = rows[0]!.dir;
    port = rows[0]!.port;
    location = rows[0]!.loc ?? '';
  } catch {
    return unchecked('data_directory is not readable by this role (superuser or pg_read_all_settings needed)');
  }
  try {
    const pid = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
    // postmaster.pid: pid, data directory, start time, port, ...
    if (pid[1] !== dataDir || pid[3]?.trim() !== port) return unchecked(`${dataDir} here belongs to another server`);
  } catch {
    return unchecked('the server is on another machine (its data directory is not visible from here)');
  }
  const path = location !== '' ? location : dataDir;
  try {
    const fs = await statfs(path);
    const freeBytes = Number(fs.bavail) * Number(fs.bsize);
    const ok = freeBytes >= neededBytes;
    return {
      method: 'statfs',
      path,
      freeBytes,
      neededBytes,
      ok,
      note: `${ok ? '' : 'not enough disk: '}${freeBytes} bytes free at ${path}, the copy needs up to ${neededBytes}${alongside}`,
    };
  } catch (err) {
    return unchecked(`cannot read free space of ${path} (${(err as Error).message})`);
  }
}

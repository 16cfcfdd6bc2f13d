import type pg from 'pg';
import type { ConnectionSource } from './connection-source.js';
import type { ProgressBoard } from './progress-board.js';

/**
 * Disk the running tables of one run may still need: each table reserves its copy's size before its
 * disk check and gives it back when it ends, so with tables in parallel every check asks for its own
 * copy plus the copies running alongside. The reservation is taken synchronously, before the check
 * awaits anything: of two checks at once, the later one always counts the earlier one.
 */
export class DiskLedger {
  private reserved = 0;

  /** Reserves `bytes`; returns what the other running tables had reserved. */
  reserve(bytes: number): number {
    const others = this.reserved;
    this.reserved += bytes;
    return others;
  }

  release(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
  }
}

/** The rows written under `maxRate` by every table of a run since `started`: the rate is the run's, not each table's. */
export interface Pace {
  started: number;
  rows: number;
}

/** What the tables of one `repack()` call share when they run side by side. */
export interface RunShared {
  board?: ProgressBoard | undefined;
  disk: DiskLedger;
  pace: Pace;
  /**
   * Backend PIDs of every connection the run holds now. A table's snapshot wait leaves them out: they
   * read only their own table, its log and shadow, and the catalogs, never another table's rows, so
   * their old snapshots cannot see a swapped table empty (and the tables need not wait for each other's copies).
   */
  pids: Set<number>;
}

/**
 * @example
 * ```ts
 * const shared = runShared(board, Date.now());
 * ```
 */
export function runShared(board: ProgressBoard | undefined, now: number): RunShared {
  return { board, disk: new DiskLedger(), pace: { started: now, rows: 0 }, pids: new Set() };
}

type Connection = pg.PoolClient | pg.Client;

/**
 * The source, noting the backend PID of each connection it hands out in `pids` until it is released.
 *
 * @example
 * ```ts
 * const tracked = trackBackends(source, shared.pids);
 * ```
 */
export function trackBackends<S extends ConnectionSource>(source: S, pids: Set<number>): S {
  const pidOf = new Map<Connection, number>();
  return {
    ...source,
    async connect() {
      const client = await source.connect();
      const pid = (client as { processID?: number | null }).processID;
      if (typeof pid === 'number') {
        pidOf.set(client, pid);
        pids.add(pid);
      }
      return client;
    },
    async release(client: Connection, destroy?: boolean) {
      const pid = pidOf.get(client);
      if (pid !== undefined) {
        pidOf.delete(client);
        pids.delete(pid);
      }
      await source.release(client, destroy);
    },
  };
}

import pg from 'pg';
import { waitFor, type TestDatabase } from '@pgtools/testkit';

/** Test sessions: each a dedicated client, ended by `endAll`. Terminated backends must not crash the worker. */
export class Sessions {
  private readonly clients: pg.Client[] = [];
  constructor(private readonly db: TestDatabase) {}

  async open(applicationName: string, user?: string): Promise<{ client: pg.Client; pid: number }> {
    const client = new pg.Client({ ...this.db.config, application_name: applicationName, ...(user ? { user } : {}) });
    client.on('error', () => {});
    await client.connect();
    this.clients.push(client);
    const res = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return { client, pid: res.rows[0]!.pid };
  }

  async endAll(): Promise<void> {
    await Promise.allSettled(this.clients.splice(0).map((c) => c.end()));
  }
}

/** State of a backend as another session sees it; undefined once it is gone. */
export async function backendState(admin: pg.Pool, pid: number): Promise<string | null | undefined> {
  const res = await admin.query<{ state: string | null }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
  return res.rows.length === 0 ? undefined : res.rows[0]!.state;
}

/** Lock modes a backend holds (granted) on a table. */
export async function heldModes(admin: pg.Pool, pid: number, table: string): Promise<string[]> {
  const res = await admin.query<{ mode: string }>(
    `SELECT mode FROM pg_locks WHERE pid = $1 AND locktype = 'relation' AND relation = $2::regclass AND granted ORDER BY mode`,
    [pid, table],
  );
  return res.rows.map((r) => r.mode);
}

/** Waits until `pid` waits for a lock (granted = false). */
export async function waitUntilWaiting(admin: pg.Pool, pid: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await admin.query('SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted', [pid])).rows.length > 0, {
    timeoutMs,
    intervalMs: 20,
    describe: () => `pid ${pid} to queue for a lock`,
  });
}

/** Settles a promise into a value or an error, without an unhandled rejection in between. */
export function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

import pg from 'pg';
import { isPool, type PoolOrConfig } from '@pgtools/core';
import type { ConnectionSource } from './connection-source.js';

/**
 * Dedicated connections from the caller's pool, or new clients from a configuration.
 * A client whose connection broke is destroyed rather than returned to the pool.
 */
export function connectionSource(db: PoolOrConfig, onQuery?: (sql: string) => void): ConnectionSource & { end(): Promise<void> } {
  const listeners = errorListeners();
  if (isPool(db)) {
    return {
      async connect() {
        return echoQueries(listeners.lend(await db.connect()), onQuery);
      },
      async release(client, destroy = false) {
        unechoQueries(client);
        // Hand the caller's connection back as we found it: our SETs (search_path, timeouts,
        // row_security) must not leak into the application's sessions.
        if (!destroy)
          destroy = !(await client.query('RESET ALL').then(
            () => true,
            () => false,
          ));
        listeners.takeBack(client);
        (client as pg.PoolClient).release(destroy ? true : undefined);
      },
      async end() {},
      spare() {
        const p = db as pg.Pool & { options?: { max?: number } };
        const max = p.options?.max ?? 10;
        return p.idleCount > 0 || p.totalCount < max;
      },
    };
  }
  const open = new Set<pg.Client>();
  // Connections handed back in a clean state, for the next table of the run: starting a backend costs
  // about 4 ms here (measured per table: the guard and the index-build connection each waited that
  // long for their first query), paid two or three times per table of a whole-database run.
  const idle: pg.Client[] = [];
  return {
    ownConnections: true,
    async connect() {
      const reused = idle.pop();
      if (reused) return echoQueries(listeners.lend(reused), onQuery);
      const client = new pg.Client(db);
      // A terminated backend must not crash the process; the phase using it sees the error.
      client.on('error', () => {});
      await client.connect();
      open.add(client);
      return echoQueries(listeners.lend(client), onQuery);
    },
    async release(client, destroy = false) {
      const c = client as pg.Client;
      unechoQueries(c);
      // Reused only when DISCARD ALL succeeds soon: it fails in a transaction block or on a broken
      // connection, and it resets every setting and releases session advisory locks and temporary tables.
      if (!destroy && (await discarded(c))) {
        listeners.takeBack(c);
        idle.push(c);
        return;
      }
      open.delete(c);
      // A dedicated connection ends with its phase; one the server already closed is just as done.
      await c.end().catch(() => {});
    },
    async end() {
      await Promise.all([...open].map((c) => c.end().catch(() => {})));
      open.clear();
    },
  };
}

/**
 * The 'error' listeners a borrower adds to a connection (each phase adds one) come off when it is
 * handed back, before the pool or the next table has it: a connection lent table after table would
 * collect them otherwise (Node warned of 11 listeners in a schema run). Taken back synchronously
 * with the release, so there is no moment without a listener.
 */
function errorListeners(): { lend<C extends pg.ClientBase>(client: C): C; takeBack(client: pg.ClientBase): void } {
  const lentWith = new WeakMap<pg.ClientBase, Set<unknown>>();
  return {
    lend(client) {
      lentWith.set(client, new Set(client.listeners('error')));
      return client;
    },
    takeBack(client) {
      const before = lentWith.get(client);
      if (!before) return;
      for (const l of client.listeners('error')) if (!before.has(l)) client.off('error', l as (err: Error) => void);
    },
  };
}

/** Bound on DISCARD ALL: a connection still busy with a statement (a lock request queued, say) is closed instead. */
const DISCARD_WAIT_MS = 1000;

async function discarded(client: pg.Client): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DISCARD_WAIT_MS);
  });
  const ok = client.query('DISCARD ALL').then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([ok, late]);
  } finally {
    clearTimeout(timer);
  }
}

const ORIGINAL_QUERY = Symbol('pgtools.originalQuery');
type Echoed = pg.ClientBase & { [ORIGINAL_QUERY]?: pg.ClientBase['query'] };

/** `--echo`: report every statement text before it runs (parameters are not shown). */
function echoQueries<T extends pg.ClientBase>(client: T, onQuery: ((sql: string) => void) | undefined): T {
  if (!onQuery) return client;
  const c = client as Echoed;
  const original = c.query;
  c[ORIGINAL_QUERY] = original;
  c.query = function (this: pg.ClientBase, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : first?.text;
    if (text) onQuery(text);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as pg.ClientBase['query'];
  return client;
}

/** Gives a pooled client its own `query` back before it returns to the caller's pool. */
function unechoQueries(client: pg.ClientBase): void {
  const c = client as Echoed;
  if (c[ORIGINAL_QUERY]) {
    c.query = c[ORIGINAL_QUERY];
    delete c[ORIGINAL_QUERY];
  }
}

/** The settings of an open connection, to open another one like it (the DDL guard, the progress board). */
export function clientConfigOf(client: pg.ClientBase): pg.ClientConfig {
  const c = client as unknown as { connectionParameters: pg.ClientConfig & { password?: unknown } };
  const p = c.connectionParameters;
  return { host: p.host, port: p.port, user: p.user, database: p.database, password: p.password as string | undefined, ssl: p.ssl };
}

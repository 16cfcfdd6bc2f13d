import { startPacedLoop, type LoadError } from './paced-loop.js';
import type { SocketTarget } from './pg-socket.js';

/** One acknowledged write: its id, when the client saw the COMMIT acknowledged, which node took it. */
export interface Ack {
  id: number;
  /** Client clock (ms since the epoch) at the acknowledgement. */
  at: number;
  /** The node name of `inet_server_addr()` (or the address itself when unknown). */
  server: string;
}

export type { LoadError } from './paced-loop.js';

/** The running writer (an HAtester-style load through HAProxy's writer port). */
export interface WriteLoad {
  /** Run tag: every row this writer inserts carries it. */
  readonly run: string;
  readonly acks: Ack[];
  readonly errors: LoadError[];
  /** Stops after the attempt in flight. */
  stop(): Promise<void>;
}

/** The table the writer inserts into (created by `startScenarioCluster`). */
export const WRITES_TABLE_DDL =
  'CREATE TABLE IF NOT EXISTS ha_writes (run text NOT NULL, id int NOT NULL, client_at timestamptz NOT NULL, PRIMARY KEY (run, id))';

/**
 * Inserts one row every `intervalMs` through `target` (HAProxy's writer socket), on one
 * connection re-established after any error; logs each acknowledged write with its id, client
 * timestamp and the node that took it (`inet_server_addr()` mapped by `serverName`). Only a write
 * whose COMMIT was acknowledged is an `Ack`: that is the promise the cluster must keep.
 *
 * @example
 * ```ts
 * import { startWriter } from '@pgtools/ha-scenarios';
 * const writer = startWriter({ target: cluster.writerTarget, run: 's1', serverName: (a) => cluster.nodeNameOf(a) });
 * // ... fault ...
 * await writer.stop();
 * console.log(writer.acks.length);
 * ```
 */
export function startWriter(o: {
  target: SocketTarget;
  run: string;
  intervalMs?: number;
  /** Per connect and per statement (a write stuck on a vanished server is abandoned). */
  timeoutMs?: number;
  serverName?: (address: string) => string;
  /** Safety stop. */
  maxDurationMs?: number;
}): WriteLoad {
  const acks: Ack[] = [];
  const errors: LoadError[] = [];
  let id = 0;
  const loop = startPacedLoop({ ...o, applicationName: 'ha-scenarios-writer', errors }, async (client, started) => {
    const n = ++id;
    const r = await client.query<{ server: string | null }>(
      'INSERT INTO ha_writes (run, id, client_at) VALUES ($1, $2, $3) RETURNING host(inet_server_addr()) AS server',
      [o.run, n, new Date(started)],
    );
    const address = r.rows[0]?.server ?? '?';
    acks.push({ id: n, at: Date.now(), server: o.serverName ? o.serverName(address) : address });
  });
  return { run: o.run, acks, errors, stop: () => loop.stop() };
}

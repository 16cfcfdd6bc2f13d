import { startPacedLoop } from './paced-loop.js';
import type { SocketTarget } from './pg-socket.js';
import type { LoadError } from './write-load.js';

/** One successful read through the reader port. */
export interface Read {
  at: number;
  server: string;
  /** The highest id of the writer's run the replica had. */
  seen: number;
}

/** The running reader. */
export interface ReadLoad {
  readonly reads: Read[];
  readonly errors: LoadError[];
  stop(): Promise<void>;
}

/**
 * Reads the writer's progress every `intervalMs` through `target` (HAProxy's reader socket),
 * reconnecting after errors: shows which replica answers and how far behind it is.
 *
 * @example
 * ```ts
 * import { startReader } from '@pgtools/ha-scenarios';
 * const reader = startReader({ target: cluster.readerTarget, run: 's1' });
 * await reader.stop();
 * ```
 */
export function startReader(o: {
  target: SocketTarget;
  run: string;
  intervalMs?: number;
  timeoutMs?: number;
  serverName?: (address: string) => string;
  maxDurationMs?: number;
}): ReadLoad {
  const reads: Read[] = [];
  const errors: LoadError[] = [];
  const loop = startPacedLoop({ ...o, applicationName: 'ha-scenarios-reader', errors }, async (client) => {
    const r = await client.query<{ server: string | null; seen: number | null }>(
      'SELECT host(inet_server_addr()) AS server, (SELECT max(id) FROM ha_writes WHERE run = $1) AS seen',
      [o.run],
    );
    const address = r.rows[0]?.server ?? '?';
    reads.push({ at: Date.now(), server: o.serverName ? o.serverName(address) : address, seen: Number(r.rows[0]?.seen ?? 0) });
  });
  return { reads, errors, stop: () => loop.stop() };
}

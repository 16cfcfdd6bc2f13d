import type { SocketTarget } from './pg-socket.js';
import { socketQuery } from './pg-socket.js';
import type { Ack } from './write-load.js';

/**
 * The acknowledged writes of `run` that `primary` (the final leader, asked on its own unix socket)
 * does not have, oldest first. Retries briefly when the server is still settling.
 *
 * @example
 * ```ts
 * import { findLostWrites } from '@pgtools/ha-scenarios';
 * const lost = await findLostWrites(leader, writer.run, writer.acks);
 * ```
 */
export async function findLostWrites(primary: SocketTarget, run: string, acks: readonly Ack[]): Promise<Ack[]> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      const rows = await socketQuery<{ id: number }>(primary, 'SELECT id FROM ha_writes WHERE run = $1', [run], 10_000);
      const present = new Set(rows.map((r) => r.id));
      return acks.filter((a) => !present.has(a.id)).sort((a, b) => a.id - b.id);
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw new Error(`cannot read ha_writes on the final primary: ${(lastError as Error).message}`);
}

import type pg from 'pg';
import { connectSocket, dropClient, type SocketTarget } from './pg-socket.js';

/** A failed attempt. */
export interface LoadError {
  at: number;
  message: string;
}

/**
 * Runs `step` every `intervalMs` on one connection to `target`, re-established after any error
 * (each error recorded), until stopped or `maxDurationMs` (a safety stop) has passed. The writer
 * and the reader are this loop with different statements.
 *
 * @example
 * ```ts
 * const loop = startPacedLoop({ target, applicationName: 'probe', errors: [] }, async (c) => { await c.query('SELECT 1'); });
 * await loop.stop();
 * ```
 */
export function startPacedLoop(
  o: { target: SocketTarget; applicationName: string; errors: LoadError[]; intervalMs?: number; timeoutMs?: number; maxDurationMs?: number },
  step: (client: pg.Client, started: number) => Promise<void>,
): { stop(): Promise<void> } {
  const intervalMs = o.intervalMs ?? 100;
  const deadline = Date.now() + (o.maxDurationMs ?? 15 * 60_000);
  let stopping = false;
  const loop = (async () => {
    let client: pg.Client | undefined;
    while (!stopping && Date.now() < deadline) {
      const started = Date.now();
      try {
        client ??= await connectSocket(o.target, o.applicationName, o.timeoutMs ?? 2000);
        await step(client, started);
      } catch (err) {
        o.errors.push({ at: Date.now(), message: (err as Error).message.split('\n')[0] ?? '' });
        if (client) dropClient(client);
        client = undefined;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
    }
    if (client) dropClient(client);
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

import type { ScenarioNode } from './scenario-node.js';

/**
 * Polls the primary's `pg_stat_replication` (on its own unix socket) until `member` streams from it;
 * resolves with the time that was first seen, or undefined after `timeoutMs`. Both agents name the
 * replication connection after the member, so this measures a rejoin the same way for each.
 *
 * @example
 * ```ts
 * import { waitStreaming } from '@pgtools/ha-scenarios';
 * const startedAt = Date.now();
 * oldPrimary.startAgent();
 * const at = await waitStreaming(newPrimary, oldPrimary.name, 120_000);
 * if (at) console.log(`rejoined after ${at - startedAt} ms`);
 * ```
 */
export async function waitStreaming(primary: ScenarioNode, member: string, timeoutMs: number, intervalMs = 100): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const rows = await primary.query<{ ok: number }>(
        "SELECT 1 AS ok FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
        [member],
        1500,
      );
      if (rows.length > 0) return Date.now();
    } catch {
      // The primary restarting or busy: look again.
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return undefined;
}

import type { EtcdDcs, HistoryEntry } from '@pgtools/dcs';
import { withConnection } from '../postgres/pg-connection.js';
import type { PostgresControl } from '../postgres/postgres-control.js';
import type { AgentRunState } from './agent-state.js';
import { parseTimelineHistory } from './timeline-history.js';

/**
 * After a promotion to `timeline`: appends the switches of its timeline history file that the
 * `history` key lacks (Patroni's `[timeline, lsn, reason, timestamp, new leader]` lines).
 *
 * @example
 * ```ts
 * await writeHistory({ state, pg, dcs }, 3);
 * ```
 */
export async function writeHistory(d: { state: AgentRunState; pg: PostgresControl; dcs: EtcdDcs }, timeline: number): Promise<void> {
  const { dcs, pg } = d;
  const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
  const text = await withConnection(pg.localEndpoint(), async (c) => (await c.query<{ t: string }>('SELECT pg_read_file($1) AS t', [file])).rows[0]?.t ?? '');
  const switches = parseTimelineHistory(text);
  const view = await dcs.loadCluster();
  const existing: HistoryEntry[] = view.history?.value ?? [];
  const known = new Set(existing.map((e) => e[0]));
  const lines = [...existing];
  const ts = new Date().toISOString().replace('Z', '+00:00');
  for (const s of switches) if (!known.has(s.timeline)) lines.push([s.timeline, s.lsn, s.reason, ts, d.state.name]);
  if (lines.length > existing.length) await dcs.setHistory(lines);
}

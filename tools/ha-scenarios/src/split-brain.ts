import type pg from 'pg';
import { connectSocket, dropClient, type SocketTarget } from './pg-socket.js';

/** A node's own PostgreSQL, written to directly (not through HAProxy). */
export interface ProbeTarget extends SocketTarget {
  name: string;
}

/** A direct write a node acknowledged. */
export interface Acceptance {
  node: string;
  round: number;
  startedAt: number;
  ackedAt: number;
}

/** The detector's verdict. */
export interface SplitBrainReport {
  rounds: number;
  acceptances: Acceptance[];
  splitBrain: boolean;
  /** Why, in words (empty without split brain). */
  evidence: string[];
}

/** The probe table (created by `startScenarioCluster`). */
export const PROBE_TABLE_DDL =
  'CREATE TABLE IF NOT EXISTS ha_probe (node text NOT NULL, round int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())';

/**
 * Decides split brain from the acknowledged direct writes: two nodes accepting in the same round,
 * or acceptance interleaving in time (node A, then B, then A again: A was still writable after B
 * had become writable).
 *
 * @example
 * ```ts
 * import { analyzeAcceptances } from '@pgtools/ha-scenarios';
 * analyzeAcceptances([{ node: 'a', round: 1, startedAt: 0, ackedAt: 1 }, { node: 'b', round: 1, startedAt: 0, ackedAt: 2 }]).splitBrain; // true
 * ```
 */
export function analyzeAcceptances(acceptances: readonly Acceptance[], o: { leadershipMayReturn?: boolean } = {}): { splitBrain: boolean; evidence: string[] } {
  const evidence: string[] = [];
  const byRound = new Map<number, Set<string>>();
  for (const a of acceptances) {
    const set = byRound.get(a.round) ?? new Set<string>();
    set.add(a.node);
    byRound.set(a.round, set);
  }
  for (const [round, set] of [...byRound.entries()].sort((x, y) => x[0] - y[0])) {
    if (set.size > 1 && evidence.length < 5) evidence.push(`round ${round}: ${[...set].sort().join(' and ')} both accepted a direct write`);
  }
  const runs: Array<{ node: string; from: number; to: number }> = [];
  for (const a of [...acceptances].sort((x, y) => x.ackedAt - y.ackedAt)) {
    const last = runs.at(-1);
    if (last && last.node === a.node) last.to = a.ackedAt;
    else runs.push({ node: a.node, from: a.ackedAt, to: a.ackedAt });
  }
  for (let i = 0; i < runs.length && evidence.length < 10; i++) {
    const current = runs[i]!;
    let j = i - 1;
    while (j >= 0 && runs[j]!.node !== current.node) j--;
    if (j >= 0) {
      const between = runs.slice(j + 1, i).map((r) => r.node);
      // A sequence of faults may hand the lead back (A, then B, then A once B is dead): that is
      // no split brain when no node in between accepts again after the return (overlaps show up
      // as one round accepted by two nodes, checked above).
      if (o.leadershipMayReturn && !runs.slice(i + 1).some((r) => between.includes(r.node))) continue;
      evidence.push(`${current.node} accepted at ${new Date(current.from).toISOString()} after ${[...new Set(between)].join(', ')} had accepted (interleaved)`);
    }
  }
  return { splitBrain: evidence.length > 0, evidence };
}

/** The running detector. */
export interface SplitBrainDetector {
  /** The verdict so far. */
  report(): SplitBrainReport;
  /** Stops, waits for attempts in flight (bounded by the attempt timeout), returns the verdict. */
  stop(): Promise<SplitBrainReport>;
}

/**
 * Every `intervalMs`, tries one direct INSERT on every node at once (each through its own unix
 * socket, so a partitioned node is still probed) and records which nodes acknowledged it. A node
 * whose previous attempt is still pending is skipped that round; an attempt is abandoned after
 * `timeoutMs` (a COMMIT waiting for a synchronous standby counts as not accepted).
 *
 * @example
 * ```ts
 * import { startSplitBrainDetector } from '@pgtools/ha-scenarios';
 * const detector = startSplitBrainDetector(cluster.nodes);
 * // ... fault and recovery ...
 * const { splitBrain, evidence } = await detector.stop();
 * ```
 */
export function startSplitBrainDetector(
  targets: readonly ProbeTarget[],
  o: { intervalMs?: number; timeoutMs?: number; maxRounds?: number; leadershipMayReturn?: boolean } = {},
): SplitBrainDetector {
  const intervalMs = o.intervalMs ?? 100;
  const timeoutMs = o.timeoutMs ?? 1000;
  const maxRounds = o.maxRounds ?? 20_000;
  const acceptances: Acceptance[] = [];
  const clients = new Map<string, pg.Client>();
  const pending = new Map<string, Promise<void>>();
  let round = 0;
  let stopping = false;

  const attempt = async (t: ProbeTarget, r: number): Promise<void> => {
    const startedAt = Date.now();
    let client = clients.get(t.name);
    try {
      if (!client) {
        client = await connectSocket(t, 'ha-scenarios-probe', timeoutMs);
        clients.set(t.name, client);
      }
      await client.query('INSERT INTO ha_probe (node, round) VALUES ($1, $2)', [t.name, r]);
      acceptances.push({ node: t.name, round: r, startedAt, ackedAt: Date.now() });
    } catch {
      // A replica refuses (read only), a dead server refuses the connection: not accepted.
      if (client) dropClient(client);
      clients.delete(t.name);
    }
  };

  const loop = (async () => {
    while (!stopping && round < maxRounds) {
      round++;
      for (const t of targets) {
        if (pending.has(t.name)) continue;
        const p = attempt(t, round).finally(() => pending.delete(t.name));
        pending.set(t.name, p);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();

  const report = (): SplitBrainReport => ({
    rounds: round,
    acceptances: [...acceptances],
    ...analyzeAcceptances(acceptances, { leadershipMayReturn: o.leadershipMayReturn === true }),
  });
  return {
    report,
    async stop() {
      stopping = true;
      await loop;
      await Promise.race([Promise.allSettled([...pending.values()]), new Promise((r) => setTimeout(r, timeoutMs + 500))]);
      for (const c of clients.values()) dropClient(c);
      clients.clear();
      return report();
    },
  };
}

import type { ScenarioNode } from './scenario-node.js';
import type { WriteLoad } from './write-load.js';

/** A settled cluster: one leader, every other node a streaming replica. */
export interface Converged {
  leader: string;
  replicas: string[];
  /** The leader's current timeline (from its WAL file name). */
  timeline: number;
  /** When convergence was seen (ms since the epoch). */
  at: number;
}

/** What `checkConvergence` found: converged, or why not. */
export type ConvergenceCheck = { ok: true; converged: Converged } | { ok: false; reason: string };

interface ClusterJson {
  members?: Array<{ name?: string; role?: string; state?: string; timeline?: number }>;
}

/**
 * One look at the cluster. Converged means: exactly one node's PostgreSQL is out of recovery (asked
 * on every node's own unix socket); its REST `/cluster` lists every node, it as `leader`, the others
 * as replicas `streaming` (or `running`, Patroni 3.0.2's word); `GET /primary` answers 200 on it and
 * `GET /replica` on the others (what HAProxy checks); `pg_stat_replication` on it shows every other
 * node streaming; and, with `writer`, a write through HAProxy was acknowledged by it at or after
 * `writesSince`.
 *
 * @example
 * ```ts
 * import { checkConvergence } from '@pgtools/ha-scenarios';
 * const c = await checkConvergence(cluster.nodes);
 * if (!c.ok) console.log(c.reason);
 * ```
 */
export async function checkConvergence(nodes: readonly ScenarioNode[], o: { writer?: WriteLoad; writesSince?: number } = {}): Promise<ConvergenceCheck> {
  const roles = await Promise.all(
    nodes.map(async (n) => {
      try {
        const [row] = await n.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r', [], 1500);
        return row?.r;
      } catch {
        return undefined;
      }
    }),
  );
  const down = nodes.filter((_, i) => roles[i] === undefined).map((n) => n.name);
  if (down.length > 0) return { ok: false, reason: `PostgreSQL not answering on ${down.join(', ')}` };
  const primaries = nodes.filter((_, i) => roles[i] === false);
  if (primaries.length !== 1) return { ok: false, reason: `${primaries.length} nodes out of recovery (${primaries.map((n) => n.name).join(', ')})` };
  const leader = primaries[0]!;
  const others = nodes.filter((n) => n !== leader);

  let cluster: ClusterJson;
  try {
    const res = await leader.rest('GET', '/cluster');
    if (res.status !== 200) return { ok: false, reason: `GET /cluster on ${leader.name}: ${res.status}` };
    cluster = JSON.parse(res.body) as ClusterJson;
  } catch (err) {
    return { ok: false, reason: `GET /cluster on ${leader.name}: ${(err as Error).message}` };
  }
  const members = cluster.members ?? [];
  const asLeader = members.find((m) => m.role === 'leader');
  if (members.length !== nodes.length || asLeader?.name !== leader.name) {
    return { ok: false, reason: `/cluster: ${JSON.stringify(members.map((m) => [m.name, m.role, m.state]))}` };
  }
  const badReplica = others.find((n) => {
    const m = members.find((x) => x.name === n.name);
    // `quorum_standby` is Patroni 4's role for a voter under `synchronous_mode: quorum`.
    return !m || !['replica', 'sync_standby', 'quorum_standby'].includes(m.role ?? '') || !['streaming', 'running'].includes(m.state ?? '');
  });
  if (badReplica) return { ok: false, reason: `/cluster: ${JSON.stringify(members.map((m) => [m.name, m.role, m.state]))}` };

  const checks = await Promise.all([
    leader.rest('GET', '/primary').then(
      (r) => r.status,
      () => 0,
    ),
    ...others.map((n) =>
      n.rest('GET', '/replica').then(
        (r) => r.status,
        () => 0,
      ),
    ),
  ]);
  if (checks[0] !== 200) return { ok: false, reason: `GET /primary on ${leader.name}: ${checks[0]}` };
  const notReplica = others.filter((_, i) => checks[i + 1] !== 200).map((n) => n.name);
  if (notReplica.length) return { ok: false, reason: `GET /replica not 200 on ${notReplica.join(', ')}` };

  let streaming: string[];
  let timeline: number;
  try {
    const rows = await leader.query<{ application_name: string; state: string }>('SELECT application_name, state FROM pg_stat_replication');
    streaming = rows.filter((r) => r.state === 'streaming').map((r) => r.application_name);
    const [tl] = await leader.query<{ tl: number }>("SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tl");
    timeline = tl!.tl;
  } catch (err) {
    return { ok: false, reason: `leader ${leader.name}: ${(err as Error).message}` };
  }
  const missing = others.filter((n) => !streaming.includes(n.name)).map((n) => n.name);
  if (missing.length) return { ok: false, reason: `not streaming from ${leader.name}: ${missing.join(', ')}` };

  if (o.writer) {
    const since = o.writesSince ?? 0;
    if (!o.writer.acks.some((a) => a.server === leader.name && a.at >= since)) {
      return { ok: false, reason: `no write through HAProxy acknowledged by ${leader.name} yet` };
    }
  }
  return { ok: true, converged: { leader: leader.name, replicas: others.map((n) => n.name), timeline, at: Date.now() } };
}

/**
 * Polls `checkConvergence` until it holds; throws with the last reason and the agents' log tails
 * after `timeoutMs`.
 *
 * @example
 * ```ts
 * import { waitConverged } from '@pgtools/ha-scenarios';
 * const { leader, timeline } = await waitConverged(cluster.nodes, { timeoutMs: 90_000, writer });
 * ```
 */
export async function waitConverged(
  nodes: readonly ScenarioNode[],
  o: { timeoutMs?: number; intervalMs?: number; writer?: WriteLoad; writesSince?: number } = {},
): Promise<Converged> {
  const timeoutMs = o.timeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  let last = 'not checked';
  for (let i = 0; i < 10_000; i++) {
    const c = await checkConvergence(nodes, o);
    if (c.ok) return c.converged;
    last = c.reason;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 500));
  }
  const logs = nodes.map((n) => `--- ${n.name}\n${n.logTail(15)}`).join('\n');
  throw new Error(`the cluster did not converge within ${timeoutMs} ms: ${last}\n${logs}`);
}

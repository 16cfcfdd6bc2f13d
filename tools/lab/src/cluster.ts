import pg from 'pg';
import type { LabNode, LabState } from './state.js';
import { isSameProcess, postmasterOf } from './proc.js';

/** What one node says about itself (`GET /patroni`), plus what the lab knows of its processes. */
export interface NodeView {
  name: string;
  agentAlive: boolean;
  postmasterPid: number | undefined;
  reachable: boolean;
  role: string | undefined;
  state: string | undefined;
  timeline: number | undefined;
  /** `OPTIONS /primary` answered 200. */
  primaryCheck: boolean;
  /** `OPTIONS /replica` answered 200. */
  replicaCheck: boolean;
}

async function rest(node: LabNode, method: string, path: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, { method, signal: AbortSignal.timeout(1500) });
    return { status: res.status, body: method === 'GET' ? await res.text() : '' };
  } catch {
    return undefined;
  }
}

/**
 * Asks every node's REST API (`GET /patroni`, `OPTIONS /primary`, `OPTIONS /replica`).
 *
 * @example
 * ```ts
 * const views = await observeNodes(state);
 * const leader = views.find((v) => v.primaryCheck);
 * ```
 */
export async function observeNodes(state: LabState): Promise<NodeView[]> {
  return Promise.all(
    state.nodes.map(async (node) => {
      const [info, primary, replica] = await Promise.all([rest(node, 'GET', '/patroni'), rest(node, 'OPTIONS', '/primary'), rest(node, 'OPTIONS', '/replica')]);
      let body: Record<string, unknown> = {};
      try {
        body = info ? (JSON.parse(info.body) as Record<string, unknown>) : {};
      } catch {
        // not JSON: treat as unknown
      }
      return {
        name: node.name,
        agentAlive: isSameProcess(node.agent),
        postmasterPid: postmasterOf(node.dataDir)?.pid,
        reachable: info !== undefined,
        role: typeof body.role === 'string' ? body.role : undefined,
        state: typeof body.state === 'string' ? body.state : undefined,
        timeline: typeof body.timeline === 'number' ? body.timeline : undefined,
        primaryCheck: primary?.status === 200,
        replicaCheck: replica?.status === 200,
      };
    }),
  );
}

/**
 * Runs one query on a node's PostgreSQL directly (not through HAProxy).
 *
 * @example
 * ```ts
 * const [row] = await nodeQuery<{ ok: number }>(state.nodes[0]!.pgPort, 'SELECT 1 AS ok');
 * ```
 */
export async function nodeQuery<R extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<R[]> {
  return queryOnce({ host: '127.0.0.1', port, password: 'postgres' }, text, params);
}

async function queryOnce<R extends pg.QueryResultRow>(where: { host: string; port: number; password?: string }, text: string, params: unknown[]): Promise<R[]> {
  const client = new pg.Client({ ...where, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000, query_timeout: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Runs one query on a node's PostgreSQL through its unix socket in the node's directory: it works
 * while the node is cut off the network (filesystem sockets are not namespaced).
 *
 * @example
 * ```ts
 * const [row] = await socketQuery<{ r: boolean }>(state.nodes[0]!, 'SELECT pg_is_in_recovery() AS r');
 * ```
 */
export async function socketQuery<R extends pg.QueryResultRow>(node: LabNode, text: string, params: unknown[] = []): Promise<R[]> {
  return queryOnce({ host: node.dir, port: node.pgPort }, text, params);
}

/** The cluster is settled when exactly one node is the writable leader and `expected` others stream from it. */
export interface Health {
  settled: boolean;
  leader: string | undefined;
  streaming: string[];
  reason: string;
}

/**
 * Checks one leader (HAProxy's `/primary` check passes on exactly one node) and which of the other
 * nodes stream from it (`pg_stat_replication` on the leader).
 *
 * @example
 * ```ts
 * const h = await clusterHealth(state, ['node1', 'node2', 'node3']);
 * if (h.settled) console.log('leader', h.leader);
 * ```
 */
export async function clusterHealth(state: LabState, expectReplicas: readonly string[]): Promise<Health> {
  const views = await observeNodes(state);
  const leaders = views.filter((v) => v.primaryCheck);
  if (leaders.length !== 1) return { settled: false, leader: undefined, streaming: [], reason: `${leaders.length} nodes pass the /primary check` };
  const leader = leaders[0]!;
  const node = state.nodes.find((n) => n.name === leader.name)!;
  let rows: Array<{ application_name: string; state: string }> = [];
  try {
    rows = await nodeQuery(node.pgPort, 'SELECT application_name, state FROM pg_stat_replication');
  } catch (err) {
    return { settled: false, leader: leader.name, streaming: [], reason: `leader ${leader.name} not reachable: ${(err as Error).message}` };
  }
  const streaming = rows.filter((r) => r.state === 'streaming').map((r) => r.application_name);
  const missing = expectReplicas.filter((n) => n !== leader.name && !streaming.includes(n));
  // A replica must also pass HAProxy's /replica check, or the reader port has nowhere to go.
  const notReady = expectReplicas.filter((n) => n !== leader.name && !views.find((v) => v.name === n)?.replicaCheck);
  const settled = missing.length === 0 && notReady.length === 0;
  return {
    settled,
    leader: leader.name,
    streaming,
    reason: settled ? 'settled' : `waiting for ${[...new Set([...missing, ...notReady])].join(', ')} to stream from ${leader.name}`,
  };
}

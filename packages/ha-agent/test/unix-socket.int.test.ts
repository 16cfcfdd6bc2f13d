import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@pgtools/testkit';
import { HaCluster, type HaNode } from './ha-cluster.js';

// use_unix_socket / use_unix_socket_repl on real servers: with log_connections and %h in the log
// line prefix, every connection the agents make to their own server is logged as from [local].
const SCOPE = 'unix-socket';
// check_timeline makes a replica ask its own server for its timeline over a replication connection.
const sockets = (yaml: string): string =>
  yaml
    .replace(
      /(\n  parameters: \{unix_socket_directories[^\n}]*)\}/,
      `$1, log_connections: "on", log_line_prefix: "%h %u "}\n  use_unix_socket: true\n  use_unix_socket_repl: true`,
    )
    .replace(/^( {4}retry_timeout: .*)$/m, '$1\n    check_timeline: true');

let cluster: HaCluster;
let leader: HaNode;
let replica: HaNode;

beforeAll(async () => {
  cluster = await HaCluster.start({ scope: SCOPE, editYaml: sockets }, 2);
  leader = await cluster.waitForHealthy(cluster.nodes, 90_000);
  replica = cluster.nodes.find((n) => n !== leader)!;
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
});

/** The `host user` prefixes of the agent's own connections to `node`, from its server log. */
function agentConnections(node: HaNode): string[] {
  const log = readFileSync(join(node.dir.path, 'postgres.log'), 'utf8');
  return log
    .split('\n')
    .filter((l) => /connection authorized: .*application_name=pgtools-ha-agent/.test(l))
    .map((l) => l.split(' ').slice(0, 2).join(' '));
}

describe('use_unix_socket and use_unix_socket_repl', () => {
  it('each agent reaches its own server as the superuser only through the socket', async () => {
    await new Promise((r) => setTimeout(r, 3000)); // a few HA cycles
    for (const node of [leader, replica]) {
      const seen = agentConnections(node);
      expect(seen.length).toBeGreaterThan(0);
      expect(new Set(seen)).toEqual(new Set(['[local] postgres']));
    }
  });

  it('in a race (the leader stopped), the replica reads its timeline over the socket as the replication user, then leads', async () => {
    await leader.agent.stop();
    await waitFor(() => replica.agent.holdsLeaderKey && replica.agent.role === 'primary', { timeoutMs: 60_000, describe: () => 'the replica takes over' });
    expect(new Set(agentConnections(replica))).toEqual(new Set(['[local] postgres', '[local] replicator']));
  });
});

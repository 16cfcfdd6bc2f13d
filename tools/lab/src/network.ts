import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostCommands, switchCommands } from '@pgtools/testkit';

/**
 * The lab's own network when it runs with `--netns`: one namespace per node host, one for the
 * client side (HAProxy's connections and `lab hactl` start there), joined by a bridge in a switch
 * namespace. Nothing is added to the machine's own network: HAProxy listens on 127.0.0.1 in the
 * root namespace and opens its server connections inside the client namespace (`namespace` on its
 * server lines). Unlike the test kit's networks these outlive the `lab up` process; `lab down`
 * deletes them.
 */
export interface LabNetwork {
  subnet: string;
  switchNs: string;
  client: { netns: string; address: string };
  hosts: Array<{ name: string; netns: string; address: string; switchPort: string }>;
}

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: 'pipe' });
};

/** Network namespaces that exist now (`ip netns list`). */
export function existingNamespaces(): Set<string> {
  try {
    return new Set(
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .split('\n')
        .map((l) => l.split(' ')[0]!)
        .filter(Boolean),
    );
  } catch {
    return new Set();
  }
}

/**
 * Why namespaces cannot be used here, or undefined when they can (root and iproute2).
 *
 * @example
 * ```ts
 * const why = netnsUnavailable();
 * if (why) console.error(why);
 * ```
 */
export function netnsUnavailable(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root (run `sudo pnpm lab up --netns`)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'pipe' });
  } catch {
    return 'iproute2 (`ip`) not found: apt-get install iproute2';
  }
  return undefined;
}

/**
 * Names and addresses of the lab's network (nothing is created). Names derive from the lab
 * directory, so two labs in two directories never share namespaces.
 *
 * @example
 * ```ts
 * const net = planNetwork('/tmp/play/.lab', ['node1', 'node2', 'node3']);
 * net.hosts[0]!.address; // '10.252.0.1'
 * ```
 */
export function planNetwork(labDir: string, nodeNames: readonly string[]): LabNetwork {
  // Namespace names become interface-free file names under /run/netns; keep them short.
  const tag = `pgl${createHash('sha1').update(labDir).digest('hex').slice(0, 6)}`;
  const subnet = '10.252.0';
  return {
    subnet,
    switchNs: `${tag}-sw`,
    client: { netns: `${tag}-cl`, address: `${subnet}.100` },
    hosts: nodeNames.map((name, i) => ({ name, netns: `${tag}-${name}`, address: `${subnet}.${i + 1}`, switchPort: `p${i + 1}` })),
  };
}

function run(commands: string[][]): void {
  for (const args of commands) ip(...args);
}

/**
 * Creates the namespaces of `net` that do not exist yet (a restarted `lab up` keeps the ones its
 * running processes live in). Throws with the `ip` error when one cannot be created.
 *
 * @example
 * ```ts
 * createLabNetwork(planNetwork(dir, ['node1', 'node2', 'node3']));
 * ```
 */
export function createLabNetwork(net: LabNetwork): void {
  const existing = existingNamespaces();
  if (!existing.has(net.switchNs)) {
    // A half-built earlier network cannot be completed link by link: start over.
    removeLabNetwork(net);
    run(switchCommands(net.switchNs));
  }
  const now = existingNamespaces();
  if (!now.has(net.client.netns)) run(hostCommands(net.switchNs, net.client.netns, net.client.address, 'pc'));
  for (const h of net.hosts) if (!now.has(h.netns)) run(hostCommands(net.switchNs, h.netns, h.address, h.switchPort));
}

/**
 * Deletes every namespace of `net` (their links go with them). Stop the processes inside first.
 *
 * @example
 * ```ts
 * removeLabNetwork(state.network!);
 * ```
 */
export function removeLabNetwork(net: LabNetwork): string[] {
  const existing = existingNamespaces();
  const removed: string[] = [];
  for (const ns of [...net.hosts.map((h) => h.netns), net.client.netns, net.switchNs]) {
    if (!existing.has(ns)) continue;
    try {
      ip('netns', 'del', ns);
      removed.push(ns);
    } catch {
      // reported by the caller through what is left in `ip netns list`
    }
  }
  return removed;
}

/**
 * Pulls (or plugs back) a node host's cable: its link to the switch goes down, so it loses every
 * connection to etcd, the other nodes and HAProxy; its processes keep running.
 *
 * @example
 * ```ts
 * setLinkUp(net, 'node1', false); // partition
 * setLinkUp(net, 'node1', true);  // heal
 * ```
 */
export function setLinkUp(net: LabNetwork, nodeName: string, up: boolean): void {
  const host = net.hosts.find((h) => h.name === nodeName);
  if (!host) throw new Error(`no host for ${nodeName} in the lab network`);
  ip('-n', net.switchNs, 'link', 'set', host.switchPort, up ? 'up' : 'down');
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { netnsExec } from './netns-exec.js';
import { startReaper } from './process.js';

const run = promisify(execFile);
const ip = async (...args: string[]): Promise<void> => {
  await run('ip', args);
};

/** One test host: a network namespace with its own loopback and one address on the test network. */
export interface NetHost {
  /** 1-based index, also the last byte of its address. */
  readonly index: number;
  /** The namespace name (pass as `netns` to `spawnManaged`). */
  readonly netns: string;
  /** Its address on the test network, e.g. `10.251.0.1`. */
  readonly address: string;
  /** Cuts this host off the network (its link to the switch goes down); its processes keep running. */
  partition(): Promise<void>;
  /** Reconnects it. */
  heal(): Promise<void>;
  /** Runs a short command inside the namespace (as root). */
  exec(command: string, args: string[]): Promise<string>;
}

export interface TestNetwork {
  readonly hosts: NetHost[];
  /** Deletes every namespace (which removes their links and kills nothing: stop processes first). */
  destroy(): Promise<void>;
}

let networkCounter = 0;

/**
 * The `ip` arguments that create a switch namespace with a bridge `br0` (run them in order).
 *
 * @example
 * ```ts
 * for (const args of switchCommands('lab-sw')) execFileSync('ip', args);
 * ```
 */
export function switchCommands(switchNs: string): string[][] {
  return [
    ['netns', 'add', switchNs],
    ['-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge'],
    ['-n', switchNs, 'link', 'set', 'br0', 'up'],
    ['-n', switchNs, 'link', 'set', 'lo', 'up'],
  ];
}

/**
 * The `ip` arguments that create host namespace `netns` with `eth0` at `address/24`, cabled by a
 * veth pair to port `switchPort` of the bridge in `switchNs` (taking that port down is a partition).
 *
 * @example
 * ```ts
 * for (const args of hostCommands('lab-sw', 'lab-h1', '10.252.0.1', 'p1')) execFileSync('ip', args);
 * ```
 */
export function hostCommands(switchNs: string, netns: string, address: string, switchPort: string): string[][] {
  return [
    ['netns', 'add', netns],
    ['-n', netns, 'link', 'set', 'lo', 'up'],
    // The pair is created inside the host namespace, then one end moves to the switch.
    ['-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', switchPort],
    ['-n', netns, 'link', 'set', switchPort, 'netns', switchNs],
    ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'],
    ['-n', netns, 'link', 'set', 'eth0', 'up'],
    ['-n', switchNs, 'link', 'set', switchPort, 'master', 'br0'],
    ['-n', switchNs, 'link', 'set', switchPort, 'up'],
  ];
}

/**
 * Hosts in network namespaces of our own, joined by veth pairs to a bridge that lives in one more
 * namespace (nothing is added to the machine's own network). Partitions are real: a host whose
 * link is down loses every connection to the others, as when a cable is pulled. Needs root and iproute2.
 *
 * @example
 * ```ts
 * const net = await createNetwork({ hosts: 3 });
 * const etcd = await startEtcd({ members: 3, network: net });
 * await net.hosts[0]!.partition();
 * // ...
 * await net.hosts[0]!.heal();
 * await etcd.destroy();
 * await net.destroy();
 * ```
 */
export async function createNetwork({ hosts = 3, subnet = '10.251.0' }: { hosts?: number; subnet?: string } = {}): Promise<TestNetwork> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('network namespaces need root; run the partition tests as root (CI does)');
  }
  const tag = `pgt${process.pid % 100000}n${++networkCounter}`;
  const switchNs = `${tag}-sw`;
  const names = Array.from({ length: hosts }, (_, i) => `${tag}-h${i + 1}`);
  const reaper = startReaper({ netns: [switchNs, ...names] });
  const created: string[] = [];
  try {
    const [addSwitch, ...setupSwitch] = switchCommands(switchNs);
    await ip(...addSwitch!);
    created.push(switchNs);
    for (const args of setupSwitch) await ip(...args);
    const result: NetHost[] = [];
    for (const [i, ns] of names.entries()) {
      const index = i + 1;
      const address = `${subnet}.${index}`;
      const port = `p${index}`;
      const [addHost, ...setupHost] = hostCommands(switchNs, ns, address, port);
      await ip(...addHost!);
      created.push(ns);
      for (const args of setupHost) await ip(...args);
      result.push({
        index,
        netns: ns,
        address,
        partition: () => ip('-n', switchNs, 'link', 'set', port, 'down'),
        heal: () => ip('-n', switchNs, 'link', 'set', port, 'up'),
        exec: async (command, args) => (await run('ip', ['netns', 'exec', ns, command, ...args])).stdout,
      });
    }
    let destroyed = false;
    return {
      hosts: result,
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        for (const ns of [...created].reverse()) await ip('netns', 'del', ns).catch(() => {});
        reaper.dismiss();
      },
    };
  } catch (err) {
    for (const ns of created.reverse()) await ip('netns', 'del', ns).catch(() => {});
    reaper.dismiss();
    throw err;
  }
}

export { netnsExec };

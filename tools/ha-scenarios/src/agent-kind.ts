import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageDirFor, type OsUser } from '@pgtools/testkit';

/** Which HA agent runs on the nodes: pgtools' `ha-agent`, or Patroni (Debian's 3.0.2) for the side-by-side. */
export type AgentKind = 'ha-agent' | 'patroni';

const require = createRequire(import.meta.url);

/**
 * The command line that runs `kind` with a node's configuration file (both read the same
 * Patroni YAML). `PATRONI_BIN` overrides where Patroni is. Run as another OS `user`, ha-agent
 * starts from a copy that user can read (the checkout may be in /root).
 *
 * @example
 * ```ts
 * import { agentCommand } from '@pgtools/ha-scenarios';
 * const { command, args } = agentCommand('ha-agent', '/tmp/node1/node1.yml');
 * // command: process.execPath, args: ['.../apps/ha-agent/bin/ha-agent.js', '/tmp/node1/node1.yml']
 * ```
 */
export function agentCommand(kind: AgentKind, configFile: string, user?: OsUser): { command: string; args: string[] } {
  if (kind === 'ha-agent') {
    const dir = packageDirFor('@pgtools/ha-agent-cli', join(require.resolve('@pgtools/ha-agent-cli/package.json'), '..'), user);
    return { command: process.execPath, args: [join(dir, 'bin', 'ha-agent.js'), configFile] };
  }
  const patroni = process.env.PATRONI_BIN ?? '/usr/bin/patroni';
  if (!existsSync(patroni)) throw new Error(`Patroni not found at ${patroni}: apt-get install patroni, or set PATRONI_BIN`);
  return { command: patroni, args: [configFile] };
}

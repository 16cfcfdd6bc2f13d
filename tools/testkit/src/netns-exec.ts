/**
 * The command line that runs `argv` inside a namespace, optionally as another user. `ip netns exec`
 * and `setpriv` both exec in place, so the PID spawned is the program's own.
 *
 * @example
 * ```ts
 * netnsExec('lab-h1', ['etcd', '--name', 'etcd1']); // ['ip', 'netns', 'exec', 'lab-h1', 'etcd', '--name', 'etcd1']
 * ```
 */
export function netnsExec(netns: string, argv: readonly string[], user?: { uid: number; gid: number }): string[] {
  return ['ip', 'netns', 'exec', netns, ...(user ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups'] : []), ...argv];
}

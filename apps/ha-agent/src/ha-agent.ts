import pkg from '../package.json' with { type: 'json' };

const HELP = `ha-agent keeps a PostgreSQL primary/replica cluster available (Patroni-compatible).

Usage:
  ha-agent [OPTIONS] CONFIG_FILE

  CONFIG_FILE is Patroni's YAML (scope, name, restapi, etcd3, bootstrap, postgresql, watchdog, tags);
  PATRONI_* environment variables override it. Run as the PostgreSQL OS user, never root.

Options:
  --validate-config   check the configuration file and exit
  --version           print the version and exit
  --help              show this help and exit

Signals: SIGTERM stops PostgreSQL cleanly and releases the leader key; SIGHUP reloads the configuration.
Exit codes: 0 done, 1 failed, 2 bad usage or configuration.
`;

/** Runs ha-agent with `argv` (without node and script) and resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`ha-agent ${pkg.version}\n`);
    return 0;
  }
  process.stderr.write('ha-agent: the HA loop is not wired into this build yet\n');
  return 1;
}

import pkg from '../package.json' with { type: 'json' };

const HELP = `hactl controls a pgtools/Patroni cluster (patronictl's verbs and flags).

Usage:
  hactl [-c CONFIG_FILE] [-d DCS_URL] COMMAND [ARGS]...

Commands:
  list          the members: Member | Host | Role | State | TL | Lag in MB
  topology      the members as a tree
  switchover    --leader/--master NAME --candidate NAME [--scheduled TIME] [--force]
  failover      --candidate NAME [--force]
  restart       restart PostgreSQL on members
  reinit        re-clone a replica from the leader
  pause         stop managing PostgreSQL
  resume        resume managing PostgreSQL
  show-config   print the dynamic configuration
  edit-config   -s key=value / -p pgparam=value
  history       timeline switches
  version       print the version

Options:
  -c, --config-file FILE   configuration (Patroni YAML)
  -d, --dcs-url URL        etcd address, e.g. etcd3://127.0.0.1:2379
  -f, --format FORMAT      pretty (default), json or yaml
  --help                   show this help and exit
`;

/** Runs hactl with `argv` (without node and script) and resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.length === 0) {
    process.stdout.write(HELP);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv.includes('--version') || argv[0] === 'version') {
    process.stdout.write(`hactl ${pkg.version}\n`);
    return 0;
  }
  process.stderr.write('hactl: cluster commands are not wired into this build yet\n');
  return 1;
}
